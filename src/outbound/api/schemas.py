"""Request and response bodies of the REST API. Credentials have no output model at all.

The schema is the contract: every rule an input is checked against is stated in it (types,
sizes, counts, patterns), and what a request body may hold is checked strictly (``true`` is not
``1``, ``"5"`` is not ``5``, a date-time is a string with a zone). Text fields refuse control
characters (``outbound.domain.text``): the pattern of every string says so.

PATCH: a field left out is kept. ``null`` clears a field that can be empty (one the answer may
show as null); for any other field ``null`` is a 422 naming it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    MISSING,
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    computed_field,
    create_model,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from outbound.connectors.registry import ATS
from outbound.connectors.spec import AtsSpec
from outbound.domain.templates import syntax_error
from outbound.domain.text import (
    FILLED_LINE_PATTERN,
    FILLED_TEXT_PATTERN,
    LINE_PATTERN,
    TEXT_PATTERN,
    text_problem,
)
from outbound.domain.vocabulary import CONTACT_FIELDS

RoleIn = Literal["owner", "manager", "recruiter"]
# Row ids are 64-bit: anything else is refused at the edge, not by the database.
MAX_ID = 2**63 - 1
SyncModeIn = Literal["off", "on_add", "on_reply", "on_interested"]
RecordTypeIn = Literal["candidate", "client_contact", "lead_contact", "employee"]

# Limits the code enforces, stated in the schema (maxLength, maxItems, maxProperties).
MAX_VARIABLES = 100  # custom variables per contact
MAX_VARIABLE_NAME = 64
MAX_VARIABLE_VALUE = 10_000  # characters: a paragraph, not a document
MAX_EMAIL = 254  # RFC 5321's longest path


class _States:
    """Adds JSON Schema keywords for a rule a validator enforces in code (a keyword the field
    sets itself, e.g. a stricter pattern, is kept)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        for key, value in self.keywords.items():
            out.setdefault(key, value)
        return out


def _line(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _text(value: str) -> str:
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


# One line of text (names, subjects, ids): no control characters, no line breaks.
Line = Annotated[str, AfterValidator(_line), _States(pattern=LINE_PATTERN)]
# Multi-line text (a step's body, a variable's value): tab, newline and CR allowed.
Text = Annotated[str, AfterValidator(_text), _States(pattern=TEXT_PATTERN)]
# The same where something must be given: leading and trailing spaces are trimmed, so a
# value of spaces only is empty (give these min_length=1).
FilledLine = Annotated[str, AfterValidator(_line), _States(pattern=FILLED_LINE_PATTERN)]
FilledText = Annotated[str, AfterValidator(_text), _States(pattern=FILLED_TEXT_PATTERN)]

# An address as mail servers take it: a dot-atom local part, a domain of LDH labels with a dot.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
_EMAIL = re.compile(EMAIL_PATTERN)


def _email(value: str) -> str:
    _line(value)
    if not _EMAIL.match(value):
        raise ValueError("is not an email address (name@example.com)")
    return value


Email = Annotated[
    str, Field(max_length=MAX_EMAIL), AfterValidator(_email), _States(pattern=EMAIL_PATTERN)
]

URL_PATTERN = r"^https?://[^\u0000-\u0020\u007F-\u009F]+$"
_URL = re.compile(URL_PATTERN)


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be a URL starting with https:// (no spaces)")
    return value


Url = Annotated[str, AfterValidator(_url), _States(pattern=URL_PATTERN)]

# What a template can name: {{name}} (outbound.domain.templates.VARIABLE).
VARIABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_VARIABLE_NAME = re.compile(VARIABLE_NAME_PATTERN)


def _variable_name(value: str) -> str:
    if not _VARIABLE_NAME.match(value):
        raise ValueError(
            f"variable name {value[:80]!r} must start with a letter or _ and hold letters "
            "(a-z), digits and _ only, as {{name}} in a step does"
        )
    return value


VariableName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_VARIABLE_NAME),
    AfterValidator(_variable_name),
    _States(pattern=VARIABLE_NAME_PATTERN),
]


