"""The contacts of a sequence: the list with plain-language statuses and errors, and what
can be done to a row (sentiment, resync, resume, clear an error) or to many (bulk resync with live
progress)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.domain.contact_status import contact_status
from outbound.service import enrollments, outreach
from outbound.service.caller import Caller
from outbound.service.errors import ServiceError
from outbound.store.models import Contact, Enrollment
from outbound.web.deps import FormDep
from outbound.web.forms import (
    checkbox,
)
from outbound.web.render import page, templates
from outbound.web.sequence_page import alert, sequence_context
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]


# -- contacts ----------------------------------------------------------------------------
def contact_rows(session: Session, caller: Caller, sequence_id: int) -> list[dict[str, Any]]:
    return [
        _row(e, c) for e, c in enrollments.list_enrollments(session, caller, sequence_id, limit=500)
    ]


def _row(e: Enrollment, c: Contact) -> dict[str, Any]:
    return {
        "e": e,
        "c": c,
        "status": contact_status(e.state, e.engagement, e.error_code),
        "provider": (e.sync_snapshot or {}).get("provider"),
    }


@router.get("/sequences/{sequence_id}")
def contacts_page(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    with db.read_session() as session:  # a page that only reads: no wait behind writers
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
        return page(
            request,
            "sequence_contacts.html",
            user=user,
            nav="sequences",
            tab="contacts",
            rows=contact_rows(session, caller, sequence_id),
            flash=request.query_params.get("done"),
            **ctx,
        )


def _row_response(request: Request, session: Session, caller: Caller, eid: int) -> Response:
    e = enrollments.get_enrollment(session, caller, eid)
    c = session.get(Contact, e.contact_id)
    assert c is not None
    return templates.TemplateResponse(request, "_contact_row.html", {"r": _row(e, c)})


@router.post("/enrollments/{eid}/sentiment", dependencies=CSRF)
def sentiment(eid: int, request: Request, db: DbDep, form: FormDep) -> Response:
    value = str(form.get("sentiment") or "")
    with db.session() as session:
        caller, _ = current_caller(request, session)
        if value not in ("interested", "not_interested"):
            return alert("Sentiment must be interested or not interested.", 422)
        enrollments.set_sentiment(session, caller, eid, value)
        return _row_response(request, session, caller, eid)


@router.post("/enrollments/{eid}/resync", dependencies=CSRF)
def resync_one(eid: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        e = enrollments.get_enrollment(session, caller, eid)
        try:
            enrollments.resync(session, caller, e.sequence_id, [eid])
        except ServiceError as exc:
            return alert(exc.message, 422, row=True)
        return _row_response(request, session, caller, eid)


@router.post("/enrollments/{eid}/resume", dependencies=CSRF)
def resume(eid: int, request: Request, db: DbDep, settings: SettingsDep, form: FormDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        outreach.resume(
            session,
            caller,
            eid,
            resend=checkbox(form, "resend"),
            day_seconds=settings.mail_day_seconds,
        )
        return _row_response(request, session, caller, eid)


@router.post("/enrollments/{eid}/clear-error", dependencies=CSRF)
def clear_error(eid: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        enrollments.clear_error(session, caller, eid)
        return _row_response(request, session, caller, eid)


# -- bulk work with live progress --------------------------------------------------------
@router.post("/sequences/{sequence_id}/resync", dependencies=CSRF)
def resync_all(sequence_id: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
    try:  # chunk by chunk, each committed (no session held here)
        batch, queued, skipped = enrollments.resync_in_chunks(db, caller, sequence_id, None)
    except ServiceError as exc:  # another team's sequence is a 404, as everywhere
        return alert(exc.message, exc.status_code)
    if queued == 0:
        return HTMLResponse(
            f'<p role="status">Nothing to resync: {skipped} contact(s) already synced.</p>'
        )
    return _batch(request, db, batch, skipped)


@router.get("/web/batches/{batch_id}")
def batch_progress(batch_id: str, request: Request, db: DbDep) -> Response:
    skipped = int(request.query_params.get("skipped") or 0)
    return _batch(request, db, batch_id, skipped)


def _batch(request: Request, db: Any, batch_id: str, skipped: int) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        progress = enrollments.batch_progress(session, caller, batch_id)
    return templates.TemplateResponse(
        request,
        "_progress.html",
        {
            "kind": "resync",
            "id": batch_id,
            "p": progress,
            "skipped": skipped,
            "done": progress["pending"] == 0,
        },
    )
