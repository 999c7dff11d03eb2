"""The contacts of a sequence: the list (status tabs with counts, search, sort, pages, row
selection) with plain-language statuses and errors, what can be done to a row (sentiment,
resync, resume, clear an error) or to many (pause, resume, remove, resync, move; the whole
sequence's resync with live progress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.domain.contact_status import contact_status
from outbound.domain.contact_tabs import ALL, LABELS, TAB_KEYS
from outbound.service import bulk_actions, contact_list, enrollments, outreach, sequences
from outbound.service.caller import Caller
from outbound.service.errors import Invalid, NotFound, ServiceError
from outbound.store.models import Contact, Enrollment
from outbound.web.deps import FormDep
from outbound.web.forms import checkbox, whole_number
from outbound.web.render import page, templates
from outbound.web.sequence_page import alert, sequence_context
from outbound.web.session import check_csrf, csrf_token, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]
PAGE_SIZE = contact_list.PAGE_SIZE


# -- contacts ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ListState:
    """What the contacts list shows, read from the URL (so reload and back keep it)."""

    tab: str = ALL
    q: str = ""
    sort: str = contact_list.DEFAULT_SORT
    cursor: str = ""

    def query(self, **changes: str) -> str:
        """The URL query of this state with ``changes`` (a new tab, sort or search starts
        again at the first page)."""
        values = {"tab": self.tab, "q": self.q, "sort": self.sort, "cursor": self.cursor}
        if changes.keys() & {"tab", "q", "sort"}:
            values["cursor"] = ""
        values.update(changes)
        defaults = {"tab": ALL, "sort": contact_list.DEFAULT_SORT}
        kept = {k: v for k, v in values.items() if v and defaults.get(k) != v}
        return "?" + urlencode(kept) if kept else "?"


def _state(params: Any) -> ListState:
    return ListState(
        tab=str(params.get("tab") or ALL),
        q=str(params.get("q") or "").strip(),
        sort=str(params.get("sort") or contact_list.DEFAULT_SORT),
        cursor=str(params.get("cursor") or ""),
    )


def display_name(c: Contact) -> str:
    return f"{c.first_name or ''} {c.last_name or ''}".strip() or c.email


def _row(e: Enrollment, c: Contact, error: str | None = None) -> dict[str, Any]:
    return {
        "e": e,
        "c": c,
        "name": display_name(c),
        "status": contact_status(e.state, e.engagement, e.error_code),
        "provider": (e.sync_snapshot or {}).get("provider"),
        # The choice between interested and not is for people who answered.
        "sentiment_asked": e.state == "replied" or e.sentiment is not None,
        "error": error,
    }


def list_context(
    session: Session, caller: Caller, sequence_id: int, state: ListState
) -> dict[str, Any]:
    """The tabs with their counts, one page of rows, the pager and the move targets. A state
    the URL got wrong (an unknown tab, a stale cursor) shows the first page with why."""
    problem = None
    try:
        page = contact_list.list_page(
            session,
            caller,
            sequence_id,
            contact_list.ContactFilter(state.tab, state.q),
            state.sort,
            state.cursor or None,
            PAGE_SIZE,
        )
    except Invalid as exc:
        problem = exc.message
        state = ListState()
        page = contact_list.list_page(
            session, caller, sequence_id, contact_list.ContactFilter(ALL, state.q)
        )
    counts = contact_list.count_tabs(session, caller, sequence_id, state.q)
    targets = [s for s in sequences.list_sequences(session, caller) if s.id != sequence_id]
    return {
        "state": state,
        "tabs": [(key, LABELS[key], counts[key]) for key in (ALL, *TAB_KEYS)],
        "matching": counts[state.tab],
        "rows": [_row(e, c) for e, c in page.rows],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "targets": targets,
        "list_problem": problem,
    }


@router.get("/sequences/{sequence_id}")
def contacts_page(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    state = _state(request.query_params)
    with db.read_session() as session:  # a page that only reads: no wait behind writers
        caller, user = current_caller(request, session)
        as_you_type = request.headers.get("HX-Target") == "contacts-list"  # the search box
        # Typing refreshes the list alone: no figures or banners, read for every keystroke.
        ctx = sequence_context(session, caller, sequence_id, summary=not as_you_type)
        listed = list_context(session, caller, sequence_id, state)
        if as_you_type:
            return templates.TemplateResponse(
                request, "_contacts_list.html", {**ctx, **listed, "csrf": csrf_token(request)}
            )
        return page(
            request,
            "sequence_contacts.html",
            user=user,
            nav="sequences",
            tab="contacts",
            flash=request.query_params.get("done"),
            **ctx,
            **listed,
        )


VERBS = {
    "pause": "Paused",
    "resume": "Resumed",
    "remove": "Removed",
    "resync": "Resync queued for",
    "move": "Moved",
}


def bulk_summary(result: bulk_actions.BulkResult) -> str:
    """ "Paused 48; 2 skipped: already finished"."""
    text = f"{VERBS[result.action]} {result.done}"
    if result.action == "move" and result.target_name:
        text += f" to {result.target_name}"
    skipped = sum(result.skipped.values())
    if skipped:
        reasons = [f"{n} {why}" for why, n in result.skipped.items()]
        detail = next(iter(result.skipped)) if len(reasons) == 1 else ", ".join(reasons)
        text += f"; {skipped} skipped: {detail}"
    return text + "."


@router.post("/sequences/{sequence_id}/contacts/bulk", dependencies=CSRF)
def bulk(
    sequence_id: int, request: Request, db: DbDep, settings: SettingsDep, form: FormDep
) -> Response:
    """A bulk action from the list; answers the list again (same tab, search, sort and page)
    with what happened, or why nothing was done."""
    state = _state(form)
    action = str(form.get("action") or "")
    every = checkbox(form, "all")
    numbers = [whole_number(v) for v in form.getlist("ids")]
    ids = [n for n in numbers if n is not None] if None not in numbers else []
    target = whole_number(form.get("target_sequence_id")) if action == "move" else None
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
    message, kind, status = "", "success", 200
    if not ids and not every:
        message, kind, status = "Select contacts first.", "error", 422
    elif action == "move" and target is None:
        message, kind, status = "Choose the sequence to move them to.", "error", 422
    else:
        selection = bulk_actions.Selection(
            None if every else ids, contact_list.ContactFilter(state.tab, state.q)
        )
        try:
            result = bulk_actions.run(
                db,
                caller,
                sequence_id,
                action,
                selection,
                target_sequence_id=target,
                day_seconds=settings.mail_day_seconds,
            )
            message = bulk_summary(result)
        except ServiceError as exc:
            if isinstance(exc, NotFound) and exc.field == "sequence_id":
                raise
            message, kind, status = exc.message[:1].upper() + exc.message[1:] + ".", "error", 422
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id, summary=False)
        listed = list_context(session, caller, sequence_id, state)
    return templates.TemplateResponse(
        request,
        "_contacts_list.html",
        {**ctx, **listed, "csrf": csrf_token(request), "result": message, "result_kind": kind},
        status_code=status,
    )


def _row_response(
    request: Request, session: Session, caller: Caller, eid: int, error: str | None = None
) -> Response:
    e = enrollments.get_enrollment(session, caller, eid)
    c = session.get(Contact, e.contact_id)
    assert c is not None
    ctx = sequence_context(session, caller, e.sequence_id, summary=False)
    return templates.TemplateResponse(
        request,
        "_contact_row.html",
        {"r": _row(e, c, error), "provider": ctx["provider"], "csrf": csrf_token(request)},
        status_code=422 if error else 200,
    )


@router.post("/enrollments/{eid}/sentiment", dependencies=CSRF)
def sentiment(eid: int, request: Request, db: DbDep, form: FormDep) -> Response:
    value = str(form.get("sentiment") or "")
    with db.session() as session:
        caller, _ = current_caller(request, session)
        if value not in ("interested", "not_interested"):
            error = "Sentiment must be interested or not interested."
            return _row_response(request, session, caller, eid, error)
        enrollments.set_sentiment(session, caller, eid, value)
        return _row_response(request, session, caller, eid)


@router.post("/enrollments/{eid}/resync", dependencies=CSRF)
def resync_one(eid: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        e = enrollments.get_enrollment(session, caller, eid)
        try:
            enrollments.resync(session, caller, e.sequence_id, [eid])
        except Invalid as exc:  # refused before anything changed
            return _row_response(request, session, caller, eid, _sentence(exc.message))
        return _row_response(request, session, caller, eid)


@router.post("/enrollments/{eid}/resume", dependencies=CSRF)
def resume(eid: int, request: Request, db: DbDep, settings: SettingsDep, form: FormDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        try:
            outreach.resume(
                session,
                caller,
                eid,
                resend=checkbox(form, "resend"),
                day_seconds=settings.mail_day_seconds,
            )
        except Invalid as exc:  # refused before anything changed
            return _row_response(request, session, caller, eid, _sentence(exc.message))
        return _row_response(request, session, caller, eid)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:].rstrip(".") + "."


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
            f'<p role="status">Nothing new to resync: {skipped} contact(s) already synced or '
            "already waiting to sync.</p>",
            # Added under live progress from an earlier click, never in place of it.
            headers={"HX-Reswap": "beforeend"},
        )
    return _batch(request, db, batch, skipped)


@router.get("/web/batches/{batch_id}")
def batch_progress(batch_id: str, request: Request, db: DbDep) -> Response:
    skipped = whole_number(request.query_params.get("skipped")) or 0
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