class _NamedKeys:
    """A dict's key rule as ``propertyNames`` (pydantic states a key pattern as
    ``patternProperties``, which lets any other key through)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        by_pattern = out.pop("patternProperties", None)
        if by_pattern:
            ((pattern, values),) = by_pattern.items()
            out["additionalProperties"] = values
            out["propertyNames"] = {**out.get("propertyNames", {}), "pattern": pattern}
        return out


Variables = Annotated[
    dict[VariableName, Annotated[Text, Field(max_length=MAX_VARIABLE_VALUE)]],
    _NamedKeys(),
    Field(
        max_length=MAX_VARIABLES,
        description=f"Up to {MAX_VARIABLES} variables, each a name a step can use as "
        f"{{{{name}}}} and a value of up to {MAX_VARIABLE_VALUE:,} characters",
    ),
]


def _whole_number(value: object) -> object:
    # JSON Schema counts 3.0 as an integer; the strict check would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Whole numbers: the bounds first, so that the schema states them as minimum and maximum.
WHOLE = BeforeValidator(_whole_number)
DbId = Annotated[int, Field(ge=1, le=MAX_ID), WHOLE]
Port = Annotated[int, Field(ge=1, le=65535), WHOLE]

# Dates and times: RFC 3339 strings with a zone only (a number is no date; a zoneless time is
# ambiguous), this century (what is beyond is a typo, and cannot always be turned into UTC).
MOMENT_PATTERN = r"^20[0-9]{2}-"


def _moment_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a date-time string with a zone, e.g. 2024-05-01T09:30:00Z")
    if not value.startswith("20"):
        raise ValueError("must be a date and time in the years 2000 to 2099")
    return value


Moment = Annotated[
    AwareDatetime,
    Field(strict=False),
    BeforeValidator(_moment_text),
    _States(pattern=MOMENT_PATTERN),
]

# How a PATCH treats null, said in the description of each PATCH body.
PATCH_RULE = (
    "Only the fields sent change; a field left out is kept. `null` clears a field that can be "
    "empty (one the answer may show as null); for any other field `null` is a 422 naming it."
)


class Strict(BaseModel):
    # Strict: JSON's true is no 1 and "5" no 5 (the web forms, whose values are all text,
    # validate the same models leniently: outbound.web.forms.parse).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class UserIn(Strict):
    email: Email
    name: FilledLine = Field(min_length=1, max_length=200)
    role: RoleIn = "recruiter"
    group_name: Line | None = Field(default=None, max_length=200)


class UserPatch(Strict):
    __doc__ = PATCH_RULE

    role: RoleIn | MISSING = MISSING
    group_name: Line | MISSING | None = Field(
        default=MISSING, max_length=200, description="null or empty: no group"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: str
    group_name: str | None


class UserCreated(UserOut):
    api_token: str


TEMPLATE_RULE = (
    "A template: variables as {{name}} or {{name|fallback}}; any other {{ or }} is refused."
)


class StepIn(Strict):
    # A follow-up with an empty subject replies in the first step's thread ("Re: ...").
    subject: Line = Field(
        default="",
        max_length=998,
        description=f"One line. {TEMPLATE_RULE} Empty in a follow-up: it replies in the first "
        "step's thread; the first step needs one.",
    )
    body: FilledText = Field(min_length=1, max_length=100_000, description=TEMPLATE_RULE)
    delay_days: float = Field(default=0, ge=0, le=365)

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str) -> str:
        problem = syntax_error(value)
        if problem:
            raise ValueError(problem)
        return value


class SequenceSyncIn(Strict):
    """Each field left out keeps its value (a new sequence: the owner's integration settings);
    `null` clears `record_type` or `job_id` (back to the owner's default)."""

    sync_enabled: bool | MISSING = MISSING
    record_type: RecordTypeIn | MISSING | None = MISSING
    job_id: Line | MISSING | None = Field(
        default=MISSING,
        max_length=100,
        description="A Crelate job / Clockwork project id, checked against the sequence "
        "owner's ATS when saved (an unknown one is an error on `sync.job_id`).",
    )
    tracking_enabled: bool | MISSING = MISSING
    unsubscribe_link: bool | MISSING = MISSING


STEPS = "The steps in order; the first one needs a subject."


class _FirstStepHasSubject:
    """States the rule on the first step (``prefixItems``), beside the rule on every step."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        subject = {"type": "string", "minLength": 1, "pattern": FILLED_LINE_PATTERN}
        first = {"required": ["subject"], "properties": {"subject": subject}}
        out["prefixItems"] = [{"allOf": [out["items"], first]}]
        return out


Steps = Annotated[list[StepIn], _FirstStepHasSubject(), Field(max_length=50)]


class SequenceIn(Strict):
    name: FilledLine = Field(min_length=1, max_length=200)
    steps: Steps = Field(default_factory=list, description=STEPS)
    sync: SequenceSyncIn = Field(default_factory=SequenceSyncIn)
    owner_id: DbId | None = None


class SequencePatch(Strict):
    __doc__ = PATCH_RULE

    name: FilledLine | MISSING = Field(default=MISSING, min_length=1, max_length=200)
    steps: Steps | MISSING = Field(
        default=MISSING, description=f"{STEPS} Replaces them all ([]: none)."
    )
    sync: SequenceSyncIn | MISSING = MISSING


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="Send it as `step_id` when moving or deleting the step")
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


class ContactIn(Strict):
    email: Email
    first_name: Line | None = Field(default=None, max_length=200)
    last_name: Line | None = Field(default=None, max_length=200)
    title: Line | None = Field(default=None, max_length=300)
    company: Line | None = Field(default=None, max_length=300)
    phone: Line | None = Field(default=None, max_length=50)
    linkedin_url: Url | None = Field(default=None, max_length=500)
    location: Line | None = Field(default=None, max_length=300)
    custom_variables: Variables = Field(default_factory=dict)


class ContactPatch(Strict):
    __doc__ = f"{PATCH_RULE} `custom_variables` replaces them all ({{}}: none)."

    email: Email | MISSING = MISSING
    first_name: Line | MISSING | None = Field(default=MISSING, max_length=200)
    last_name: Line | MISSING | None = Field(default=MISSING, max_length=200)
    title: Line | MISSING | None = Field(default=MISSING, max_length=300)
    company: Line | MISSING | None = Field(default=MISSING, max_length=300)
    phone: Line | MISSING | None = Field(default=MISSING, max_length=50)
    linkedin_url: Url | MISSING | None = Field(default=MISSING, max_length=500)
    location: Line | MISSING | None = Field(default=MISSING, max_length=300)
    custom_variables: Variables | MISSING = MISSING


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
    subject: Line | None = Field(default=None, max_length=998)
    body: Text | None = Field(default=None, max_length=100_000)
    occurred_at: Moment | None = Field(
        default=None,
        description="When it happened: RFC 3339 with a zone (e.g. 2024-05-01T09:30:00Z), "
        "in the years 2000 to 2099; null or left out: now",
    )


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


Day = Annotated[int, Field(ge=0, le=6), WHOLE]


class MailboxIn(Strict):
    """Replaces the whole mailbox: a field left out takes its default."""

    email: Email
    from_name: Line = Field(default="", max_length=200)
    smtp_host: FilledLine = Field(min_length=1, max_length=300)
    smtp_port: Port = 587
    smtp_security: Security = "starttls"
    smtp_username: Line = Field(default="", max_length=320, description="Empty: the email")
    smtp_password: Line | None = Field(
        default=None,
        max_length=500,
        description="Required on first connect; null or left out keeps the saved one",
    )
    inbound_kind: Literal["imap", "maildir"] = Field(
        default="imap", description="maildir: only where the server allows it"
    )
    imap_host: Line | None = Field(
        default=None, max_length=300, description="Required when inbound_kind is imap"
    )
    imap_port: Port = 993
    imap_security: Security = "ssl"
    imap_username: Line | None = Field(default=None, max_length=320)
    imap_password: Line | None = Field(default=None, max_length=500)
    imap_folder: FilledLine = Field(default="INBOX", min_length=1, max_length=200)
    sent_folder: Line | None = Field(default=None, max_length=200)
    maildir_path: Line | None = Field(
        default=None, max_length=500, description="Required when inbound_kind is maildir"
    )
    time_zone: Line = Field(
        default="UTC", max_length=60, description="An IANA time zone, e.g. Europe/Paris"
    )
    window_start: str = Field(default="09:00", pattern=HHMM)
    window_end: str = Field(default="17:00", pattern=HHMM)
    send_days: list[Day] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        min_length=1,
        max_length=7,
        description="0 (Monday) to 6 (Sunday)",
    )
    daily_limit: Annotated[int, Field(ge=1, le=5000), WHOLE] = 200

    @field_validator("send_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
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
    status: str = Field(description="active | failing | reconnect_needed")
    status_reason: str | None
    last_polled_at: datetime | None
    auth_kind: str = Field(description="password | oauth")
    oauth_provider: str | None = Field(description="google | microsoft when auth_kind is oauth")


class SuppressionIn(Strict):
    email: Email


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


# A sync batch's id (GET /sync-batches/{batch_id}): one line, as the ids Outbound makes.
BatchId = Annotated[Line, Field(min_length=1, max_length=64)]


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
        f.name: (Line, Field(min_length=1, max_length=f.max_length, pattern=f.pattern))
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


# A contact field, or custom.<variable>: what a mapping can read (domain.field_mapping).
SOURCE_PATTERN = "^(?:" + "|".join(CONTACT_FIELDS) + r")$|^custom\.[^\u0000-\u001F\u007F-\u009F]+$"


class MappingEntry(Strict):
    source: Line = Field(
        min_length=1,
        max_length=100,
        pattern=SOURCE_PATTERN,
        description="A contact field, or custom.<name> for a custom variable",
    )
    target: FilledLine = Field(
        min_length=1, max_length=200, description="The ATS field; each one at most once"
    )
    policy: Literal["always", "fill_blank", "never"] = "always"


ACTIVITY_TRACKING = (
    "Log every email sent and every reply in the ATS. Applies from the moment it is turned on, "
    "to every contact (those already in sequences too); emails from before are never "
    "backfilled."
)


class SettingsPatch(Strict):
    __doc__ = PATCH_RULE

    sync_mode: SyncModeIn | MISSING = MISSING
    record_type: RecordTypeIn | MISSING = MISSING
    default_job_id: Line | MISSING | None = Field(default=MISSING, max_length=100)
    dedup_enabled: bool | MISSING = MISSING
    activity_tracking: bool | MISSING = Field(default=MISSING, description=ACTIVITY_TRACKING)
    field_mapping: list[MappingEntry] | MISSING = Field(
        default=MISSING, max_length=200, description="Replaces the mapping ([]: none)"
    )
    do_not_contact_tag: Line | MISSING | None = Field(default=MISSING, max_length=200)
    activity_type_id: Line | MISSING | None = Field(
        default=MISSING,
        max_length=100,
        description='An id from GET /connection/activity-types; null or "": the type named "Email"',
    )


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
    list_id: FilledLine = Field(min_length=1, max_length=100)


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
        (429, "Too many invalid API tokens from this address: wait for `Retry-After` seconds"),
    )
}


# -- a sequence's contacts list: tabs, counts, bulk actions (issue 16) ------------------------
ContactTab = Literal[
    "all",
    "needs_attention",
    "interested",
    "not_interested",
    "replied",
    "bounced",
    "unsubscribed",
    "paused",
    "finished",
    "messaged",
    "scheduled",
]
ContactSort = Literal["added", "-added", "name", "-name", "status", "-status"]
# What a search may hold: one line, at most 200 characters (contact_list.MAX_QUERY).
ContactQuery = Annotated[Line, Field(max_length=200)]
# An opaque cursor from X-Next-Cursor / X-Prev-Cursor (base64url).
Cursor = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[A-Za-z0-9_-]+$")]


class ContactCountsOut(BaseModel):
    """Contacts per status tab (each contact is in exactly one tab; ``all`` is their sum),
    among those matching the search ``q`` when one is given."""

    all: int
    needs_attention: int
    interested: int
    not_interested: int
    replied: int
    bounced: int
    unsubscribed: int
    paused: int
    finished: int
    messaged: int
    scheduled: int


# The rules between BulkIn's fields, stated in its schema (the code checks the same).
_BULK_RULES: dict[str, Any] = {
    "oneOf": [
        {"required": ["ids"], "properties": {"ids": {"type": "array"}, "all": {"const": False}}},
        {"required": ["all"], "properties": {"all": {"const": True}, "ids": {"type": "null"}}},
    ],
    "if": {"required": ["action"], "properties": {"action": {"const": "move"}}},
    "then": {
        "required": ["target_sequence_id"],
        "properties": {"target_sequence_id": {"type": "integer"}},
    },
}


class BulkIn(Strict):
    """Either ``ids`` (the contacts picked: enrollment ids) or ``all: true`` with the tab
    (``status``) and search (``q``) that choose them (both apply only with ``all``). ``move``
    needs ``target_sequence_id``, a sequence of your team: each contact starts it at its first
    step and leaves this one (one already there is skipped)."""

    model_config = ConfigDict(json_schema_extra=_BULK_RULES)

    action: Literal["pause", "resume", "remove", "resync", "move"]
    ids: list[DbId] | None = Field(default=None, min_length=1, max_length=10_000)
    all: bool = False
    status: ContactTab = "all"
    q: ContactQuery = ""
    target_sequence_id: DbId | None = None


class BulkSkipped(BaseModel):
    reason: str  # "already finished", "not paused", "already in that sequence"...
    count: int


class BulkOut(BaseModel):
    action: str
    done: int
    skipped: list[BulkSkipped]
    # resync: the sync batches queued (progress at GET /sync-batches/{batch_id})
    batch_ids: list[str]


class ImportRowOut(BaseModel):
    line: int  # in the file, blank lines and the header counted
    email: str
    outcome: Literal["added", "merged", "already_in_sequence", "skipped"]
    note: str  # skipped: why; merged / already in the sequence: the fields updated


class ImportReportOut(BaseModel):
    """What became of each row of a CSV file."""

    added: int
    merged: int  # already in Outbound: their non-empty new fields were stored
    already_in_sequence: int
    skipped: int
    columns: list[str]
    mapping: list[str]  # each column's field, "custom.<name>", or "" (not imported)
    rows: list[ImportRowOut]


# -- sequences: rename, archive, reorder and delete steps (issue 16) --------------------------
class SequenceLifecyclePatch(SequencePatch):
    __doc__ = PATCH_RULE

    archived: bool | MISSING = Field(
        default=MISSING,
        description="true: hidden from the list, and nothing more is sent from it (emails "
        "waiting to go out are cancelled); false: its active contacts carry on.",
    )


class SequenceStateOut(SequenceOut):
    archived_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class StepMoveIn(Strict):
    """Swap the step with the one before (`up`) or after (`down`) it. Contacts who had the
    first of the two but not the second skip to the step after both: no email twice."""

    direction: Literal["up", "down"]


# -- mailboxes connected by OAuth 2.0 (issue 18) ------------------------------------------
class MailboxSchedulePatch(Strict):
    """When and how much to send; a field left out (or null) keeps its value. The only
    change a mailbox connected with Google or Microsoft takes without connecting again."""

    from_name: Line | None = Field(default=None, max_length=200)
    time_zone: Line | None = Field(default=None, max_length=60)
    window_start: str | None = Field(default=None, pattern=HHMM)
    window_end: str | None = Field(default=None, pattern=HHMM)
    send_days: list[Day] | None = Field(default=None, min_length=1, max_length=7)
    daily_limit: Annotated[int, Field(ge=1, le=5000), WHOLE] | None = None


class OAuthProviderOut(BaseModel):
    name: str = Field(description="google | microsoft")
    title: str


class OAuthStartOut(BaseModel):
    authorization_url: str = Field(
        description="Open it in the mailbox owner's browser: after consent the provider sends "
        "the browser back to this server, which connects the mailbox"
    )
    expires_in_seconds: int
