"""The closed vocabularies of the product guides, in one place."""

from __future__ import annotations

from typing import Literal

Role = Literal["owner", "manager", "recruiter"]
ROLES: tuple[str, ...] = ("owner", "manager", "recruiter")

Provider = Literal["crelate", "clockwork"]
PROVIDERS: tuple[str, ...] = ("crelate", "clockwork")
PROVIDER_TITLES = {"crelate": "Crelate", "clockwork": "Clockwork"}

# "Sync contacts only when they reply with interest" is ours, beyond the guides (opt-in).
SyncMode = Literal["off", "on_add", "on_reply", "on_interested"]
SYNC_MODES: tuple[str, ...] = ("off", "on_add", "on_reply", "on_interested")

# Crelate record types; Clockwork has people only, so its record type is always "person".
RecordType = Literal["candidate", "client_contact", "lead_contact", "employee"]
RECORD_TYPES: tuple[str, ...] = ("candidate", "client_contact", "lead_contact", "employee")

EventKind = Literal["sent", "opened", "clicked", "replied", "bounced", "auto_reply", "sentiment"]
EVENT_KINDS: tuple[str, ...] = (
    "sent",
    "opened",
    "clicked",
    "replied",
    "bounced",
    "auto_reply",
    "sentiment",
)
Sentiment = Literal["interested", "not_interested"]
SENTIMENTS: tuple[str, ...] = ("interested", "not_interested")

# Per-field write policy of the custom field mapping (beyond the guides).
WritePolicy = Literal["always", "fill_blank", "never"]
WRITE_POLICIES: tuple[str, ...] = ("always", "fill_blank", "never")

# Outbound contact fields a mapping can read from (plus "custom.<name>" for custom variables).
CONTACT_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "title",
    "company",
    "phone",
    "linkedin_url",
    "location",
)

# Stage names the guides require, spelled exactly.
STAGE_MESSAGED = "Messaged"
STAGE_REPLIED = "Replied"
STAGE_INTERESTED = "Interested"
STAGE_NOT_INTERESTED = "Not Interested"
