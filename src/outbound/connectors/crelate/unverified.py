"""Crelate api3 facts the connector relies on that are NOT confirmed.

Every entry here is **unverified against the live API**: ../shared/ats/evidence-audit.md gives the
row (#n) and its evidence. Each names the `outbound doctor` probe that checks it against a real
account (`PROBES` below); correct the value here, in one spot, once a probe says otherwise.
"""

from __future__ import annotations

# #21: who the key belongs to. No public client calls a "me" endpoint; when it is missing the
# connection is made anyway and the owner is learned from the first record's CreatedById.
# probe: crelate.users_me
CURRENT_USER_PATH = "/users/me"

# #13/#14: RecordType bitmask; 1/2/4 are confirmed, Employee's bit is a guess (v1 hints 0-7).
# probe: crelate.record_types
RECORD_TYPE_BITS = {"candidate": 1, "client_contact": 2, "lead_contact": 4, "employee": 8}

# #26: the Recruiting workflow type id, seen in one organisation only (SS). If it is per
# organisation, no stage is found and every stage change reports the stage missing.
# probe: crelate.recruiting_workflow
RECRUITING_WORKFLOW_TYPE_ID = "F6EF012F-998D-4132-B38B-A17A00B2B958"

# #30: how a stage changes. Tried first; on a 400/404/405 the connector tries the other form
# (PUT /jobs/{id}/contacts/{contactId}, v1's) and keeps the one that works.
# probe: crelate.stage_change (write probe: needs --write)
SET_STAGE_METHOD = "POST"

# #29: pipeline history of a contact not on the job: 200 [] or 404 (S8 reads 404 as "none");
# both are read as "not on the job".
# probe: crelate.history_not_on_job
HISTORY_404_MEANS_NOT_ON_JOB = True

# A pipeline history entry names its stage as {"Stage": {"Id": …}} and is dated "Date"; the
# latest is the contact's stage now (asked before moving again after an uncertain failure).
# probe: crelate.stage_change (write probe: it reads the stage back this way)
HISTORY_STAGE_KEY = "Stage"
HISTORY_DATE_KEY = "Date"

# #34: list activities on a contact, to recognise our own writes after an uncertain failure.
# probe: crelate.activities_by_parent
ACTIVITIES_BY_PARENT_PATH = "/activities"
ACTIVITIES_PARENT_PARAM = "parent_ids"

# #35: lists (hotlists) for import, and their members.
# probe: crelate.lists
LISTS_PATH = "/lists"
LIST_MEMBERS_PATH = "/lists/{list_id}/contacts"

# #36: the endpoint exists (SS); the shape of GET /contacts/info (field definitions) is unseen.
# probe: crelate.fields_info
FIELDS_INFO_PATH = "/contacts/info"

# #24: 100 is accepted (SS, MP); the cap is unknown.
# probe: crelate.page_size
PAGE_SIZE = 100

# #31/#32: the type logged emails are filed as, when the user has chosen none: looked up by name,
# case-insensitively. Many organisations have none (Crelate tracks mail itself), so the user
# picks one on the Integrations page.
# probe: crelate.email_activity_type
EMAIL_ACTIVITY_TYPE_NAMES = ("Email", "E-mail")

# #8/#9/#5: error semantics assumed for Crelate (base.py and the connector's raise_for_status):
# a 500 or 400 naming a field is a permanent validation error; a 409 names the duplicate's id;
# a 403 is one endpoint's permission, not bad credentials; 401 is bad credentials.
# probe: crelate.error_semantics
VALIDATION_STATUSES = (400, 500)

# #18/#17: custom fields are written as raw PascalCase keys inside "entity"; a location as
# Addresses_Business {City, IsPrimary}.
# probe: crelate.custom_field_write (write probe)
CUSTOM_FIELDS_AS_ENTITY_KEYS = True

# #9: Crelate's duplicate check refuses a create matching another record (same name, another
# email) with 409 naming it; the connector links to that record. Some organisations turn it off.
# probe: crelate.duplicate_check (write probe)
DUPLICATE_IS_409_WITH_ID = True

# DELETE /contacts/{id} removes a contact: used only to clean up the doctor's write probes.
# probe: crelate.stage_change (write probe; a left-behind record is reported)
DELETE_CONTACT_PATH = "/contacts/{contact_id}"

# Re-posting POST /jobs/{id}/contacts for a contact already on the job is harmless (attach after
# an uncertain failure asks is_attached first, so this only matters in a race).
# probe: crelate.stage_change (write probe)
ATTACH_IS_IDEMPOTENT = True

# #37: 429 with Retry-After in seconds (an HTTP date is read as 1 s).
# probe: crelate.rate_limit_headers
RETRY_AFTER_IN_SECONDS = True

# The web address of a contact record, for "Open in Crelate" on the contact page. No Crelate
# page documents it; public code that links to Crelate builds this address (mferriolo/matchpoint:
# supabase/functions/find-contacts and its Crelate push, "Open in Crelate"; a Drupal module's
# comment gives the same without "/summary"). Used only when the connection talks to Crelate
# itself: the web app is on the API's host ({host}: app.crelate.com, or sandbox.crelate.com for a
# sandbox key); a simulator has no web pages. An administrator overrides it with
# OUTBOUND_CRELATE_RECORD_URL. A web page cannot be checked over the API: the probe only looks
# for a link the record itself carries.
# probe: crelate.record_url
RECORD_URL = "https://{host}/go#stage/_Contacts/DefaultView/{id}/summary"
RECORD_URL_HOSTS = ("app.crelate.com", "sandbox.crelate.com")

# What each probe checks against a real account. Read-only unless marked "write".
PROBES: dict[str, str] = {
    "crelate.users_me": "GET /users/me answers the key's owner (else: learned from CreatedById)",
    "crelate.record_types": "GET /contacts/info lists the RecordType bits 1/2/4 (and 8?)",
    "crelate.recruiting_workflow": "GET /workflowstatuses?workflow_type_ids=<id> is not empty",
    "crelate.history_not_on_job": "GET /jobs/{id}/contacts/history for a contact not on the job "
    "answers 200 [] or 404",
    "crelate.activities_by_parent": "GET /activities?parent_ids=<contact> answers a list",
    "crelate.lists": "GET /lists answers a list",
    "crelate.fields_info": "GET /contacts/info answers Data.Fields[{Name, Label}]",
    "crelate.page_size": "GET /jobs?limit=100 is accepted",
    "crelate.email_activity_type": 'GET /activitytypes answers a type named "Email"',
    "crelate.error_semantics": "a bad key answers 401; an unknown path 404",
    "crelate.rate_limit_headers": "a 429, if seen, carries Retry-After in seconds",
    "crelate.duplicate_check": "write: a second throw-away contact with the first one's name "
    "is refused with 409 naming the first (or created: the check is off)",
    "crelate.stage_change": "write: a throw-away contact is put on a job and moved a stage "
    "(POST re-post or PUT), then deleted",
    "crelate.custom_field_write": "write: a throw-away contact keeps a custom field, then deleted",
    "crelate.record_url": "GET /contacts?limit=1: whether the record carries a link to its own "
    "web page (the address pattern itself can only be checked in a browser)",
}
