"""Clockwork v3.0 facts the connector relies on that are NOT confirmed.

Every entry here is **unverified against the live API** (../shared/ats/clockwork.md, [I]).
Correct them here, in one spot, once someone checks a live account.
"""

from __future__ import annotations

# unverified against the live API: get and update one person.
PERSON_PATH = "/people/{person_id}"
UPDATE_METHOD = "PATCH"

# unverified against the live API: find by email = keyword search + exact match on addresses.
SEARCH_PATH = "/people_search"

# unverified against the live API: note creation (used to log email activity).
NOTES_CREATE_PATH = "/people/{person_id}/notes"
NOTE_CATEGORY = "Email"

# unverified against the live API: projects, candidacies and statuses.
PROJECTS_PATH = "/projects"
CANDIDACIES_PATH = "/projects/{project_id}/candidacies"
# unverified against the live API: filtering candidacies by person (else a project is paged).
CANDIDACY_PERSON_FILTER = "person_id"
CANDIDACY_UPDATE_PATH = "/candidacies/{candidacy_id}"
STATUSES_PATH = "/statuses"

# unverified against the live API: default and maximum page sizes are unknown.
PAGE_SIZE = 100

# unverified against the live API: which person fields a mapping may write (no custom fields).
PERSON_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("nick_name", "Nickname"),
    ("biography", "Biography"),
    ("assistant_name", "Assistant name"),
    ("skype_name", "Skype name"),
)
