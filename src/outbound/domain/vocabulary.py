"""The closed vocabularies of the product guides, in one place."""

from __future__ import annotations

from typing import Literal

Role = Literal["owner", "manager", "recruiter"]
ROLES: tuple[str, ...] = ("owner", "manager", "recruiter")

# The ATSs, as outbound.connectors.registry registers them (one line per ATS there). Kept here
# as plain names so that the pure rules need no connector: filled in place, never rebound.
PROVIDERS: list[str] = []
PROVIDER_TITLES: dict[str, str] = {}
# ATSs whose every person carries a do-not-contact flag worth reading back when added.
FLAGS_DO_NOT_CONTACT: set[str] = set()


def add_provider(name: str, title: str, *, flags_do_not_contact: bool = False) -> None:
    if name not in PROVIDERS:
        PROVIDERS.append(name)
    PROVIDER_TITLES[name] = title
    if flags_do_not_contact:
        FLAGS_DO_NOT_CONTACT.add(name)
    else:
        FLAGS_DO_NOT_CONTACT.discard(name)


def remove_provider(name: str) -> None:
    if name in PROVIDERS:
        PROVIDERS.remove(name)
    PROVIDER_TITLES.pop(name, None)
    FLAGS_DO_NOT_CONTACT.discard(name)


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
