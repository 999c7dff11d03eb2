"""Request and response bodies of the REST API. Credentials have no output model at all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, EmailStr, Field, create_model, field_validator

from outbound.connectors.registry import ATS
from outbound.connectors.spec import AtsSpec
from outbound.domain.templates import syntax_error

RoleIn = Literal["owner", "manager", "recruiter"]
# Row ids are 64-bit: anything else is refused at the edge, not by the database.
MAX_ID = 2**63 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
SyncModeIn = Literal["off", "on_add", "on_reply", "on_interested"]
RecordTypeIn = Literal["candidate", "client_contact", "lead_contact", "employee"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserIn(Strict):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: RoleIn = "recruiter"
    group_name: str | None = Field(default=None, max_length=200)


class UserPatch(Strict):
    role: RoleIn | None = None
    group_name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: str
    group_name: str | None


class UserCreated(UserOut):
    api_token: str


class StepIn(Strict):
    # A follow-up with an empty subject replies in the first step's thread ("Re: ...").
    subject: str = Field(default="", max_length=998)
    body: str = Field(min_length=1, max_length=100_000)
    delay_days: float = Field(default=0, ge=0, le=365)

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str) -> str:
        problem = syntax_error(value)
        if problem:
            raise ValueError(problem)
        return value


class SequenceSyncIn(Strict):
    sync_enabled: bool | None = None
    record_type: RecordTypeIn | None = None
    job_id: str | None = Field(
        default=None,
        max_length=100,
        description="A Crelate job / Clockwork project id, checked against the sequence "
        "owner's ATS when saved (an unknown one is an error on `sync.job_id`).",
    )
    tracking_enabled: bool | None = None
    unsubscribe_link: bool | None = None


class SequenceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    steps: list[StepIn] = Field(default_factory=list, max_length=50)
    sync: SequenceSyncIn = Field(default_factory=SequenceSyncIn)
    owner_id: DbId | None = None


class SequencePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    steps: list[StepIn] | None = Field(default=None, max_length=50)
    sync: SequenceSyncIn = Field(default_factory=SequenceSyncIn)


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    position: int
    subject: str
    body: str
    delay_days: float


class SequenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    owner_id: int
    sync_enabled: bool
    record_type: str | None
    job_id: str | None
    tracking_enabled: bool
    unsubscribe_link: bool
    steps: list[StepOut]


class ContactChecks(Strict):
    """Field checks shared by create and update, so a PATCH cannot store what a POST refuses."""

    @field_validator("linkedin_url", check_fields=False)
    @classmethod
    def _linkedin(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL starting with https://")
        return value

    @field_validator("custom_variables", check_fields=False)
    @classmethod
    def _custom(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key in value or {}:
            if not key.replace("_", "").isalnum():
                raise ValueError(f"variable name {key!r} may hold letters, digits and _ only")
        return value


class ContactIn(ContactChecks):
    email: EmailStr
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=300)
    company: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=50)
    linkedin_url: str | None = Field(default=None, max_length=500)
    location: str | None = Field(default=None, max_length=300)
    custom_variables: dict[str, str] = Field(default_factory=dict)


class ContactPatch(ContactChecks):
    email: EmailStr | None = None
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=300)
    company: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=50)
    linkedin_url: str | None = Field(default=None, max_length=500)
    location: str | None = Field(default=None, max_length=300)
    custom_variables: dict[str, str] | None = None


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    company: str | None
    phone: str | None
    linkedin_url: str | None
    location: str | None
    custom_variables: dict[str, Any]


class EnrollIn(Strict):
    contacts: list[ContactIn] = Field(min_length=1, max_length=10_000)


class EnrollResult(BaseModel):
    added: int
    already_present: int
    enrollment_ids: list[int]


class EnrollmentOut(BaseModel):
    id: int
    sequence_id: int
    contact: ContactOut
    state: str
    sentiment: str | None
    sync_state: str
    error_code: str | None
    error_message: str | None
    ats_record_id: str | None
    sync_snapshot: dict[str, Any] | None
    added_at: datetime
    # What a recruiter sees: scheduled, messaged, opened, clicked, replied, bounced, paused,
    # finished, unsubscribed, or needs_attention (error_message says why).
    status: str
    engagement: str | None
    next_step: int
    next_send_at: datetime | None
    paused_until: datetime | None


class SentimentIn(Strict):
    sentiment: Literal["interested", "not_interested"]


class EventIn(Strict):
    kind: Literal["sent", "opened", "clicked", "replied", "bounced"]
    subject: str | None = Field(default=None, max_length=998)
    body: str | None = Field(default=None, max_length=100_000)
    occurred_at: datetime | None = None


class ResumeIn(Strict):
    # Only for a send whose fate is unknown: true sends that step again, false counts it as
    # sent (after you found it in your Sent folder) and goes on with the next step.
    resend: bool = False


class EmailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    step_position: int
    message_id: str
    to_address: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    in_reply_to: str | None
    created_at: datetime
    sent_at: datetime | None


HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
Security = Literal["ssl", "starttls", "none"]


class MailboxIn(Strict):
    email: EmailStr
    from_name: str = Field(default="", max_length=200)
    smtp_host: str = Field(min_length=1, max_length=300)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Security = "starttls"
    smtp_username: str = Field(default="", max_length=320)
    # Required on first connect; leave out to keep the saved one.
    smtp_password: str | None = Field(default=None, max_length=500)
    inbound_kind: Literal["imap", "maildir"] = "imap"
    imap_host: str | None = Field(default=None, max_length=300)
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Security = "ssl"
    imap_username: str | None = Field(default=None, max_length=320)
    imap_password: str | None = Field(default=None, max_length=500)
    imap_folder: str = Field(default="INBOX", min_length=1, max_length=200)
    sent_folder: str | None = Field(default=None, max_length=200)
    maildir_path: str | None = Field(default=None, max_length=500)
    time_zone: str = Field(default="UTC", max_length=60)
    window_start: str = Field(default="09:00", pattern=HHMM)
    window_end: str = Field(default="17:00", pattern=HHMM)
    send_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)
    daily_limit: int = Field(default=200, ge=1, le=5000)

    @field_validator("send_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))


class MailboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    email: str
    from_name: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    inbound_kind: str
    imap_host: str | None
    imap_port: int | None
    imap_security: str | None
    imap_username: str | None
    imap_folder: str
    sent_folder: str | None
    time_zone: str
    window_start: str
    window_end: str
    send_days: list[int]
    daily_limit: int
    status: str
    status_reason: str | None
    last_polled_at: datetime | None


class SuppressionIn(Strict):
    email: EmailStr


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    email: str
    reason: str
    created_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    sentiment: str | None
    occurred_at: datetime


class ResyncIn(Strict):
    enrollment_ids: list[DbId] | None = Field(default=None, max_length=10_000)
    backfill_activity: bool = False  # opt-in: also log emails from before the connection
    apply_current_settings: bool = False  # opt-in: update synced contacts' existing records


class ResyncOut(BaseModel):
    batch_id: str
    queued: int
    skipped_already_synced: int


class BatchProgress(BaseModel):
    total: int
    done: int
    failed: int
    pending: int


# Keys travel in HTTP headers: printable ASCII only (anything else is a paste error).
def _credentials_model(spec: AtsSpec) -> type[Strict]:
    fields: dict[str, Any] = {
        f.name: (str, Field(min_length=1, max_length=f.max_length, pattern=f.pattern))
        for f in spec.credentials
    }
    return create_model(f"{spec.title}Credentials", __base__=Strict, **fields)


def connect_model(spec: AtsSpec) -> type[Strict]:
    """PUT /connection's body for one ATS, made from its registry entry."""
    provider: Any = Literal[spec.provider]
    return create_model(
        f"Connect{spec.title}",
        __base__=Strict,
        provider=(provider, ...),
        credentials=(_credentials_model(spec), ...),
    )


