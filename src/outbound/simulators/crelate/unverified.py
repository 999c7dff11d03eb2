"""Crelate simulator behaviour that is NOT confirmed by any public source.

Every entry here is **unverified against the live API** ([I] in ../shared/ats/crelate.md).
The connector's twin is outbound/connectors/crelate/unverified.py: keep them in sync.
"""

from __future__ import annotations

# unverified against the live API: the page-size cap.
MAX_PAGE_SIZE = 100
# unverified against the live API: the Employee RecordType bit (1/2/4 are confirmed).
EMPLOYEE_BIT = 8
# unverified against the live API: 404 with the envelope for an unknown id.
NOT_FOUND_STATUS = 404
# unverified against the live API: status code for a non-E.164 phone (Crelate refuses them).
PHONE_REJECT_STATUS = 400
# unverified against the live API: endpoints served under these paths.
ENDPOINTS = (
    "GET /users/me",
    "GET /users",
    "GET /lists",
    "GET /lists/{id}/contacts",
    "GET /activities?parent_ids=",
    "PATCH /jobs/{jobId}/contacts?contact_ids=  (stage update form)",
    "GET /jobs/{id}",
    "GET /jobs/{jobId}/contacts",
    "GET /contacts/info  (response shape)",
)
