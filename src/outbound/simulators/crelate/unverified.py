"""Crelate simulator behaviour that is NOT confirmed by any public source.

Every entry here is **unverified against the live API** (see ../shared/ats/evidence-audit.md).
Where the audit found no evidence, each plausible variant is a named profile below, switched
per organisation (`/_admin/profiles`, `outbound simulate crelate --profile …`); the connector
must work under every one. The connector's twin is outbound/connectors/crelate/unverified.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from outbound.simulators.harness import Profiles

# unverified against the live API: the page-size cap (audit #24).
MAX_PAGE_SIZE = 100
# unverified against the live API: the Employee RecordType bit (1/2/4 are confirmed; #14).
EMPLOYEE_BIT = 8
# unverified against the live API: 404 with the envelope for an unknown id.
NOT_FOUND_STATUS = 404
# unverified against the live API: status code for a non-E.164 phone (Crelate refuses them).
PHONE_REJECT_STATUS = 400
# unverified against the live API: endpoints served under these paths.
ENDPOINTS = (
    "GET /users/me  (profile no_users_me removes it)",
    "GET /users  (profile no_users_me removes it)",
    "GET /lists, GET /lists/{id}/contacts  (profile no_lists removes them)",
    "GET /activities?parent_ids=  (profile activities_unlisted removes it)",
    "PUT /jobs/{jobId}/contacts/{contactId}  (profile stage_put)",
    "GET /jobs/{id}",
    "GET /jobs/{jobId}/contacts",
    "GET /contacts/info  (response shape)",
)

# The activity type names Crelate ships ("Email" among them, but orgs rename or delete it: #32).
ACTIVITY_TYPE_NAMES = ("Email", "Call", "Meeting", "Screen", "Text Message")
EMAIL_TYPE_NAMES = ("email", "e-mail")

PROFILES: dict[str, str] = {
    "no_users_me": "GET /users/me and /users do not exist (404): no public client calls them (#21)",
    "no_email_activity_type": 'no activity type named "Email" (Crelate tracks mail itself; #32)',
    "activitytypes_forbidden": "GET /activitytypes answers 403 for this key (#31, #5)",
    "stage_post": "a stage changes by re-posting POST /jobs/{id}/contacts with statusId (#30)",
    "stage_put": "a stage changes by PUT /jobs/{id}/contacts/{contactId}; re-posting a contact "
    "already on the job is refused (400) (#30; v1's form)",
    "duplicate_check_off": "the organisation's duplicate check is off: no 409 on create (#9)",
    "history_empty_list": "pipeline history of a contact not on the job is 200 [] instead of "
    "404 (#29)",
    "no_lists": "GET /lists does not exist (404): list import is unavailable (#35)",
    "activities_unlisted": "GET /activities?parent_ids= does not exist (404): activities cannot "
    "be read back (#34)",
}
DEFAULT_PROFILES: tuple[str, ...] = ("stage_post",)
EXCLUSIVE_PROFILES: tuple[tuple[str, ...], ...] = (("stage_post", "stage_put"),)


def profiles(active: Iterable[str] = ()) -> Profiles:
    chosen = Profiles(PROFILES, DEFAULT_PROFILES, EXCLUSIVE_PROFILES)
    if active:
        chosen.set(active)
    return chosen