CONNECT_MODELS: dict[str, type[Strict]] = {p: connect_model(spec) for p, spec in ATS.items()}
# One body per registered ATS, told apart by "provider".
ConnectIn: Any = Annotated[Union[tuple(CONNECT_MODELS.values())], Field(discriminator="provider")]  # noqa: UP007


class ConnectionOut(BaseModel):
    provider: str
    ats_org: str
    ats_user_id: str
    ats_user_name: str
    status: str
    status_reason: str | None
    failing_since: datetime | None
    connected_at: datetime
    disconnected_at: datetime | None


class MappingEntry(Strict):
    source: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=200)
    policy: Literal["always", "fill_blank", "never"] = "always"


ACTIVITY_TRACKING = (
    "Log every email sent and every reply in the ATS. Applies from the moment it is turned on, "
    "to every contact (those already in sequences too); emails from before are never "
    "backfilled."
)


class SettingsPatch(Strict):
    sync_mode: SyncModeIn | None = None
    record_type: RecordTypeIn | None = None
    default_job_id: str | None = Field(default=None, max_length=100)
    dedup_enabled: bool | None = None
    activity_tracking: bool | None = Field(default=None, description=ACTIVITY_TRACKING)
    field_mapping: list[MappingEntry] | None = Field(default=None, max_length=200)
    do_not_contact_tag: str | None = Field(default=None, max_length=200)
    # An id from GET /connection/activity-types; null: the type named "Email".
    activity_type_id: str | None = Field(default=None, max_length=100)


class SettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    sync_mode: str
    record_type: str
    default_job_id: str | None
    dedup_enabled: bool
    activity_tracking: bool = Field(description=ACTIVITY_TRACKING)
    # When activity tracking was last turned on (null: on since the connection was made).
    activity_tracking_since: datetime | None = None
    field_mapping: list[dict[str, Any]]
    do_not_contact_tag: str | None
    activity_type_id: str | None


class CloneIn(Strict):
    user_ids: list[DbId] | None = Field(default=None, max_length=1000)


class CloneCandidate(BaseModel):
    user_id: int
    name: str
    eligible: bool
    reason: str | None


class CloneOut(BaseModel):
    cloned: list[int]
    refused: list[CloneCandidate]


class ImportIn(Strict):
    list_id: str = Field(min_length=1, max_length=100)


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    sequence_id: int
    list_id: str
    status: str
    total: int
    added: int
    skipped_no_email: int
    already_present: int
    error: str | None


class TimelineSummaryOut(BaseModel):
    """What retention removed from the timeline, in counts."""

    model_config = ConfigDict(from_attributes=True)
    scope: Literal["ats_calls", "emails"] = Field(
        description="ats_calls: the contact's ATS calls (counts: calls, failed); emails: this "
        "enrollment's email events (counts per kind: sent, opened, replied...)"
    )
    counts: dict[str, int]
    first_at: datetime
    last_at: datetime
    retention_days: int
    text: str = Field(description="The summary in words, as the web timeline shows it")


class TimelineEntry(BaseModel):
    """An ATS call made for the contact or, first on the oldest page, a summary of what
    retention removed (``kind`` "summary": ``method`` and ``path`` empty, ``outcome`` its
    words, ``at`` the last moment it covers, ``summary`` its counts)."""

    model_config = ConfigDict(from_attributes=True)
    id: int | None = Field(
        default=None, description="The call's id (the paging cursor); null for a summary"
    )
    kind: Literal["call", "summary"] = "call"
    at: datetime
    method: str
    path: str
    status_code: int | None
    outcome: str
    attempt: int
    summary: TimelineSummaryOut | None = None


class EffectOut(BaseModel):
    """A write Outbound made in the ATS for the contact (the effect ledger)."""

    model_config = ConfigDict(from_attributes=True)
    what: str
    confirmed: bool = Field(description="false: a try began it and its outcome is not recorded yet")
    provider: str
    began_at: datetime
    done_at: datetime | None


class NamedItem(BaseModel):
    id: str
    name: str


class ActivityTypesOut(BaseModel):
    """What logged emails can be filed as, and what Outbound files them as today."""

    types: list[NamedItem]
    # Used when nothing is chosen: the type named "Email" (or "E-mail"); null when none is.
    default_id: str | None
    # The saved choice (settings.activity_type_id), null when none.
    chosen_id: str | None
    # The type emails are logged as now (the choice, else the default); null: not logged.
    effective_id: str | None
    # Why emails would not be logged, when activity tracking is on; null when all is well.
    warning: str | None


class FieldError(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every error answer (4xx and 5xx): what went wrong, and the field to fix (e.g.
    ``contacts[3].email``)."""

    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "Refused (e.g. the ATS or mail server rejected what was given)"),
        (401, "Missing or invalid API token"),
        (403, "Not allowed for your role"),
        (404, "Not found in your team"),
        (409, "Conflicts with existing data"),
        (422, "Invalid input: `field` names what to fix"),
    )
}
