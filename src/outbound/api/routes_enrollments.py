"""Contacts in sequences: bulk add, events, sentiment, errors, resync, import, timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from outbound.api.deps import BoxDep, CallerDep, DbDep, ReadSessionDep, SessionDep, SettingsDep
from outbound.api.schemas import (
    MAX_ID,
    BatchId,
    BatchProgress,
    ContactOut,
    DbId,
    EffectOut,
    EmailOut,
    EnrollIn,
    EnrollmentOut,
    EnrollResult,
    EventIn,
    EventOut,
    ImportIn,
    ImportOut,
    ResumeIn,
    ResyncIn,
    ResyncOut,
    SentimentIn,
    TimelineEntry,
    TimelineSummaryOut,
)
from outbound.domain.contact_status import contact_status
from outbound.service import ats_records, enrollments, imports, outreach
from outbound.service import timeline as timelines
from outbound.service.contacts import get_contact
from outbound.store.models import Contact, Enrollment

router = APIRouter(tags=["enrollments"])


def enrollment_out(enrollment: Enrollment, contact: Contact) -> EnrollmentOut:
    return EnrollmentOut(
        id=enrollment.id,
        sequence_id=enrollment.sequence_id,
        contact=ContactOut.model_validate(contact),
        state=enrollment.state,
        sentiment=enrollment.sentiment,
        sync_state=enrollment.sync_state,
        error_code=enrollment.error_code,
        error_message=enrollment.error_message,
        ats_record_id=enrollment.ats_record_id,
        sync_snapshot=_public_snapshot(enrollment.sync_snapshot),
        added_at=enrollment.added_at,
        status=contact_status(enrollment.state, enrollment.engagement, enrollment.error_code),
        engagement=enrollment.engagement,
        next_step=enrollment.next_step,
        next_send_at=enrollment.next_send_at,
        paused_until=enrollment.paused_until,
    )


def _public_snapshot(snapshot: dict[str, object] | None) -> dict[str, object] | None:
    if snapshot is None:
        return None
    return {k: v for k, v in snapshot.items() if k != "connection_id"}


@router.post("/sequences/{sequence_id}/contacts", response_model=EnrollResult, status_code=201)
def add_contacts(sequence_id: DbId, body: EnrollIn, db: DbDep, caller: CallerDep) -> object:
    """Committed chunk by chunk (no session held here): other requests and the workers get
    the database between chunks of a big list. Answered once every chunk is committed."""
    result = enrollments.add_contacts_in_chunks(
        db, caller, sequence_id, [c.model_dump() for c in body.contacts]
    )
    return EnrollResult(**result.__dict__)


@router.get("/sequences/{sequence_id}/contacts", response_model=list[EnrollmentOut])
def list_enrollments(
    sequence_id: DbId,
    session: ReadSessionDep,
    caller: CallerDep,
    needs_attention: bool = False,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> object:
    rows = enrollments.list_enrollments(
        session, caller, sequence_id, needs_attention, limit, offset
    )
    return [enrollment_out(e, c) for e, c in rows]


@router.get("/enrollments/{enrollment_id}", response_model=EnrollmentOut)
def get_enrollment(enrollment_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    e = enrollments.get_enrollment(session, caller, enrollment_id)
    return enrollment_out(e, get_contact(session, caller, e.contact_id))


@router.delete("/enrollments/{enrollment_id}", status_code=204)
def remove_enrollment(enrollment_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    enrollments.remove_enrollment(session, caller, enrollment_id)


@router.post("/enrollments/{enrollment_id}/clear-error", response_model=EnrollmentOut)
def clear_error(enrollment_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    e = enrollments.clear_error(session, caller, enrollment_id)
    return enrollment_out(e, get_contact(session, caller, e.contact_id))


@router.post("/enrollments/{enrollment_id}/resume", response_model=EnrollmentOut)
def resume(
    enrollment_id: DbId,
    body: ResumeIn,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> object:
    """Go on sending after a problem was fixed (missing variable, refused or unknown send,
    a pause): clears the error; the next step goes out in the next sending slot."""
    e = outreach.resume(
        session, caller, enrollment_id, resend=body.resend, day_seconds=settings.mail_day_seconds
    )
    return enrollment_out(e, get_contact(session, caller, e.contact_id))


@router.get("/enrollments/{enrollment_id}/emails", response_model=list[EmailOut])
def emails(enrollment_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    """The emails of this contact's sequence: planned, sent, failed or of unknown fate."""
    return outreach.emails_of(session, caller, enrollment_id)


