"""Clockwork v3.0 facts the connector relies on that are NOT confirmed.

Every entry here is **unverified against the live API**; the comment on each names its row in
../shared/ats/evidence-audit.md (Clockwork table, ``#n``) and the ``outbound doctor`` probe that
will check it against a real account (``PROBES`` at the end describes each probe).
Correct them here, in one spot, once someone checks a live account.
"""

from __future__ import annotations

# -- paths -------------------------------------------------------------------------------------

# #12, #22: get and update one person (UT lists Get; no Update anywhere; v1 used POST).
# probe: clockwork.get_person_wrapper
PERSON_PATH = "/people/{person_id}"
# probe: clockwork.update_method
UPDATE_METHOD = "PATCH"

# #7, #8: the path, q/page/limit and the peopleSearch key are confirmed (BH); that q also
# matches email addresses is not. If it does not, find-by-email finds nobody and a duplicate is
# created; a search miss looks the same as "no such person", so the connector cannot detect it.
# probe: clockwork.search_matches_email
SEARCH_PATH = "/people_search"
SEARCH_MATCHES_EMAIL = True

# #28: note creation (used to log email activity). "Email" is a valid v1 category.
# probe: clockwork.note_create
NOTES_CREATE_PATH = "/people/{person_id}/notes"
NOTE_CATEGORY = "Email"
# #29: the notes list path and its `notes` key are confirmed (BH); that items carry `content`
# and that the list takes `offset` are not. BH reads content from GET /notes/{id}.
# probe: clockwork.notes_list_content
NOTES_LIST_PATH = "/people/{person_id}/notes"
NOTES_LIST_HAS_CONTENT = True  # the connector fetches NOTE_PATH when an item lacks it
NOTE_PATH = "/notes/{note_id}"
# probe: clockwork.notes_offset
NOTES_LIST_TAKES_OFFSET = True

# #23-#27: projects, candidacies and statuses (the paths are guesses; STATUSES_PATH exists).
# probe: clockwork.pipeline_shapes
PROJECTS_PATH = "/projects"
CANDIDACIES_PATH = "/projects/{project_id}/candidacies"
CANDIDACY_UPDATE_PATH = "/candidacies/{candidacy_id}"
STATUSES_PATH = "/statuses"
# #25: filtering candidacies by person (else a project is paged through).
# probe: clockwork.candidacy_person_filter
CANDIDACY_PERSON_FILTER = "person_id"
# #8 of the audit's unverified.py review: root keys and the candidacy's person key.
# probe: clockwork.pipeline_shapes
PROJECTS_KEY = "projects"
STATUSES_KEY = "statuses"
CANDIDACIES_KEY = "candidacies"
CANDIDACY_PERSON_KEY = "personId"
CANDIDACY_STATUS_KEY = "statusId"  # the stage the person is at now

# #30, #31: default and maximum page sizes are unknown.
# probe: clockwork.page_size
PAGE_SIZE = 100

# -- person shape (review #1, #2) ----------------------------------------------------------------

# #9: v3 people carry `emails: [{address, …}]` and `preferredEmailAddress` (BH sample); the v1
# `emailAddresses` list is CONTRADICTED for v3 but still read, in case an older account sends it.
# probe: clockwork.person_shape
EMAILS_KEY = "emails"
PREFERRED_EMAIL_KEY = "preferredEmailAddress"
LEGACY_EMAILS_KEY = "emailAddresses"
# #11: the creator. The BH sample has none (`user: null`); absent means "unknown creator".
# probe: clockwork.created_user_id
CREATED_USER_KEY = "createdUserId"
# #18, #19, #20: sub-resource lists read back on a retry (the BH sample has `phoneNumbers: null`;
# `linkedinUrls` and `positions` are unseen on people).
# probe: clockwork.person_shape
PHONE_NUMBERS_KEY = "phoneNumbers"
LINKEDIN_URLS_KEY = "linkedinUrls"
POSITIONS_KEY = "positions"
# #12: GET /people/{id} wraps the person in `person` (v1 used `{data: {person}}`); the connector
# also accepts the person unwrapped.
# probe: clockwork.get_person_wrapper
PERSON_ROOT = "person"
# #13: the new id on create is `id` (PD), else `person.id`.
# probe: clockwork.get_person_wrapper
CREATED_ID_KEYS = ("id", "person.id")

# -- write names (review #3, #7) -----------------------------------------------------------------

# #14: names on create. PD sends only `name`; firstName/lastName are the read names (BH).
# probe: clockwork.person_write_names
NAME_FIELDS = ("name", "firstName", "lastName")
# #15: which person fields a mapping may write (no custom fields, #34). CONTRADICTED as
# snake_case: PD (from the SwaggerHub post_people schema) sends camelCase.
# probe: clockwork.person_write_names
PERSON_FIELDS = (
    ("firstName", "First name"),
    ("lastName", "Last name"),
    ("nickName", "Nickname"),
    ("biography", "Biography"),
    ("assistantName", "Assistant name"),
    ("skypeName", "Skype name"),
)
# #17: `location` of an email or phone sub-record. v1 had home/work/other; v3 types emails by
# `locationTypeId` UUIDs (BH), so the name may be refused or mapped.
# probe: clockwork.email_location
EMAIL_LOCATION = "work"
PHONE_LOCATION = "work"

