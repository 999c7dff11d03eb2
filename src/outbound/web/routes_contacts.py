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
from outbound.web.sequence_page import alert, sequence_context, sequence_summary
from outbound.web.session import check_csrf, csrf_token, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]
PAGE_SIZE = contact_list.PAGE_SIZE
# The sort menu a phone shows instead of the column headers (the same sorts).
SORT_CHOICES = (
    ("added", "Added, oldest first"),
    ("-added", "Added, newest first"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("status", "Status, needs attention first"),
    ("-status", "Status, scheduled first"),
)


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
    session: Session, caller: Caller, sequence_id: int, state: ListState, summary: bool = True
) -> dict[str, Any]:
    """One page of rows, the pager and the move targets; the tabs without their counts, which
    the tabs load right after (`contact_counts`: a read of every contact of the sequence, which
    the rows do not wait for), with the sequence's figures and warnings when ``summary``. A
    state the URL got wrong (an unknown tab, a stale cursor) shows the first page with why."""
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
    targets = [s for s in sequences.list_sequences(session, caller) if s.id != sequence_id]
    return {
        "state": state,
        "tabs": _tabs(None),
        "matching": None,
        "counts_url": _counts_url(sequence_id, state, summary),
        "rows": [_row(e, c) for e, c in page.rows],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "targets": targets,
        "list_problem": problem,
        "sort_choices": SORT_CHOICES,
    }


def _tabs(counts: dict[str, int] | None) -> list[tuple[str, str, int | None]]:
    return [(key, LABELS[key], counts[key] if counts else None) for key in (ALL, *TAB_KEYS)]


def _counts_url(sequence_id: int, state: ListState, summary: bool) -> str:
    params = {"tab": state.tab, "q": state.q, "summary": "1" if summary else ""}
    kept = {k: v for k, v in params.items() if v and not (k == "tab" and v == ALL)}
    return f"/sequences/{sequence_id}/contacts/counts" + ("?" + urlencode(kept) if kept else "")


@router.get("/sequences/{sequence_id}")
def contacts_page(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    """The rows first: no read of the whole sequence here. The tab counts, the figures and the
    warnings come from one read that the page asks for once shown (`contact_counts`)."""
    state = _state(request.query_params)
    with db.read_session() as session:  # a page that only reads: no wait behind writers
        caller, user = current_caller(request, session)
        as_you_type = request.headers.get("HX-Target") == "contacts-list"  # the search box
        ctx = sequence_context(session, caller, sequence_id, summary=False)
        # Typing refreshes the list alone: figures and banners do not change with the search.
        listed = list_context(session, caller, sequence_id, state, summary=not as_you_type)
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
            summary_later=True,
            **ctx,
            **listed,
        )


@router.get("/sequences/{sequence_id}/contacts/counts")
def contact_counts(sequence_id: int, request: Request, db: DbDep) -> Response:
    """The status tabs with their counts (and the "N matching" the list shows); with
    ``summary=1`` also the sequence's figures and warnings, swapped in by id. Without a
    search, all of them come from the same one grouped read."""
    state = _state(request.query_params)
    with_summary = request.query_params.get("summary") == "1"
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id, summary=False)
        summary = sequence_summary(session, caller, sequence_id) if with_summary else {}
        try:
            counts = summary.get("tab_counts") if not state.q else None
            if counts is None:
                counts = contact_list.count_tabs(session, caller, sequence_id, state.q)
        except Invalid:  # a search the list refused too: it shows every contact
            state = ListState()
            counts = summary.get("tab_counts") or contact_list.count_tabs(
                session, caller, sequence_id
            )
    if state.tab not in counts:  # an unknown tab: the list shows all
        state = ListState(q=state.q)
    return templates.TemplateResponse(
        request,
        "_contacts_list.html",
        {
            **ctx,
            **summary,
            "counts_only": True,
            "oob": True,
            "state": state,
            "tabs": _tabs(counts),
            "matching": counts[state.tab],
        },
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
    skipped = sum(result.skipped.values())
    if result.action == "resync" and not result.done and skipped:
        # Never "0 done": those contacts are synced, or queued by an earlier click.
        return f"Nothing new to resync: {nothing_new(skipped)}"
    text = f"{VERBS[result.action]} {result.done}"
    if result.action == "move" and result.target_name:
        text += f" to {result.target_name}"
    if skipped:
        reasons = [f"{n} {why}" for why, n in result.skipped.items()]
        detail = next(iter(result.skipped)) if len(reasons) == 1 else ", ".join(reasons)
        text += f"; {skipped} skipped: {detail}"
    return text + "."


def nothing_new(skipped: int) -> str:
    who = "1 contact is" if skipped == 1 else f"{skipped} contacts are"
    return f"{who} already synced or already waiting to sync."


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
    progress: tuple[list[str], int] | None = None  # a resync's batches to follow, and skipped
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
            if result.action == "resync" and result.done:
                progress = (result.batch_ids, sum(result.skipped.values()))
            elif result.action == "resync":
                kind = "info"  # nothing done, nothing wrong: a note, not a "Done"
        except ServiceError as exc:
            if isinstance(exc, NotFound) and exc.field == "sequence_id":
                raise
            message, kind, status = exc.message[:1].upper() + exc.message[1:] + ".", "error", 422
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id, summary=False)
        # The counts, figures and warnings reload after the list: the action changed them.
        listed = list_context(session, caller, sequence_id, state)
        # Live progress of a resync goes beside the list (swapped in by id), so that a later
        # answer (a second click: nothing new) leaves it running.
        live = _progress_context(session, caller, *progress, "bulk") if progress else None
    return templates.TemplateResponse(
        request,
        "_contacts_list.html",
        {
            **ctx,
            **listed,
            "csrf": csrf_token(request),
            "result": message,
            "result_kind": kind,
            "progress": live,
        },
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
            f'<p role="status">Nothing new to resync: {nothing_new(skipped)}</p>',
            # Added under live progress from an earlier click, never in place of it.
            headers={"HX-Reswap": "beforeend"},
        )
    return _batch(request, db, [batch], skipped, "resync")


MAX_BATCHES = 20  # a bulk resync of 100,000 contacts is 10 batches of 10,000


@router.get("/web/batches/{batch_id}")
def batch_progress(batch_id: str, request: Request, db: DbDep) -> Response:
    """The progress of one resync: one batch or, for a bulk resync, a few (comma-separated)."""
    ids = [b for b in batch_id.split(",") if b][:MAX_BATCHES]
    skipped = whole_number(request.query_params.get("skipped")) or 0
    slot = "bulk" if request.query_params.get("slot") == "bulk" else "resync"
    return _batch(request, db, ids, skipped, slot)


def _progress_context(
    session: Session, caller: Caller, batch_ids: list[str], skipped: int, slot: str
) -> dict[str, Any]:
    """What _progress.html shows: the batches' work summed (each job is one contact)."""
    total = {"total": 0, "done": 0, "failed": 0, "pending": 0}
    for batch_id in batch_ids:
        for key, n in enrollments.batch_progress(session, caller, batch_id).items():
            total[key] += n
    return {
        "kind": "resync",
        "slot": slot,
        "id": ",".join(batch_ids),
        "p": total,
        "skipped": skipped,
        "done": total["pending"] == 0,
    }


def _batch(request: Request, db: Any, batch_ids: list[str], skipped: int, slot: str) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        progress = _progress_context(session, caller, batch_ids, skipped, slot)
    return templates.TemplateResponse(request, "_progress.html", progress)