@router.post("/enrollments/{enrollment_id}/sentiment", response_model=EnrollmentOut)
def set_sentiment(
    enrollment_id: DbId, body: SentimentIn, session: SessionDep, caller: CallerDep
) -> object:
    e = enrollments.set_sentiment(session, caller, enrollment_id, body.sentiment)
    return enrollment_out(e, get_contact(session, caller, e.contact_id))


@router.post("/enrollments/{enrollment_id}/events", response_model=EventOut, status_code=201)
def record_event(
    enrollment_id: DbId, body: EventIn, session: SessionDep, caller: CallerDep
) -> object:
    """Record an email event (the mail pipeline's entry point; also for external senders)."""
    e = enrollments.get_enrollment(session, caller, enrollment_id)
    return enrollments.record_event(
        session, e, body.kind, subject=body.subject, body=body.body, occurred_at=body.occurred_at
    )


@router.get("/enrollments/{enrollment_id}/timeline", response_model=list[TimelineEntry])
def timeline(
    enrollment_id: DbId,
    session: SessionDep,
    caller: CallerDep,
    request: Request,
    response: Response,
    limit: int = Query(
        timelines.PAGE_SIZE,
        ge=1,
        le=timelines.MAX_PAGE_SIZE,
        description="Calls per page (summaries are not counted)",
    ),
    before: int | None = Query(
        None, ge=1, le=MAX_ID, description="Only calls before this one: the page's first id"
    ),
) -> object:
    """The ATS calls made for this contact, when, with what result: the latest page, oldest
    first within it. When earlier calls exist, the `Link` header (rel="next") gives the page
    before (`before` = this page's first id). The oldest page starts with what retention
    removed, in summary (entries of kind "summary")."""
    page = timelines.timeline_page(session, caller, enrollment_id, limit, before)
    if page.next_before is not None:
        url = request.url.include_query_params(before=page.next_before, limit=limit)
        response.headers["Link"] = f'<{url}>; rel="next"'
    summaries = [
        TimelineEntry(
            kind="summary",
            at=s.last_at,
            method="",
            path="",
            status_code=None,
            outcome=s.text,
            attempt=0,
            summary=TimelineSummaryOut.model_validate(s),
        )
        for s in page.summaries
    ]
    return [*summaries, *(TimelineEntry.model_validate(c) for c in page.calls)]


@router.get("/enrollments/{enrollment_id}/effects", response_model=list[EffectOut])
def effects(enrollment_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    """What Outbound wrote in the ATS for this contact, from the effect ledger."""
    return enrollments.written_effects(session, caller, enrollment_id)


@router.get("/enrollments/{enrollment_id}/dry-run")
def dry_run(
    enrollment_id: DbId, db: DbDep, caller: CallerDep, box: BoxDep, settings: SettingsDep
) -> dict[str, Any]:
    """What a sync of this contact would write to the ATS, without writing anything."""
    return ats_records.preview_sync(db, caller, box, settings, enrollment_id)


@router.post("/sequences/{sequence_id}/resync", response_model=ResyncOut, status_code=202)
def resync(sequence_id: DbId, body: ResyncIn, db: DbDep, caller: CallerDep) -> object:
    batch_id, queued, skipped = enrollments.resync_in_chunks(
        db,
        caller,
        sequence_id,
        body.enrollment_ids,
        backfill_activity=body.backfill_activity,
        apply_current_settings=body.apply_current_settings,
    )
    return ResyncOut(batch_id=batch_id, queued=queued, skipped_already_synced=skipped)


@router.get("/sync-batches/{batch_id}", response_model=BatchProgress)
def batch_progress(batch_id: BatchId, session: SessionDep, caller: CallerDep) -> object:
    return enrollments.batch_progress(session, caller, batch_id)


@router.post("/sequences/{sequence_id}/imports", response_model=ImportOut, status_code=202)
def start_import(
    sequence_id: DbId, body: ImportIn, session: SessionDep, caller: CallerDep
) -> object:
    return imports.start_import(session, caller, sequence_id, body.list_id)


@router.get("/imports/{import_id}", response_model=ImportOut)
def get_import(import_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    return imports.get_import(session, caller, import_id)
