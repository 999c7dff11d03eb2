"""Crelate api3 facts the connector relies on that are NOT confirmed.

Every entry here is **unverified against the live API** (see ../shared/ats/crelate.md, marked [I]).
Correct them here, in one spot, once someone checks a live account.
"""

from __future__ import annotations

# unverified against the live API: who the key belongs to. No confirmed "me" endpoint exists.
CURRENT_USER_PATH = "/users/me"

# unverified against the live API: RecordType bitmask; 1/2/4 are confirmed, Employee's bit
# is a guess.
RECORD_TYPE_BITS = {"candidate": 1, "client_contact": 2, "lead_contact": 4, "employee": 8}

# unverified against the live API: advancing a stage by re-posting the job pipeline with a new
# statusId (the update form PATCH /jobs/{id}/contacts is the alternative the simulator also takes).
SET_STAGE_METHOD = "POST"

# unverified against the live API: list activities on a contact, to recognise our own writes.
ACTIVITIES_BY_PARENT_PATH = "/activities"
ACTIVITIES_PARENT_PARAM = "parent_ids"

# unverified against the live API: lists (hotlists) for import, and their members.
LISTS_PATH = "/lists"
LIST_MEMBERS_PATH = "/lists/{list_id}/contacts"

# unverified against the live API: shape of GET /contacts/info (field definitions).
FIELDS_INFO_PATH = "/contacts/info"

# unverified against the live API: the page-size cap (S7 caps limit at 100).
PAGE_SIZE = 100

# Name of the activity type used for logged emails; looked up by name, case-insensitively.
EMAIL_ACTIVITY_TYPE_NAMES = ("Email", "E-mail")