# -- dates (review #4) ---------------------------------------------------------------------------

# #21: `createdAt` is "YYYY-MM-DD HH:MM:SS" (BH sample; CONTRADICTS the ISO-Z the connector used
# to assume). Assumed UTC (the sample has no zone; firm-local time would shift recover_create's
# window by the zone offset) and one-second resolution. ISO 8601 with Z/offset is still read.
# probe: clockwork.timestamp_format
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_ZONE = "UTC"

# -- errors (review #5) --------------------------------------------------------------------------

# #5: a bad Token → 401 and a bad firm service key → 403 (v1 evidence only); the body is
# {"message"} (or v1's {"data": {"message"}}); a bare JSON string or plain text is also read.
# probe: clockwork.error_statuses
BAD_TOKEN_STATUS = 401
BAD_FIRM_KEY_STATUS = 403
ERROR_MESSAGE_KEYS = ("message", "data.message")

# #32: 429 and Retry-After (read as seconds by base.py) are undocumented.
# probe: clockwork.rate_limit_headers
RATE_LIMIT_STATUS = 429

# -- the person's web page (the contact page's "Open in Clockwork") --------------------------------

# No Clockwork page documents it, and the only public evidence disagrees with itself: a
# prototype's build plan links people to https://{firm}.clockworkrecruiting.com/firm/people#id:{id},
# the code generated from it to .../firm/people/{id}. The plan's form is kept (an odd shape, more
# likely seen than invented); the page says the pattern is unconfirmed. Used only when the
# connection talks to Clockwork itself ({firm} is its subdomain); an administrator overrides it
# with OUTBOUND_CLOCKWORK_RECORD_URL. A web page cannot be checked over the API: the probe only
# looks for a link the person itself carries.
# probe: clockwork.record_url
RECORD_URL = "https://{firm}.clockworkrecruiting.com/firm/people#id:{id}"
RECORD_URL_HOSTS = ("api.clockworkrecruiting.com",)

# What each `outbound doctor` probe would check against a real account, read-only.
PROBES: dict[str, str] = {
    "clockwork.search_matches_email": "GET /people?limit=1, then GET /people_search?q=<its "
    "preferredEmailAddress>: that person is among the hits",
    "clockwork.person_shape": "GET /people?limit=5: items carry emails[].address and "
    "preferredEmailAddress (and whether emailAddresses, phoneNumbers, linkedinUrls, positions "
    "are present)",
    "clockwork.created_user_id": "GET /people?limit=5: items carry createdUserId",
    "clockwork.get_person_wrapper": "GET /people/{id} for a listed person: the answer is "
    "{person: {...}} (else the person itself, or {data: {person}})",
    "clockwork.update_method": "OPTIONS /people/{id} (or the SwaggerHub spec): PATCH is allowed",
    "clockwork.person_write_names": "GET /people/{id}: the writable fields read back as "
    "nickName/assistantName/skypeName/biography/firstName/lastName (camelCase)",
    "clockwork.email_location": "GET /people/{id} of a person with an email: emails[] carry "
    "locationTypeId and whether a home/work/other name is listed anywhere",
    "clockwork.timestamp_format": "GET /people?limit=1: createdAt matches YYYY-MM-DD HH:MM:SS "
    "and the newest one is not later than the response's Date header (UTC, not firm time)",
    "clockwork.error_statuses": "GET /tags with a wrong Token (expect 401) and with a wrong "
    "X-API-Key (expect 403); the body is {message}",
    "clockwork.rate_limit_headers": "any response: look for rate-limit headers "
    "(X-RateLimit-*, Retry-After)",
    "clockwork.notes_list_content": "GET /people/{id}/notes?limit=5 for a person with notes: "
    "items carry content (else GET /notes/{id} does)",
    "clockwork.notes_offset": "GET /people/{id}/notes?limit=1&offset=1 differs from offset=0 "
    "for a person with two notes",
    "clockwork.note_create": "none read-only: POST /people/{id}/notes needs a write-enabled "
    "sandbox; check the SwaggerHub spec lists it with note.content/content_type/category",
    "clockwork.pipeline_shapes": "GET /projects?limit=1, GET /statuses, GET "
    "/projects/{id}/candidacies?limit=1: the root keys are projects/statuses/candidacies and "
    "a candidacy carries personId",
    "clockwork.candidacy_person_filter": "GET /projects/{id}/candidacies?person_id=<a person "
    "not on it>: answers no items (a filter that is ignored answers the whole project)",
    "clockwork.page_size": "GET /people?limit=100: up to 100 items come back (no cap below)",
    "clockwork.record_url": "GET /people?limit=5: whether a person carries a link to their own "
    "web page (the address pattern itself can only be checked in a browser)",
}
