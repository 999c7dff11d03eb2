"""Contacts in sequences: bulk add, events, sentiment, errors, resync, import, timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from outbound.api.deps import BoxDep, CallerDep, DbDep, ReadSessionDep, SessionDep, SettingsDep
from outbound.api.schemas import (
    MAX_ID,
    BatchId,
    BatchProgress,
    BulkIn,
    BulkOut,
    BulkSkipped,
    ContactCountsOut,
    ContactOut,
    ContactQuery,
    ContactSort,
    ContactTab,
    Cursor,
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
from outbound.service import ats_records, bulk_actions, contact_list, enrollments, imports, outreach
from outbound.service import timeline as timelines
from outbound.service.contacts import get_contact
from outbound.service.errors import Invalid
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


PAGE_HEADERS = {
    "X-Next-Cursor": {
        "description": "The cursor of the next page (absent on the last page)",
        "schema": {"type": "string"},
    },
    "X-Prev-Cursor": {
        "description": "The cursor of the page before (absent on the first page)",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next and previous pages as URLs (rel="next", rel="prev")',
        "schema": {"type": "string"},
    },
}


@router.get(
    "/sequences/{sequence_id}/contacts",
    response_model=list[EnrollmentOut],
    responses={200: {"headers": PAGE_HEADERS}},
)
def list_enrollments(
    sequence_id: DbId,
    session: ReadSessionDep,
    caller: CallerDep,
    request: Request,
    response: Response,
    needs_attention: Annotated[
        bool, Query(description='The same as status="needs_attention"')
    ] = False,
    status: Annotated[ContactTab, Query(description="A status tab: its contacts only")] = "all",
    q: Annotated[ContactQuery, Query(description="Name, email or company containing this")] = "",
    sort: Annotated[ContactSort, Query(description='"-" first: descending')] = "added",
    cursor: Annotated[
        Cursor | None, Query(description="From X-Next-Cursor or X-Prev-Cursor")
    ] = None,
    limit: int = Query(100, ge=1, le=contact_list.MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=MAX_ID, description="Older paging: prefer the cursor"),
) -> object:
    """A page of the sequence's contacts. The body is the list of contacts; the cursors of
    the pages after and before are in the `X-Next-Cursor` and `X-Prev-Cursor` headers (and as
    URLs in `Link`). A cursor keeps its place while contacts are added."""
    if needs_attention and status not in ("all", "needs_attention"):
        return []  # a contact is in one tab: none is in both
    tab = "needs_attention" if needs_attention else status
    page = contact_list.list_page(
        session,
        caller,
        sequence_id,
        contact_list.ContactFilter(tab, q),
        sort,
        cursor,
        limit,
        offset,
    )
    links = []
    for rel, header, value in (
        ("next", "X-Next-Cursor", page.next_cursor),
        ("prev", "X-Prev-Cursor", page.prev_cursor),
    ):
        if value is not None:
            response.headers[header] = value
            url = request.url.remove_query_params(["offset", "cursor"])
            links.append(f'<{url.include_query_params(cursor=value)}>; rel="{rel}"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return [enrollment_out(e, c) for e, c in page.rows]


@router.get("/sequences/{sequence_id}/contacts/counts", response_model=ContactCountsOut)
def contact_counts(
    sequence_id: DbId,
    session: ReadSessionDep,
    caller: CallerDep,
    q: Annotated[ContactQuery, Query(description="Count only contacts matching this search")] = "",
) -> object:
    """How many contacts each status tab holds (each contact is in one tab)."""
    return contact_list.count_tabs(session, caller, sequence_id, q)


@router.post("/sequences/{sequence_id}/contacts/bulk", response_model=BulkOut)
def bulk(
    sequence_id: DbId, body: BulkIn, db: DbDep, caller: CallerDep, settings: SettingsDep
) -> object:
    """Pause, resume, remove, resync or move many contacts, committed chunk by chunk (no
    session held here). Contacts the action does not apply to are counted in `skipped` with
    the reason."""
    if (body.ids is None) == (not body.all):
        raise Invalid("give the contacts' ids, or all: true (not both)", "ids")
    if body.action == "move" and body.target_sequence_id is None:
        raise Invalid("choose the sequence to move the contacts to", "target_sequence_id")
    result = bulk_actions.run(
        db,
        caller,
        sequence_id,
        body.action,
        bulk_actions.Selection(body.ids, contact_list.ContactFilter(body.status, body.q)),
        target_sequence_id=body.target_sequence_id,
        day_seconds=settings.mail_day_seconds,
    )
    return BulkOut(
        action=result.action,
        done=result.done,
        skipped=[BulkSkipped(reason=r, count=n) for r, n in result.skipped.items()],
        batch_ids=result.batch_ids,
    )


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
