"""Adding contacts to sequences, events on them, sentiment, resync: each change and the sync
work it causes commit in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
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
from outbound.store.jobs import enqueue, job_row
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


@dataclass
class AddResult:
    added: int
    already_present: int
    enrollment_ids: list[int]


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


def add_contacts(
    session: Session,
    caller: Caller,
    sequence_id: int,
    contacts: list[dict[str, Any]],
    batch_id: str | None = None,
    source: ImportSource | None = None,
) -> AddResult:
    """Upsert contacts by email and enroll them; enqueue their sync in the same transaction.

    ``source``: the people were imported from these ATS records; each is linked to its own.
    """
    if len(contacts) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} contacts per request", "contacts")
    seq = get_sequence(session, caller, sequence_id)
    snapshot = current_snapshot(session, seq)
    now = utcnow()

    by_email: dict[str, dict[str, Any]] = {}
    for data in contacts:
        by_email.setdefault(normalise_email(data["email"]), data)
    emails = list(by_email)

    existing: dict[str, int] = {}
    for start in range(0, len(emails), 900):
        chunk = emails[start : start + 900]
        existing.update(
            session.execute(
                select(Contact.email, Contact.id).where(
                    Contact.team_id == caller.team_id, Contact.email.in_(chunk)
                )
            ).all()
        )
    new_rows = [
        {
            "team_id": caller.team_id,
            "email": email,
            "custom_variables": by_email[email].get("custom_variables") or {},
            "created_at": now,
            **{k: by_email[email].get(k) for k in CONTACT_COLUMNS if k != "custom_variables"},
        }
        for email in emails
        if email not in existing
    ]
    if new_rows:
        session.execute(insert(Contact), new_rows)
        for start in range(0, len(new_rows), 900):
            chunk = [str(r["email"]) for r in new_rows[start : start + 900]]
            existing.update(
                session.execute(
                    select(Contact.email, Contact.id).where(
                        Contact.team_id == caller.team_id, Contact.email.in_(chunk)
                    )
                ).all()
            )

    contact_ids = [existing[e] for e in emails]
    enrolled: set[int] = set()
    for start in range(0, len(contact_ids), 900):
        enrolled.update(
            session.scalars(
                select(Enrollment.contact_id).where(
                    Enrollment.sequence_id == seq.id,
                    Enrollment.contact_id.in_(contact_ids[start : start + 900]),
                )
            )
        )
    to_enroll = [cid for cid in contact_ids if cid not in enrolled]
    sync_now = syncs_on_add(snapshot)
    imported: dict[int, tuple[str, str | None]] = {}
    if source is not None:
        email_of = {existing[e]: e for e in emails}
        imported = link_imported(
            session, source, snapshot, {cid: email_of[cid] for cid in to_enroll}, now
        )
    enrollment_rows = []
    for cid in to_enroll:
        remote_id, off_limits = imported.get(cid, (None, None))
        enrollment_rows.append(
            {
                "team_id": caller.team_id,
                "sequence_id": seq.id,
                "contact_id": cid,
                "added_by_id": caller.user_id,
                "state": "do_not_contact" if off_limits else "active",
                "sync_state": "pending" if sync_now else "not_synced",
                "error_code": "do_not_contact" if off_limits else None,
                "error_message": off_limits,
                "ats_record_id": remote_id,
                "sync_snapshot": snapshot,
                "added_at": now,
                "next_step": 0,
                "next_send_at": now if seq.steps else None,
                "soft_bounces": 0,
            }
        )
    if enrollment_rows:
        session.execute(insert(Enrollment), enrollment_rows)
    enrollment_ids: dict[int, int] = {}
    for start in range(0, len(to_enroll), 900):
        enrollment_ids.update(
            session.execute(
                select(Enrollment.contact_id, Enrollment.id).where(
                    Enrollment.sequence_id == seq.id,
                    Enrollment.contact_id.in_(to_enroll[start : start + 900]),
                )
            ).all()
        )

    if snapshot is not None:
        jobs = []
        for cid in to_enroll:
            jobs.extend(
                jobs_on_add(
                    caller.team_id,
                    snapshot,
                    cid,
                    enrollment_ids[cid],
                    batch_id,
                    now,
                    linked=cid in imported,
                )
            )
        enqueue(session, jobs)
    return AddResult(
        added=len(to_enroll),
        already_present=len(contact_ids) - len(to_enroll),
        enrollment_ids=[enrollment_ids[c] for c in to_enroll],
    )


def link_imported(
    session: Session,
    source: ImportSource,
    snapshot: dict[str, Any] | None,
    emails: dict[int, str],
    now: datetime,
) -> dict[int, tuple[str, str | None]]:
    """Link each imported contact to the record it came from, in this transaction.

    Returns, for the contacts the sequence will sync in that same ATS organisation, their
    record id and why the ATS says not to email them (or None): those need no lookup, no
    duplicate warning and no create. A contact already linked there keeps its record; one whose
    create may be in flight is left to the sync (it knows how to finish it).
    """
    same_ats = (
        snapshot is not None
        and snapshot["provider"] == source.provider
        and snapshot["ats_org"] == source.org
    )
    linked: dict[int, tuple[str, str | None]] = {}
    for cid, email in emails.items():
        record = source.records.get(email)
        if record is None:
            continue
        link = link_for(session, cid, source.provider, source.org)
        if link is None:
            link = AtsLink(
                contact_id=cid,
                provider=source.provider,
                ats_org=source.org,
                remote_id=record.remote_id,
                state="linked",
                created_by_us=False,
                created_by_connection_id=source.connection_id,
                attached_jobs=[],
                logged_events=[],
                linked_at=now,
            )
            session.add(link)
        elif not link.remote_id or link.state != "linked":
            continue
        if same_ats and snapshot is not None:
            reason = off_limits_reason(
                source.provider, record.do_not_contact, list(record.tags), snapshot
            )
            linked[cid] = (str(link.remote_id), reason)
    session.flush()
    return linked


def jobs_on_add(
    team_id: int,
    snapshot: dict[str, Any],
    contact_id: int,
    enrollment_id: int,
    batch_id: str | None,
    now: datetime,
    *,
    linked: bool = False,
) -> list[dict[str, Any]]:
    """``linked``: imported from the record it is linked to, so nothing to look up."""
    conn_id = snapshot["connection_id"]
    jobs = []
    if not linked and checks_ats_on_add(snapshot):
        # "Prior to being added": checked first, before our own sync could create the record.
        jobs.append(
            job_row(
                team_id,
                conn_id,
                contact_id,
                enrollment_id,
                "check_duplicate",
                batch_id=batch_id,
                now=now,
            )
        )
    if syncs_on_add(snapshot):
        jobs.append(
            job_row(
                team_id,
                conn_id,
                contact_id,
                enrollment_id,
                "sync_contact",
                batch_id=batch_id,
                now=now,
            )
        )
    return jobs


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
    """
    seq = get_sequence(session, caller, sequence_id)
    snapshot = current_snapshot(session, seq)
    if snapshot is None:
        raise Invalid("connect an ATS before resyncing", "connection")
    q = select(Enrollment).where(
        Enrollment.sequence_id == seq.id, Enrollment.team_id == caller.team_id
    )
    if enrollment_ids is not None:
        if len(enrollment_ids) > MAX_BULK:
            raise Invalid(f"at most {MAX_BULK} contacts per request", "enrollment_ids")
        q = q.where(Enrollment.id.in_(enrollment_ids))
    batch_id = uuid.uuid4().hex
    now = utcnow()
    session.add(SyncBatch(id=batch_id, team_id=caller.team_id, created_at=now))
    queued = skipped = 0
    rows: list[dict[str, Any]] = []
    conn_id = snapshot["connection_id"]
    for enrollment in session.scalars(q):
        already = enrollment.sync_state in ("synced", "pending")
        if enrollment.sync_state == "pending" or (already and not apply_current_settings):
            skipped += 1
            continue
        snap = dict(snapshot)
        # Resync is an explicit request to sync: it overrides a sync mode that waits for replies.
        snap["sync_mode"] = "on_add"
        snap["sync_enabled"] = True
        enrollment.sync_snapshot = snap
        enrollment.sync_state = "pending"
        if enrollment.error_code not in ("exists_in_ats", "do_not_contact"):
            enrollment.error_code = None
            enrollment.error_message = None
        if not already and checks_ats_on_add(snap):
            # As when added: looked up first, before our own sync could create the record.
            # Not part of the batch's count: it runs before the contact's sync, which is.
            rows.append(
                job_row(
                    caller.team_id,
                    conn_id,
                    enrollment.contact_id,
                    enrollment.id,
                    "check_duplicate",
                    now=now,
                )
            )
        rows.append(
            job_row(
                caller.team_id,
                conn_id,
                enrollment.contact_id,
                enrollment.id,
                "sync_contact",
                {"refresh": already},
                batch_id=batch_id,
                now=now,
            )
        )
        if backfill_activity:
            for event in session.scalars(
                select(ActivityEvent)
                .where(
                    ActivityEvent.enrollment_id == enrollment.id,
                    ActivityEvent.kind.in_(ACTIVITY_KINDS),
                )
                .order_by(ActivityEvent.id)
            ):
                rows.append(
                    job_row(
                        caller.team_id,
                        conn_id,
                        enrollment.contact_id,
                        enrollment.id,
                        "log_activity",
                        {"event_id": event.id},
                        batch_id=batch_id,
                        now=now,
                    )
                )
        queued += 1
    enqueue(session, rows)
    return batch_id, queued, skipped


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


def link_for(session: Session, contact_id: int, provider: str, org: str) -> AtsLink | None:
    return session.scalar(
        select(AtsLink).where(
            AtsLink.contact_id == contact_id, AtsLink.provider == provider, AtsLink.ats_org == org
        )
    )
