"""Clockwork simulator behaviour that is NOT confirmed by any public source.

Every entry here is **unverified against the live API** (../shared/ats/evidence-audit.md, Clockwork
rows marked UNKNOWN). The connector's twin is outbound/connectors/clockwork/unverified.py: keep them
in sync. Where a behaviour is unknown and more than one answer is plausible, the variants are
PROFILES below and the connector must work under each.
"""

from __future__ import annotations

from collections.abc import Iterable

from outbound.simulators.harness import Profiles

# unverified against the live API: page sizes (no total/next field is emitted) (#30, #31).
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# unverified against the live API: error statuses (#5). The body is {"message"} by default,
# a bare JSON string under the error_body_string profile.
BAD_TOKEN_STATUS = 401
BAD_FIRM_KEY_STATUS = 403
UNKNOWN_FIRM_STATUS = 404
# unverified against the live API: endpoints and fields served (#11, #12, #22-#29).
ENDPOINTS = (
    "GET /people/{id} -> {person}",
    "PATCH|PUT /people/{id}",
    "GET /people/{id}/notes items carry content",
    "POST /people/{id}/notes",
    "GET /notes/{id} -> {note}",
    "GET /projects",
    "GET /projects/{projectId}/candidacies?person_id=",
    "POST /projects/{projectId}/candidacies",
    "PATCH /candidacies/{id}",
    "GET /statuses",
    "person.createdUserId in responses",
    "people_search q matches email addresses",
)

# Each plausible variant of an unknown behaviour, switchable per firm (/_admin/profiles,
# `outbound simulate clockwork --profile …`). The connector must work under every one.
PROFILES: dict[str, str] = {
    "search_ignores_email": "people_search's q matches names only, not email addresses (#8)",
    "notes_list_without_content": "GET /people/{id}/notes items carry no content; "
    "GET /notes/{id} has it (#29)",
    "get_person_unwrapped": "GET /people/{id} answers the person itself, not {person: …} (#12)",
    "error_body_string": 'error bodies are a JSON string ("Unauthorized"), not {message} (#5)',
    "legacy_email_shape": "people also carry the v1 emailAddresses list beside emails "
    "(an older account) (#9)",
    "no_created_user_id": "people carry no createdUserId (#11)",
}
DEFAULT_PROFILES: tuple[str, ...] = ()
EXCLUSIVE_PROFILES: tuple[tuple[str, ...], ...] = ()


def profiles(active: Iterable[str] = ()) -> Profiles:
    chosen = Profiles(PROFILES, DEFAULT_PROFILES, EXCLUSIVE_PROFILES)
    if active:
        chosen.set(active)
    return chosen
