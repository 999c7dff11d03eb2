"""Adding contacts to sequences, events on them, sentiment, resync: each change and the sync
work it causes commit in one transaction."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Insert, Table, and_, bindparam, case, func, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from outbound.domain.contact_status import raise_engagement
from outbound.domain.sync_rules import (
    ACTIVITY_KINDS,
    ConnectionView,
    SequenceView,
    SettingsView,
    TrackingView,
    checks_ats_on_add,
    logs_activity,
    off_limits_reason,
    snapshot_sync_settings,
    stage_for_event,
    sync_allowed,
    syncs_on_add,
    syncs_on_event,
)
from outbound.service.caller import Caller
from outbound.service.contacts import CONTACT_COLUMNS, normalise_email
from outbound.service.errors import Invalid, NotFound
from outbound.service.sequences import get_sequence
from outbound.store.db import Database
from outbound.store.jobs import enqueue, enqueue_each, job_row
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    AtsEffect,
    AtsLink,
    Contact,
    Enrollment,
    IntegrationSettings,
    OutboundEmail,
    Sequence,
    SyncBatch,
    SyncJob,
    utcnow,
)

MAX_BULK = 10_000
# Rows per transaction in bulk work (add, resync, import): each chunk commits on its own, so the
# write lock (every SQLite transaction takes it) is held for tens of milliseconds at a time and
# other requests get the database between chunks.
CHUNK = 500

# Called after each chunk commits, with how many of the rows asked for are done so far.
Progress = Callable[[int], None]


@dataclass
class AddResult:
    added: int
    already_present: int
    enrollment_ids: list[int]
    # Contacts Outbound already had (by normalised email), with the fields this add updated.
    merged: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Those already in the sequence (by normalised email): counted in already_present.
    present: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ListedRecord:
    """The ATS record an imported person came from (a member of an ATS list), with what the
    list said about them that the do-not-contact read-back needs."""

    remote_id: str
    do_not_contact: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportSource:
    """Where a batch of imported people came from: each is that record, never looked up by
    email, never "Exists in …", never created again."""

    connection_id: int
    provider: str
    org: str
    records: dict[str, ListedRecord]  # by normalised email


def connection_view(conn: AtsConnection | None) -> ConnectionView | None:
    if conn is None or conn.disconnected_at is not None:
        return None
    return ConnectionView(conn.id, conn.provider, conn.ats_org, conn.status, conn.connected_at)


def settings_view(s: IntegrationSettings) -> SettingsView:
    return SettingsView(
        sync_mode=s.sync_mode,
        record_type=s.record_type,
        default_job_id=s.default_job_id,
        dedup_enabled=s.dedup_enabled,
        activity_tracking=s.activity_tracking,
        field_mapping=list(s.field_mapping or []),
        do_not_contact_tag=s.do_not_contact_tag,
    )


def current_tracking(session: Session, snapshot: dict[str, Any]) -> TrackingView | None:
    """The activity tracking of the account that syncs this contact, as it is now: it applies
    from the moment it is turned on, to contacts added before too (not frozen at add time)."""
    conn = session.get(AtsConnection, snapshot["connection_id"])
    settings = session.get(IntegrationSettings, conn.user_id) if conn is not None else None
    if settings is None:
        return None
    return TrackingView(settings.activity_tracking, settings.activity_tracking_since)


def current_snapshot(session: Session, seq: Sequence) -> dict[str, Any] | None:
    """The sequence owner's settings now: they govern contacts added now."""
    conn = session.scalar(select(AtsConnection).where(AtsConnection.user_id == seq.owner_id))
    settings = session.get(IntegrationSettings, seq.owner_id)
    assert settings is not None
    return snapshot_sync_settings(
        connection_view(conn),
        settings_view(settings),
        SequenceView(seq.sync_enabled, seq.record_type, seq.job_id),
    )


