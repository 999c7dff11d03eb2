"""SQLAlchemy 2 typed models: Outbound's own state, including the sync job table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Always timezone-aware UTC in Python; SQLite stores naive UTC, PostgreSQL timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    # An email is unique within a team, not across teams: asking to add a teammate then never
    # reveals that an address has an account in another firm (issue 17), and one person can
    # belong to two firms (sign-in asks which, once the password is right).
    __table_args__ = (
        UniqueConstraint("team_id", "email", name="uq_users_team_email"),
        Index("ix_users_email", "email"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # owner | manager | recruiter
    group_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so
    the table never holds a live credential. Sign-out deletes the row, a password change deletes
    all of a user's rows: a cookie copied before then opens nothing."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")


class AuthFailure(Base):
    """Failed sign-ins counted per account (a hash of the email, whether or not it exists) and
    per client address, in a window; past a threshold the key is locked for a while."""

    __tablename__ = "auth_failures"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="default")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class AtsConnection(Base):
    """One ATS connection per user. Credentials are Fernet-encrypted; never serialised out."""

    __tablename__ = "ats_connections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))  # crelate | clockwork
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # Which ATS organisation the key opens (Crelate base URL / Clockwork firm): links are per org.
    ats_org: Mapped[str] = mapped_column(String(300))
    ats_user_id: Mapped[str] = mapped_column(String(100))
    ats_user_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | reconnect_needed
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Set once while calls keep failing, cleared on the first success: one flag per connection.
    failing_since: Mapped[datetime | None]
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    disconnected_at: Mapped[datetime | None]


class IntegrationSettings(Base):
    __tablename__ = "integration_settings"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sync_mode: Mapped[str] = mapped_column(String(20), default="on_add")
    record_type: Mapped[str] = mapped_column(String(30), default="candidate")
    default_job_id: Mapped[str | None] = mapped_column(String(100))
    dedup_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Read when each email event happens (not frozen at add time): it applies from the moment
    # it is turned on, to every contact, and never to emails from before.
    activity_tracking: Mapped[bool] = mapped_column(Boolean, default=True)
    # When activity tracking was last turned on; None: on since the connection was made.
    activity_tracking_since: Mapped[datetime | None]
    # [{"source": "title", "target": "CustomField3", "policy": "always"}]
    field_mapping: Mapped[list[Any]] = mapped_column(default=list)
    do_not_contact_tag: Mapped[str | None] = mapped_column(String(200))
    # What a logged email is filed as (a Crelate activity type id, a Clockwork note category);
    # None: the ATS's type named "Email", when it has one.
    activity_type_id: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @validates("activity_tracking")
    def _note_when_tracking_turns_on(self, _key: str, value: bool) -> bool:
        # Every write path (settings, clone, web form) goes through here: turning tracking on
        # starts it now; emails from before are never backfilled.
        if value and self.activity_tracking is False:
            self.activity_tracking_since = utcnow()
        return value


class Sequence(Base):
    __tablename__ = "sequences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Syncing tab: apply to contacts added after the change only (snapshotted on enrollment).
    sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    record_type: Mapped[str | None] = mapped_column(String(30))
    job_id: Mapped[str | None] = mapped_column(String(100))
    tracking_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # A visible "unsubscribe" footer; the List-Unsubscribe headers are always sent.
    unsubscribe_link: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived: hidden from the list, and nothing more is sent from it.
    archived_at: Mapped[datetime | None]
    # The create form's one-time key: a second submit of the same form finds this sequence.
    create_token: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    steps: Mapped[list[SequenceStep]] = relationship(
        order_by="SequenceStep.position", cascade="all, delete-orphan", lazy="selectin"
    )


class SequenceStep(Base):
    __tablename__ = "sequence_steps"
    __table_args__ = (UniqueConstraint("sequence_id", "position"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    delay_days: Mapped[float] = mapped_column(default=0)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("team_id", "email", name="uq_contacts_team_email"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    company: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(300))
    custom_variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrollment(Base):
    """A contact in a sequence, with the sync settings as they were when it was added."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("sequence_id", "contact_id", name="uq_enrollments_seq_contact"),
        Index("ix_enrollments_error", "sequence_id", "error_code"),
        # The planner's resume_paused: ended pauses, a batch per round.
        Index("ix_enrollments_paused", "state", "paused_until"),
        # Resync pages through one sequence by id, a chunk at a time.
        Index("ix_enrollments_sequence_id", "sequence_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default="active")
    sentiment: Mapped[str | None] = mapped_column(String(20))
    # not_synced | pending | synced | failed | skipped
    sync_state: Mapped[str] = mapped_column(String(20), default="not_synced")
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    # The sync settings in force at add time; null when nothing was connected then.
    sync_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ats_record_id: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sending: the position of the next step, when it is due (null: nothing to send now).
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_send_at: Mapped[datetime | None] = mapped_column(index=True)
    paused_until: Mapped[datetime | None]
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    # The furthest the contact got with our mail: messaged | opened | clicked.
    engagement: Mapped[str | None] = mapped_column(String(20))


class ActivityEvent(Base):
    __tablename__ = "activity_events"
    __table_args__ = (
        # The dashboard's sends and replies per day: the team's last two weeks only.
        Index("ix_activity_events_team_day", "team_id", "occurred_at"),
        # Retention sweeps events oldest first, a chunk at a time (service/retention.py).
        Index("ix_activity_events_age", "occurred_at", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # sent|opened|clicked|replied|bounced|sentiment
    sentiment: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    email_id: Mapped[int | None] = mapped_column(BigId)


class AtsLink(Base):
    """Which ATS record a contact is, per ATS organisation; saved the moment a create succeeds."""

    __tablename__ = "ats_links"
    __table_args__ = (UniqueConstraint("contact_id", "provider", "ats_org", name="uq_ats_links"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    ats_org: Mapped[str] = mapped_column(String(300))
    remote_id: Mapped[str | None] = mapped_column(String(100))
    # creating: a create call may be in flight (a retry then knows the record may be ours);
    # created: the id is known, details (email, phone...) may still be missing; linked: done.
    state: Mapped[str] = mapped_column(String(20), default="creating")
    intent_at: Mapped[datetime | None]
    created_by_us: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_connection_id: Mapped[int | None] = mapped_column(BigId)
    # Job/project ids the record is attached to, and stage names applied, so retries skip them.
    attached_jobs: Mapped[list[Any]] = mapped_column(default=list)
    logged_events: Mapped[list[Any]] = mapped_column(default=list)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class AtsEffect(Base):
    """The effect ledger: one row per write Outbound makes in an ATS for a contact (attach to a
    job, a stage move, a logged email), keyed by (ATS, organisation, contact, effect). The row
    commits as an intent *before* the call and is marked done after it: a retry that finds an
    intent it did not finish asks the ATS whether the write landed before writing again."""

    __tablename__ = "ats_effects"
    __table_args__ = (
        UniqueConstraint("provider", "ats_org", "contact_id", "effect", name="uq_ats_effects"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    ats_org: Mapped[str] = mapped_column(String(300))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    effect: Mapped[str] = mapped_column(
        String(200)
    )  # attach:<job> | stage:<sync job> | activity:<event>
    state: Mapped[str] = mapped_column(String(10), default="intent")  # intent | done
    job_id: Mapped[int | None] = mapped_column(BigId)  # the sync job that wrote it
    began_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class SyncJob(Base):
    """Durable sync work, enqueued in the same transaction as its cause (see sync/claims.py)."""

    __tablename__ = "sync_jobs"
    __table_args__ = (
        Index("ix_sync_jobs_claim", "status", "run_after"),
        Index("ix_sync_jobs_order", "contact_id", "connection_id", "id"),
        # The claim goes connection by connection (claims.py).
        Index("ix_sync_jobs_connection", "connection_id", "status", "id"),
        # A contact's open jobs of one kind: the planner's "duplicate check first" (without it,
        # one NOT EXISTS scanned the whole table per due contact), cancelling on stop.
        Index("ix_sync_jobs_enrollment", "enrollment_id", "kind", "status"),
        # Retention sweeps finished jobs oldest first (open jobs have no finished_at).
        Index("ix_sync_jobs_age", "finished_at", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    connection_id: Mapped[int] = mapped_column(ForeignKey("ats_connections.id", ondelete="CASCADE"))
    # Null for work that is not about one contact (a list import).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    # sync_contact | check_duplicate | log_activity | set_stage | import_list
    kind: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending | running | done | failed | cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_expires_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class SyncBatch(Base):
    """A resync request: its progress is read from the jobs carrying its id, so a batch that
    queued nothing still answers (0 of 0)."""

    __tablename__ = "sync_batches"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncCall(Base):
    """The per-contact timeline: every ATS call made for a contact and its result."""

    __tablename__ = "sync_calls"
    __table_args__ = (
        # The dashboard's 429s in the last hour, without reading every call ever made.
        Index("ix_sync_calls_status_at", "status_code", "at"),
        # Retention sweeps calls oldest first, a chunk at a time (service/retention.py).
        Index("ix_sync_calls_age", "at", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[int | None] = mapped_column(BigId)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TimelineSummary(Base):
    """What retention removed from a contact's timeline, in counts: the ATS calls made for the
    contact (``enrollment_id`` null) or the email events of one enrollment. Retention adds to
    it as it deletes, in the same transaction; a reader sums a key's rows (two pruners racing
    may each write one)."""

    __tablename__ = "timeline_summaries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    # calls: {"calls": 40, "failed": 3}; events: {"sent": 42, "replied": 3, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    retention_days: Mapped[int] = mapped_column(Integer)
    pruned_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionCursor(Base):
    """Where retention's sweep of one table stands (time, id): rows still needed are passed
    over once per sweep instead of being read again by every chunk."""

    __tablename__ = "retention_cursors"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    after_at: Mapped[datetime | None]
    after_id: Mapped[int | None] = mapped_column(BigInteger)


class ImportRun(Base):
    """A background import from an ATS list into a sequence, with its progress and result."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    list_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    total: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    skipped_no_email: Mapped[int] = mapped_column(Integer, default=0)
    already_present: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # When the run last moved: made, rows counted, status changed (any update that does not
    # set it sets it). A CSV add writes it by the database's clock and shows itself interrupted
    # once it stops moving: its process died (service/people_import.py, STALLED_AFTER).
    progress_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Mailbox(Base):
    """A user's mailbox: SMTP to send, IMAP (or a local Maildir) to read replies.

    Passwords are Fernet-encrypted like ATS credentials and never serialised out.
    """

    __tablename__ = "mailboxes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    smtp_host: Mapped[str] = mapped_column(String(300))
    smtp_port: Mapped[int] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(10))  # ssl | starttls | none
    smtp_username: Mapped[str] = mapped_column(String(320))
    # imap | maildir (a local Maildir: self-hosted delivery and the demo)
    inbound_kind: Mapped[str] = mapped_column(String(10), default="imap")
    imap_host: Mapped[str | None] = mapped_column(String(300))
    imap_port: Mapped[int | None] = mapped_column(Integer)
    imap_security: Mapped[str | None] = mapped_column(String(10))
    imap_username: Mapped[str | None] = mapped_column(String(320))
    imap_folder: Mapped[str] = mapped_column(String(200), default="INBOX")
    sent_folder: Mapped[str | None] = mapped_column(String(200))
    maildir_path: Mapped[str | None] = mapped_column(String(500))
    secrets_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # password (SMTP/IMAP logins) | oauth (XOAUTH2 with tokens from oauth_provider; the
    # secrets then hold the refresh token and the current access token).
    auth_kind: Mapped[str] = mapped_column(String(10), default="password")
    oauth_provider: Mapped[str | None] = mapped_column(String(20))
    time_zone: Mapped[str] = mapped_column(String(60), default="UTC")
    window_start: Mapped[str] = mapped_column(String(5), default="09:00")
    window_end: Mapped[str] = mapped_column(String(5), default="17:00")
    send_days: Mapped[list[Any]] = mapped_column(default=lambda: [0, 1, 2, 3, 4])
    daily_limit: Mapped[int] = mapped_column(Integer, default=200)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | failing
    status_reason: Mapped[str | None] = mapped_column(Text)
    # IMAP position: a restart resumes after the last UID handled, per UIDVALIDITY.
    imap_uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    imap_last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_polled_at: Mapped[datetime | None]
    # One worker reads a mailbox at a time: it holds this lease while it polls.
    poll_lease_until: Mapped[datetime | None]
    # Sends are spread: the earliest moment the next one may be planned.
    next_slot_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxOAuthRequest(Base):
    """A "Connect with Google/Microsoft" begun and not yet come back: the state sent to the
    provider (only its SHA-256 kept) and the PKCE verifier (encrypted), used once."""

    __tablename__ = "mailbox_oauth_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    verifier_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # Where to send the person afterwards: the web page or the REST client's own URL.
    return_to: Mapped[str] = mapped_column(String(500), default="/mailbox")
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OutboundEmail(Base):
    """One step's email to one contact: durable send work, like a sync job.

    queued -> sending (committed before the SMTP call) -> sent | failed | uncertain.
    A send found in "sending" after a crash is never simply resent (see mail/sender.py).
    """

    __tablename__ = "outbound_emails"
    __table_args__ = (
        Index("ix_outbound_emails_claim", "status", "run_after"),
        # The planner's daily-limit count: today's emails of one mailbox.
        Index("ix_outbound_emails_mailbox_day", "mailbox_id", "created_at", "status"),
        # Inbound matching by the sender's address, when no Message-ID matched.
        Index("ix_outbound_emails_mailbox_to", "mailbox_id", "to_address", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    step_position: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    # Opaque token in tracking and unsubscribe URLs (never the row id: not guessable).
    token: Mapped[str] = mapped_column(String(40), unique=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    references: Mapped[str | None] = mapped_column(Text)
    links: Mapped[list[Any]] = mapped_column(default=list)
    tracking: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribe_link: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_expires_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class InboundMessage(Base):
    """Every message read from a mailbox, classified once (a re-read is recognised)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("mailbox_id", "dedup_key", name="uq_inbound_dedup"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(300))
    uid: Mapped[int | None] = mapped_column(BigInteger)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    # reply | auto_reply | bounce | unmatched
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """Addresses nobody on the team may email again: unsubscribed or hard-bounced."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("team_id", "email", name="uq_suppressions"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(20))  # unsubscribed | bounced
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectionLease(Base):
    """Which worker serves an ATS connection: one at a time, so the connection's rate limit
    holds across the whole fleet (see sync/claims.py)."""

    __tablename__ = "connection_leases"
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("ats_connections.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[str] = mapped_column(String(100), index=True)
    expires_at: Mapped[datetime]
    # Over its fair share, a worker stops claiming for the connection and hands it back once
    # its jobs in flight are done.
    releasing: Mapped[bool] = mapped_column(Boolean, default=False)


class WorkerHeartbeat(Base):
    """Live sync workers, so each can compute its fair share of connections."""

    __tablename__ = "worker_heartbeats"
    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime]
