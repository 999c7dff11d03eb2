"""Clockwork simulator behaviour that is NOT confirmed by any public source.

Every entry here is **unverified against the live API** ([I] in ../shared/ats/clockwork.md).
The connector's twin is outbound/connectors/clockwork/unverified.py: keep them in sync.
"""

from __future__ import annotations

# unverified against the live API: page sizes (no total/next field is emitted).
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# unverified against the live API: error statuses and the {"message"} body.
BAD_TOKEN_STATUS = 401
BAD_FIRM_KEY_STATUS = 403
UNKNOWN_FIRM_STATUS = 404
# unverified against the live API: people_search's q also matches email addresses.
SEARCH_MATCHES_EMAIL = True
# unverified against the live API: endpoints served.
ENDPOINTS = (
    "GET /people/{id}",
    "PATCH|PUT /people/{id}",
    "POST /people/{id}/notes",
    "GET /projects",
    "GET /projects/{projectId}/candidacies?person_id=",
    "POST /projects/{projectId}/candidacies",
    "PATCH /candidacies/{id}",
    "GET /statuses",
    "person.createdUserId in responses",
)