def insert_or_skip(session: Session, model: type[Any], *keys: str) -> Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING on either engine: a row another transaction
    stored first (a concurrent add, an earlier try of this one) is kept, not an error."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # On the table, not the ORM entity: one executemany per chunk whatever the rows' None
    # columns, without the ORM's per-row bookkeeping (see store/jobs.py).
    return dialect.insert(model.__table__).on_conflict_do_nothing(index_elements=list(keys))


@dataclass(frozen=True)
class _AddTarget:
    """What every chunk of one add needs, read once: the sequence and the settings in force."""

    team_id: int
    user_id: int
    sequence_id: int
    has_steps: bool
    snapshot: dict[str, Any] | None


def _add_target(session: Session, caller: Caller, sequence_id: int) -> _AddTarget:
    seq = get_sequence(session, caller, sequence_id)
    if seq.archived_at is not None:
        raise Invalid("this sequence is archived: unarchive it to add people", "sequence_id")
    snapshot = current_snapshot(session, seq)
    return _AddTarget(caller.team_id, caller.user_id, seq.id, bool(seq.steps), snapshot)


def _people(contacts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The people asked for, by normalised email, first mention first."""
    if len(contacts) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} contacts per request", "contacts")
    by_email: dict[str, dict[str, Any]] = {}
    for data in contacts:
        by_email.setdefault(normalise_email(data["email"]), data)
    return list(by_email.items())


def add_contacts(
    session: Session,
    caller: Caller,
    sequence_id: int,
    contacts: list[dict[str, Any]],
    batch_id: str | None = None,
    source: ImportSource | None = None,
) -> AddResult:
    """Upsert contacts by email and enroll them; enqueue their sync in the same transaction.

    All in the caller's transaction (an import page, the demo); a request adding thousands
    uses ``add_contacts_in_chunks``. Adds merge: a contact enrolled by a concurrent add (or an
    earlier try of this one) counts as already present, never as a conflict.

    ``source``: the people were imported from these ATS records; each is linked to its own.
    """
    people = _people(contacts)
    target = _add_target(session, caller, sequence_id)
    result = AddResult(0, 0, [])
    # One transaction is one chunk: its contacts all go in sorted, whatever their number, so
    # it cannot deadlock with another add (see _add_chunk).
    _add_chunk(session, target, people, batch_id, source, utcnow(), result)
    return result


def add_contacts_in_chunks(
    db: Database,
    caller: Caller,
    sequence_id: int,
    contacts: list[dict[str, Any]],
    batch_id: str | None = None,
    *,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
) -> AddResult:
    """``add_contacts`` with each chunk (its contacts, enrollments and their sync jobs) committed
    in its own short transaction, so a 10,000-contact add never holds the database for long.

    If it stops half-way (a crash, a lost connection), the chunks done stay done, each whole:
    no enrollment without its sync jobs. Repeating the same add, as a client does after an
    error, merges: the rest is added, nobody twice (the first ones count as already present).
    """
    people = _people(contacts)
    with db.session() as session:
        target = _add_target(session, caller, sequence_id)
    now = utcnow()
    result = AddResult(0, 0, [])
    for start in range(0, len(people), chunk_size):
        with db.session() as session:
            chunk = people[start : start + chunk_size]
            _add_chunk(session, target, chunk, batch_id, None, now, result)
        if progress is not None:
            progress(min(start + chunk_size, len(people)))
    return result


def _add_chunk(
    session: Session,
    target: _AddTarget,
    people: list[tuple[str, dict[str, Any]]],
    batch_id: str | None,
    source: ImportSource | None,
    now: datetime,
    result: AddResult,
) -> None:
    """One chunk in a fixed number of bulk statements, whatever its size. ON CONFLICT DO
    NOTHING makes overlapping adds merge: whoever inserts an enrollment first enqueues its sync;
    the other sees it as already present.

    No deadlock between overlapping adds on PostgreSQL: contacts (shared by the team's
    sequences) go in sorted by email, so two adds take their locks in one order; adds to one
    sequence take turns chunk by chunk on the sequence's row, so its enrollments can go in in
    the order asked for (the order the contacts page and the planner follow)."""
    locked = session.scalar(
        select(Sequence.id)
        .where(Sequence.id == target.sequence_id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: foreign-key checks still pass
    )
    if locked is None:  # deleted while a chunked add ran
        raise NotFound(f"sequence {target.sequence_id} not found", "sequence_id")
    emails = [email for email, _ in people]
    contact_rows = [
        {
            "team_id": target.team_id,
            "email": email,
            "custom_variables": data.get("custom_variables") or {},
            "created_at": now,
            **{k: data.get(k) for k in CONTACT_COLUMNS if k != "custom_variables"},
        }
        for email, data in sorted(people, key=lambda p: p[0])
    ]
    stored = insert_or_skip(session, Contact, "team_id", "email").returning(
        Contact.email, Contact.id
    )
    # The new ones come back with their ids; only those already stored are looked up, and get
    # the non-empty fields given now (re-adding someone updates them; nothing is blanked).
    ids: dict[str, int] = dict(session.execute(stored, contact_rows).all())
    known = sorted(email for email in emails if email not in ids)
    if known:
        ids.update(_merge_known(session, target.team_id, dict(people), known, result))
    contact_ids = [ids[email] for email in emails]

    imported: dict[int, tuple[str, str | None]] = {}
    if source is not None:
        enrolled = set(
            session.scalars(
                select(Enrollment.contact_id).where(
                    Enrollment.sequence_id == target.sequence_id,
                    Enrollment.contact_id.in_(contact_ids),
                )
            )
        )
        imported = link_imported(
            session,
            source,
            target.snapshot,
            {ids[e]: e for e in emails if ids[e] not in enrolled},
            now,
        )

    sync_now = syncs_on_add(target.snapshot)
    enrollment_rows = []
    for cid in contact_ids:
        remote_id, off_limits = imported.get(cid, (None, None))
        enrollment_rows.append(
            {
                "team_id": target.team_id,
                "sequence_id": target.sequence_id,
                "contact_id": cid,
                "added_by_id": target.user_id,
                "state": "do_not_contact" if off_limits else "active",
                "sync_state": "pending" if sync_now else "not_synced",
                "error_code": "do_not_contact" if off_limits else None,
                "error_message": off_limits,
                "ats_record_id": remote_id,
                "sync_snapshot": target.snapshot,
                "added_at": now,
                "next_step": 0,
                "next_send_at": now if target.has_steps else None,
                "soft_bounces": 0,
            }
        )
    enroll = insert_or_skip(session, Enrollment, "sequence_id", "contact_id").returning(
        Enrollment.contact_id, Enrollment.id
    )
    # Only the rows this statement inserted come back: those are the ones this add owns.
    added: dict[int, int] = dict(session.execute(enroll, enrollment_rows).all())

    new = [cid for cid in contact_ids if cid in added]  # in the order asked for
    snapshot = target.snapshot
    if snapshot is not None and new:
        conn_id = snapshot["connection_id"]
        check = checks_ats_on_add(snapshot)
        if check and not syncs_on_add(snapshot):
            # "Prior to being added": looked up now, though the record is made later. An
            # imported person is linked: nothing to look up.
            unlinked = [added[cid] for cid in new if cid not in imported]
            enqueue_each(
                session,
                "check_duplicate",
                unlinked,
                team_id=target.team_id,
                connection_id=conn_id,
                batch_id=batch_id,
                now=now,
            )
        if syncs_on_add(snapshot):
            # The sync's own look-up before it creates the record is the same question as the
            # duplicate check: one call answers both (a "check_and_sync" job). An imported
            # person is linked to the record they came from: nothing to check.
            checked = {cid for cid in new if check and cid not in imported}
            for kind, enrollment_ids in (
                ("check_and_sync", [added[cid] for cid in new if cid in checked]),
                ("sync_contact", [added[cid] for cid in new if cid not in checked]),
            ):
                enqueue_each(
                    session,
                    kind,
                    enrollment_ids,
                    team_id=target.team_id,
                    connection_id=conn_id,
                    batch_id=batch_id,
                    now=now,
                )
    result.added += len(new)
    result.already_present += len(contact_ids) - len(new)
    result.enrollment_ids += [added[cid] for cid in new]
    result.present.update(e for e, cid in zip(emails, contact_ids, strict=True) if cid not in added)


# What a re-add may change on a stored contact: every field but the email.
_MERGED = tuple(k for k in CONTACT_COLUMNS if k != "custom_variables")


def _merge_known(
    session: Session,
    team_id: int,
    data: dict[str, dict[str, Any]],
    known: list[str],
    result: AddResult,
) -> dict[str, int]:
    """Contacts already stored: their ids, and their non-empty new fields written in one
    executemany UPDATE (custom variables merged by name). Locked in email order, FOR NO KEY
    UPDATE (enrollment inserts' foreign-key checks still pass), as the inserts are ordered:
    two adds cannot deadlock on them. Returns their ids by email."""
    table = cast(Table, Contact.__table__)
    rows = session.execute(
        select(Contact.id, Contact.email, *(getattr(Contact, k) for k in CONTACT_COLUMNS))
        .where(Contact.team_id == team_id, Contact.email.in_(known))
        .order_by(Contact.email)
        .with_for_update(key_share=True)
    ).all()
    changes = []
    for row in rows:
        given = data[row.email]
        values = {k: getattr(row, k) for k in CONTACT_COLUMNS}
        changed = [k for k in _MERGED if given.get(k) and given[k] != values[k]]
        values.update({k: given[k] for k in changed})
        variables = {**(row.custom_variables or {})}
        variables.update({k: v for k, v in (given.get("custom_variables") or {}).items() if v})
        if variables != (row.custom_variables or {}):
            changed.append("custom_variables")
            values["custom_variables"] = variables
        result.merged[row.email] = tuple(changed)
        if changed:
            changes.append({"b_id": row.id, **{f"b_{k}": values[k] for k in CONTACT_COLUMNS}})
    if changes:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in CONTACT_COLUMNS}),
            changes,
        )
    return {row.email: row.id for row in rows}


def link_imported(
    session: Session,
    source: ImportSource,
    snapshot: dict[str, Any] | None,
    emails: dict[int, str],
    now: datetime,
) -> dict[int, tuple[str, str | None]]:
    """Link each imported contact to the record it came from, in this transaction (two
    statements for the whole chunk).

    Returns, for the contacts the sequence will sync in that same ATS organisation, their
    record id and why the ATS says not to email them (or None): those need no lookup, no
    duplicate warning and no create. A contact already linked there keeps its record; one whose
    create may be in flight is left to the sync (it knows how to finish it).
    """
    records = {cid: source.records[e] for cid, e in emails.items() if e in source.records}
    if not records:
        return {}
    rows: list[dict[str, Any]] = [
        {
            "contact_id": cid,
            "provider": source.provider,
            "ats_org": source.org,
            "remote_id": records[cid].remote_id,
            "state": "linked",
            "intent_at": None,
            "created_by_us": False,
            "created_by_connection_id": source.connection_id,
            "attached_jobs": [],
            "logged_events": [],
            "linked_at": now,
        }
        for cid in sorted(records)
    ]
    session.execute(insert_or_skip(session, AtsLink, "contact_id", "provider", "ats_org"), rows)
    same_ats = (
        snapshot is not None
        and snapshot["provider"] == source.provider
        and snapshot["ats_org"] == source.org
    )
    if not same_ats or snapshot is None:
        return {}
    links = session.execute(
        select(AtsLink.contact_id, AtsLink.remote_id).where(
            AtsLink.provider == source.provider,
            AtsLink.ats_org == source.org,
            AtsLink.contact_id.in_(list(records)),
            AtsLink.state == "linked",
            AtsLink.remote_id.is_not(None),
        )
    )
    linked: dict[int, tuple[str, str | None]] = {}
    for cid, remote_id in links:
        record = records[cid]
        reason = off_limits_reason(
            source.provider, record.do_not_contact, list(record.tags), snapshot
        )
        linked[cid] = (str(remote_id), reason)
    return linked


def get_enrollment(session: Session, caller: Caller, enrollment_id: int) -> Enrollment:
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.team_id != caller.team_id:
        raise NotFound(f"enrollment {enrollment_id} not found", "enrollment_id")
    return enrollment


@dataclass(frozen=True)
class WrittenEffect:
    """One write in the ATS for a contact, from the effect ledger, in words a person reads."""

    what: str  # "Put on job 1f2e…", "Email logged", "Stage moved"
    confirmed: bool  # done; False: a try began it and the outcome is not recorded yet
    provider: str
    began_at: datetime
    done_at: datetime | None


def written_effects(session: Session, caller: Caller, enrollment_id: int) -> list[WrittenEffect]:
    """What Outbound wrote in the ATS for this contact (every organisation), oldest first."""
    enrollment = get_enrollment(session, caller, enrollment_id)
    rows = session.scalars(
        select(AtsEffect)
        .where(AtsEffect.contact_id == enrollment.contact_id)
        .order_by(AtsEffect.id)
    )
    return [
        WrittenEffect(_effect_words(r.effect), r.state == "done", r.provider, r.began_at, r.done_at)
        for r in rows
    ]


def _effect_words(effect: str) -> str:
    kind, _, target = effect.partition(":")
    if kind == "attach":
        return f"Put on job/project {target}"
    if kind == "activity":
        return "Email logged"
    if kind == "stage":
        return "Pipeline stage moved"
    if kind == "create":
        return "Record created"
    if kind == "details":
        return "Record details completed"
    if kind == "update":
        return "Record fields updated"
    return effect


def list_enrollments(
    session: Session,
    caller: Caller,
    sequence_id: int,
    needs_attention: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[Enrollment, Contact]]:
    get_sequence(session, caller, sequence_id)
    q = (
        select(Enrollment, Contact)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .where(Enrollment.sequence_id == sequence_id, Enrollment.team_id == caller.team_id)
    )
    if needs_attention:
        q = q.where(Enrollment.error_code.is_not(None))
    rows = session.execute(q.order_by(Enrollment.id).limit(limit).offset(offset)).all()
    return list(rows)


def remove_enrollment(session: Session, caller: Caller, enrollment_id: int) -> None:
    enrollment = get_enrollment(session, caller, enrollment_id)
    # Pending sync work for this enrollment goes with it; what reached the ATS stays there.
    session.execute(
        update(SyncJob)
        .where(SyncJob.enrollment_id == enrollment.id, SyncJob.status == "pending")
        .values(status="cancelled", finished_at=utcnow())
    )
    session.delete(enrollment)


def clear_error(session: Session, caller: Caller, enrollment_id: int) -> Enrollment:
    enrollment = get_enrollment(session, caller, enrollment_id)
    enrollment.error_code = None
    enrollment.error_message = None
    return enrollment


# Events after which no further step goes out.
STOPPING_EVENTS = {"replied": "replied", "bounced": "bounced", "unsubscribed": "unsubscribed"}


def stop_sending(session: Session, enrollment: Enrollment) -> int | None:
    """No more steps: cancel planned sends (never one already handed to SMTP). Returns the
    earliest step cancelled, so a pause can resume from it."""
    enrollment.next_send_at = None
    cancelled = session.scalars(
        select(OutboundEmail).where(
            OutboundEmail.enrollment_id == enrollment.id, OutboundEmail.status == "queued"
        )
    ).all()
    for email in cancelled:
        email.status = "cancelled"
    return min((e.step_position for e in cancelled), default=None)


def after_sent(
    session: Session, enrollment: Enrollment, sent_at: datetime, day_seconds: float
) -> dict[str, Any]:
    """Move the contact to its next step (or finished) once a step is out."""
    seq = session.get(Sequence, enrollment.sequence_id)
    assert seq is not None
    enrollment.next_step += 1
    if enrollment.state != "active":
        return {"next": None}
    if enrollment.next_step >= len(seq.steps):
        enrollment.state = "finished"
        enrollment.next_send_at = None
        return {"next": None}
    delay = seq.steps[enrollment.next_step].delay_days * day_seconds
    enrollment.next_send_at = sent_at + timedelta(seconds=delay)
    return {"next": enrollment.next_send_at}


def record_event(
    session: Session,
    enrollment: Enrollment,
    kind: str,
    *,
    sentiment: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    occurred_at: datetime | None = None,
    email_id: int | None = None,
) -> ActivityEvent:
    """Store an email event and hand it to the sync engine in the same transaction."""
    occurred_at = occurred_at or utcnow()
    first_send = kind == "sent" and not session.scalar(
        select(func.count(ActivityEvent.id)).where(
            ActivityEvent.enrollment_id == enrollment.id, ActivityEvent.kind == "sent"
        )
    )
    event = ActivityEvent(
        team_id=enrollment.team_id,
        enrollment_id=enrollment.id,
        contact_id=enrollment.contact_id,
        kind=kind,
        sentiment=sentiment,
        subject=subject,
        body=body,
        occurred_at=occurred_at,
        email_id=email_id,
    )
    session.add(event)
    session.flush()
    if kind in STOPPING_EVENTS:
        stop_sending(session, enrollment)
        if enrollment.state != "do_not_contact":
            enrollment.state = STOPPING_EVENTS[kind]
    elif kind == "sentiment":
        enrollment.sentiment = sentiment
    enrollment.engagement = raise_engagement(enrollment.engagement, kind)

    snap = enrollment.sync_snapshot
    if not sync_allowed(snap) or snap is None:
        return event

    def job(kind_: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return job_row(
            enrollment.team_id,
            snap["connection_id"],
            enrollment.contact_id,
            enrollment.id,
            kind_,
            payload,
        )

    rows = []
    triggered = enrollment.sync_state != "not_synced"
    if not triggered and syncs_on_event(snap, kind, sentiment):
        # The trigger of on_reply / on_interested: create the record, then log what came
        # before it (since the connection existed), then this event.
        enrollment.sync_state = "pending"
        triggered = True
        rows.append(job("sync_contact"))
        earlier = session.scalars(
            select(ActivityEvent)
            .where(ActivityEvent.enrollment_id == enrollment.id, ActivityEvent.id != event.id)
            .order_by(ActivityEvent.id)
        )
        tracking = current_tracking(session, snap)
        rows += [
            job("log_activity", {"event_id": prior.id})
            for prior in earlier
            if logs_activity(snap, tracking, prior.kind, prior.occurred_at)
        ]
    if triggered:
        if kind in ACTIVITY_KINDS and logs_activity(
            snap, current_tracking(session, snap), kind, occurred_at
        ):
            rows.append(job("log_activity", {"event_id": event.id}))
        stage = stage_for_event(kind, sentiment, first_send)
        if stage is not None and snap.get("job_id"):
            rows.append(job("set_stage", {"stage": stage}))
    enqueue(session, rows)
    return event


def set_sentiment(
    session: Session, caller: Caller, enrollment_id: int, sentiment: str
) -> Enrollment:
    enrollment = get_enrollment(session, caller, enrollment_id)
    record_event(session, enrollment, "sentiment", sentiment=sentiment)
    return enrollment


@dataclass(frozen=True)
class _ResyncPlan:
    team_id: int
    sequence_id: int
    batch_id: str
    snapshot: dict[str, Any]
    enrollment_ids: list[int] | None  # sorted, unique; None: the whole sequence
    backfill_activity: bool
    apply_current_settings: bool


def _resync_plan(
    session: Session,
    caller: Caller,
    sequence_id: int,
    enrollment_ids: list[int] | None,
    backfill_activity: bool,
    apply_current_settings: bool,
) -> _ResyncPlan:
    seq = get_sequence(session, caller, sequence_id)
    snapshot = current_snapshot(session, seq)
    if snapshot is None:
        raise Invalid("connect an ATS before resyncing", "connection")
    if enrollment_ids is not None and len(enrollment_ids) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} contacts per request", "enrollment_ids")
    batch_id = uuid.uuid4().hex
    session.add(SyncBatch(id=batch_id, team_id=caller.team_id, created_at=utcnow()))
    # Resync is an explicit request to sync: it overrides a sync mode that waits for replies.
    snapshot = {**snapshot, "sync_mode": "on_add", "sync_enabled": True}
    return _ResyncPlan(
        caller.team_id,
        seq.id,
        batch_id,
        snapshot,
        None if enrollment_ids is None else sorted(set(enrollment_ids)),
        backfill_activity,
        apply_current_settings,
    )


def resync(
    session: Session,
    caller: Caller,
    sequence_id: int,
    enrollment_ids: list[int] | None,
    *,
    backfill_activity: bool = False,
    apply_current_settings: bool = False,
) -> tuple[str, int, int]:
    """Backfill contacts that never synced (added before the connection existed, or failed).

    Returns (batch id, queued, skipped). By default contacts already synced are not touched
    (guides). A contact synced for the first time is checked as adding checks it (with
    deduplication on, an email the ATS already had shows "Exists in …"). Opt-in, beyond the
    guides: ``apply_current_settings`` re-syncs synced contacts too, updating their existing
    ATS record under today's settings and mapping (never a second record);
    ``backfill_activity`` also logs their emails from before the connection existed.
    The batch exists even when it queued nothing: its progress then reads 0 of 0.

    All in the caller's transaction, read chunk by chunk (memory does not grow with the
    sequence); a request over a whole sequence uses ``resync_in_chunks``.
    """
    plan = _resync_plan(
        session, caller, sequence_id, enrollment_ids, backfill_activity, apply_current_settings
    )
    queued = skipped = 0
    after: int | None = 0
    while after is not None:
        done, passed, after = _resync_chunk(session, plan, after, CHUNK)
        queued, skipped = queued + done, skipped + passed
    return plan.batch_id, queued, skipped


def resync_in_chunks(
    db: Database,
    caller: Caller,
    sequence_id: int,
    enrollment_ids: list[int] | None,
    *,
    backfill_activity: bool = False,
    apply_current_settings: bool = False,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
) -> tuple[str, int, int]:
    """``resync`` with each chunk of contacts (their new state and sync jobs) committed in its
    own short transaction. The batch commits first, so its progress answers from the start and
    grows as chunks commit. Stopped half-way, the chunks done stay queued; a new resync skips
    them (pending) and queues the rest."""
    with db.session() as session:
        plan = _resync_plan(
            session, caller, sequence_id, enrollment_ids, backfill_activity, apply_current_settings
        )
    queued = skipped = 0
    after: int | None = 0
    while after is not None:
        with db.session() as session:
            done, passed, after = _resync_chunk(session, plan, after, chunk_size)
        queued, skipped = queued + done, skipped + passed
        if progress is not None:
            progress(queued + skipped)
    return plan.batch_id, queued, skipped


# A resync keeps these warnings: they are about the person, not about a failed sync.
KEPT_ERRORS = ("exists_in_ats", "do_not_contact")


def _resync_chunk(
    session: Session, plan: _ResyncPlan, after: int, size: int
) -> tuple[int, int, int | None]:
    """Up to ``size`` enrollments with ids above ``after`` (keyset paging: no OFFSET, nothing
    held between chunks), in a fixed number of statements whatever the size: read the page,
    one guarded UPDATE, their earlier emails if asked, an INSERT … SELECT per kind of job.

    Returns (queued, skipped, the id to continue after or None when done)."""
    page = select(Enrollment.id, Enrollment.sync_state).where(
        Enrollment.sequence_id == plan.sequence_id, Enrollment.team_id == plan.team_id
    )
    cursor: int | None
    if plan.enrollment_ids is None:
        page = page.where(Enrollment.id > after).order_by(Enrollment.id).limit(size)
    else:
        start = bisect.bisect_right(plan.enrollment_ids, after)
        wanted = plan.enrollment_ids[start : start + size]
        page = page.where(Enrollment.id.in_(wanted))
        cursor = wanted[-1] if start + size < len(plan.enrollment_ids) else None
    rows = session.execute(page).all()
    if plan.enrollment_ids is None:
        cursor = rows[-1].id if len(rows) == size else None

    fresh = [r.id for r in rows if r.sync_state not in ("synced", "pending")]
    again = [r.id for r in rows if r.sync_state == "synced"] if plan.apply_current_settings else []
    if not fresh and not again:
        return 0, len(rows), cursor
    keep = Enrollment.error_code.in_(KEPT_ERRORS)
    # Guarded by the state read: a contact a worker moved meanwhile is left alone (skipped).
    picked = update(Enrollment).where(
        or_(
            and_(Enrollment.id.in_(fresh), Enrollment.sync_state.not_in(("synced", "pending"))),
            and_(Enrollment.id.in_(again), Enrollment.sync_state == "synced"),
        )
    )
    updated = sorted(
        session.execute(
            picked.values(
                sync_snapshot=plan.snapshot,
                sync_state="pending",
                error_code=case((keep, Enrollment.error_code), else_=null()),
                error_message=case((keep, Enrollment.error_message), else_=null()),
            )
            .returning(Enrollment.id, Enrollment.contact_id)
            .execution_options(synchronize_session="fetch")
        ).all()
    )

    earlier: dict[int, list[int]] = {}
    if plan.backfill_activity:
        for enrollment_id, event_id in session.execute(
            select(ActivityEvent.enrollment_id, ActivityEvent.id)
            .where(
                ActivityEvent.enrollment_id.in_([u.id for u in updated]),
                ActivityEvent.kind.in_(ACTIVITY_KINDS),
            )
            .order_by(ActivityEvent.enrollment_id, ActivityEvent.id)
        ):
            earlier.setdefault(enrollment_id, []).append(event_id)

    now = utcnow()
    conn_id = plan.snapshot["connection_id"]
    first_time = set(fresh)
    new = [u.id for u in updated if u.id in first_time]
    # As when added: contacts synced for the first time are checked for duplicates by the
    # sync's own look-up before it creates their record (one call answers both).
    first_kind = "check_and_sync" if checks_ats_on_add(plan.snapshot) else "sync_contact"
    for kind, ids, refresh in (
        (first_kind, new, False),
        ("sync_contact", [u.id for u in updated if u.id not in first_time], True),
    ):
        enqueue_each(
            session,
            kind,
            ids,
            team_id=plan.team_id,
            connection_id=conn_id,
            payload={"refresh": refresh},
            batch_id=plan.batch_id,
            now=now,
        )
    # Their emails from before, each logged after the contact's sync (jobs run in id order).
    enqueue(
        session,
        (
            job_row(
                plan.team_id,
                conn_id,
                contact_id,
                enrollment_id,
                "log_activity",
                {"event_id": event_id},
                plan.batch_id,
                now,
            )
            for enrollment_id, contact_id in updated
            for event_id in earlier.get(enrollment_id, [])
        ),
    )
    return len(updated), len(rows) - len(updated), cursor


def batch_progress(session: Session, caller: Caller, batch_id: str) -> dict[str, int]:
    counts = dict(
        session.execute(
            select(SyncJob.status, func.count(SyncJob.id))
            .where(SyncJob.batch_id == batch_id, SyncJob.team_id == caller.team_id)
            .group_by(SyncJob.status)
        ).all()
    )
    total = sum(counts.values())
    if total == 0:
        batch = session.get(SyncBatch, batch_id)
        if batch is None or batch.team_id != caller.team_id:
            raise NotFound(f"batch {batch_id} not found", "batch_id")
    return {
        "total": total,
        "done": counts.get("done", 0),
        "failed": counts.get("failed", 0),
        "pending": counts.get("pending", 0) + counts.get("running", 0),
    }
