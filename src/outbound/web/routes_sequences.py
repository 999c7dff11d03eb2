"""Sequences: the list, steps, the Syncing tab, and the contacts in a sequence (add, statuses
with plain-language errors, timeline, sentiment, resync and import with live progress)."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import ContactIn, SequenceSyncIn, StepIn
from outbound.connectors.registry import ATS
from outbound.domain.contact_status import contact_status
from outbound.service import connections, enrollments, imports, outreach, sequences
from outbound.service import timeline as timelines
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.errors import ServiceError
from outbound.service.sequences import StepInput
from outbound.store.models import AtsConnection, Contact, Enrollment, Sequence
from outbound.web.deps import FormDep
from outbound.web.forms import (
    FormInvalid,
    attempt,
    blank_to_none,
    checkbox,
    form_text,
    parse,
)
from outbound.web.render import page, templates
from outbound.web.routes_integrations import RECORD_TYPES, _ats_lists
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]


def _owner_connection(session: Session, seq: Sequence) -> AtsConnection | None:
    conn = connections.get_connection(session, seq.owner_id)
    return None if conn is None or conn.disconnected_at is not None else conn


# -- list and create ---------------------------------------------------------------------
@router.get("/sequences")
def sequence_list(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        rows = sequences.list_sequences(session, caller)
        counts = dict(
            session.execute(
                select(Enrollment.sequence_id, func.count(Enrollment.id))
                .where(Enrollment.team_id == caller.team_id)
                .group_by(Enrollment.sequence_id)
            ).all()
        )
        return page(
            request, "sequences.html", user=user, nav="sequences", sequences=rows, counts=counts
        )


def _steps_from_form(form: Any) -> list[StepInput]:
    steps: list[StepInput] = []
    errors: dict[str, str] = {}
    indexes = sorted({int(k.split("_")[1]) for k in form if k.startswith("body_")})
    for i in indexes:
        subject = str(form.get(f"subject_{i}") or "")
        body = str(form.get(f"body_{i}") or "")
        if not subject.strip() and not body.strip():
            continue
        n = len(steps)
        data = {"subject": subject, "body": body, "delay_days": form.get(f"delay_{i}") or 0}
        try:
            step = parse(StepIn, data, ("steps", n))
        except FormInvalid as exc:
            errors.update(exc.errors)
            steps.append(StepInput(subject, body, 0))
            continue
        steps.append(StepInput(step.subject, step.body, step.delay_days))
    if errors:
        raise FormInvalid(errors)
    return steps


def _steps_values(steps: list[StepInput]) -> list[dict[str, Any]]:
    return [{"subject": s.subject, "body": s.body, "delay_days": s.delay_days} for s in steps]


@router.get("/sequences/new")
def new_sequence_page(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        _, user = current_caller(request, session)
    return page(
        request,
        "sequence_new.html",
        user=user,
        nav="sequences",
        steps=[{"subject": "", "body": "", "delay_days": 0}],
    )


@router.post("/sequences/new", dependencies=CSRF)
def create_sequence(request: Request, db: DbDep, form: FormDep) -> Response:
    name = str(form.get("name") or "").strip()  # as typed, shown again if refused
    try:
        with db.session() as session:  # a failed form leaves this block: nothing is stored
            caller, user = current_caller(request, session)
            name = form_text(form, "name", max_length=200)
            if not name:
                raise FormInvalid({"name": "Give the sequence a name."})
            steps = _steps_from_form(form)
            seq = attempt(lambda: sequences.create_sequence(session, caller, name, steps, {}))
            seq_id = seq.id
    except FormInvalid as exc:
        with db.session() as session:
            _, user = current_caller(request, session)
            return page(
                request,
                "sequence_new.html",
                422,
                user=user,
                nav="sequences",
                errors=exc.errors,
                values={"name": name},
                steps=_raw_steps(form),
            )
    return RedirectResponse(f"/sequences/{seq_id}/steps?done=Sequence created.", 303)


def _raw_steps(form: Any) -> list[dict[str, Any]]:
    indexes = sorted({int(k.split("_")[1]) for k in form if k.startswith("body_")})
    return [
        {
            "subject": form.get(f"subject_{i}") or "",
            "body": form.get(f"body_{i}") or "",
            "delay_days": form.get(f"delay_{i}") or 0,
        }
        for i in indexes
        if (form.get(f"subject_{i}") or "").strip() or (form.get(f"body_{i}") or "").strip()
    ]


# -- one sequence: shared context --------------------------------------------------------
def _context(session: Session, caller: Caller, sequence_id: int) -> dict[str, Any]:
    seq = sequences.get_sequence(session, caller, sequence_id)
    conn = _owner_connection(session, seq)
    return {"seq": seq, "conn": conn, "provider": conn.provider if conn else None}


@router.get("/sequences/{sequence_id}/steps")
def steps_page(sequence_id: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        ctx = _context(session, caller, sequence_id)
        steps = [
            {"subject": s.subject, "body": s.body, "delay_days": s.delay_days}
            for s in ctx["seq"].steps
        ]
        return page(
            request,
            "sequence_steps.html",
            user=user,
            nav="sequences",
            tab="steps",
            steps=steps,
            flash=request.query_params.get("done"),
            **ctx,
        )


@router.post("/sequences/{sequence_id}/steps", dependencies=CSRF)
def save_steps(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    try:
        with db.session() as session:
            caller, user = current_caller(request, session)
            steps = _steps_from_form(form)
            name = form_text(form, "name", max_length=200) or None
            attempt(
                lambda: sequences.update_sequence(session, caller, sequence_id, name, steps, {})
            )
    except FormInvalid as exc:
        with db.session() as session:
            caller, user = current_caller(request, session)
            ctx = _context(session, caller, sequence_id)
            return page(
                request,
                "sequence_steps.html",
                422,
                user=user,
                nav="sequences",
                tab="steps",
                steps=_raw_steps(form),
                errors=exc.errors,
                **ctx,
            )
    return RedirectResponse(f"/sequences/{sequence_id}/steps?done=Steps saved.", 303)


@router.get("/sequences/{sequence_id}/syncing")
def syncing_page(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    # The ATS is asked with no transaction open (on SQLite one holds the write lock).
    jobs = _jobs(_owner_credentials(request, db, box, sequence_id), settings)
    with db.session() as session:
        caller, user = current_caller(request, session)
        ctx = _context(session, caller, sequence_id)
        return page(
            request,
            "sequence_syncing.html",
            user=user,
            nav="sequences",
            tab="syncing",
            jobs=jobs,
            record_types=RECORD_TYPES,
            flash=request.query_params.get("done"),
            **ctx,
        )


def _owner_credentials(
    request: Request, db: Any, box: Any, sequence_id: int
) -> tuple[str, dict[str, Any]] | None:
    """The sequence owner's ATS and credentials, read in a transaction of their own."""
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        conn = _context(session, caller, sequence_id)["conn"]
        return (conn.provider, box.open(conn.credentials_encrypted)) if conn else None


def _jobs(access: tuple[str, dict[str, Any]] | None, settings: Any) -> list[tuple[str, str]]:
    if access is None:
        return []
    jobs, _, _ = _ats_lists(*access, settings)
    return jobs


@router.post("/sequences/{sequence_id}/syncing", dependencies=CSRF)
def save_syncing(
    sequence_id: int,
    request: Request,
    db: DbDep,
    box: BoxDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    # A plain def, in the thread pool: the ATS is called synchronously.
    return _save_syncing(sequence_id, request, form, db, box, settings)


def _save_syncing(
    sequence_id: int, request: Request, form: Any, db: Any, box: Any, settings: Any
) -> Response:
    data = {
        "sync_enabled": checkbox(form, "sync_enabled"),
        "record_type": blank_to_none(form.get("record_type")),
        "job_id": blank_to_none(form.get("job_id")),
        "tracking_enabled": checkbox(form, "tracking_enabled"),
        "unsubscribe_link": checkbox(form, "unsubscribe_link"),
    }
    try:
        with db.session() as session:
            caller, user = current_caller(request, session)
        sync = parse(SequenceSyncIn, data).model_dump()
        # The same service as PATCH /sequences: a new job is checked against the ATS first,
        # with no session open.
        ats = sequences.AtsAccess(settings, box)
        attempt(lambda: sequences.save_sequence(db, caller, ats, sequence_id, None, None, sync))
    except FormInvalid as exc:
        exc.errors = {
            ("job_id" if k == sequences.JOB_FIELD else k): v for k, v in exc.errors.items()
        }
        jobs = _jobs(_owner_credentials(request, db, box, sequence_id), settings)
        with db.session() as session:
            caller, user = current_caller(request, session)
            ctx = _context(session, caller, sequence_id)
            return page(
                request,
                "sequence_syncing.html",
                422,
                user=user,
                nav="sequences",
                tab="syncing",
                jobs=jobs,
                record_types=RECORD_TYPES,
                errors=exc.errors,
                values=data,
                **ctx,
            )
    return RedirectResponse(
        f"/sequences/{sequence_id}/syncing?done=Saved: applies to contacts added from now on.",
        303,
    )


# -- contacts ----------------------------------------------------------------------------
def _rows(session: Session, caller: Caller, sequence_id: int) -> list[dict[str, Any]]:
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
        ctx = _context(session, caller, sequence_id)
        return page(
            request,
            "sequence_contacts.html",
            user=user,
            nav="sequences",
            tab="contacts",
            rows=_rows(session, caller, sequence_id),
            flash=request.query_params.get("done"),
            **ctx,
        )


@router.get("/sequences/{sequence_id}/import-lists")
def import_lists(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    """The ATS's lists for the import picker, fetched after the page is shown: the contacts
    page never waits for the ATS."""
    access = _owner_credentials(request, db, box, sequence_id)
    lists = _lists(access, settings) if access and ATS[access[0]].list_import else []
    return templates.TemplateResponse(request, "_import_lists.html", {"lists": lists})


def _lists(access: tuple[str, dict[str, Any]], settings: Any) -> list[tuple[str, str]]:
    async def collect(c: Any) -> list[tuple[str, str]]:
        return [(item.id, item.name) async for item in c.list_lists()]

    try:
        return call_ats(*access, settings, collect)
    except ServiceError:
        return []


def _parse_people(text: str) -> list[dict[str, Any]]:
    """One contact per line: email, first name, last name, company, title."""
    people: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise FormInvalid({"contacts": "Paste at least one contact: one per line."})
    keys = ("email", "first_name", "last_name", "company", "title")
    for n, line in enumerate(lines):
        parts = [p.strip() for p in line.split(",")]
        data = {k: v for k, v in zip(keys, parts, strict=False) if v}
        try:
            people.append(parse(ContactIn, data).model_dump())
        except FormInvalid as exc:
            field, message = next(iter(exc.errors.items()))
            errors.setdefault("contacts", f"Line {n + 1} ({line.strip()[:60]}): {field}: {message}")
    if errors:
        raise FormInvalid(errors)
    return people


@router.post("/sequences/{sequence_id}/contacts", dependencies=CSRF)
def add_contacts(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep, form: FormDep
) -> Response:
    text = str(form.get("contacts") or "")
    with db.session() as session:
        caller, user = current_caller(request, session)
    try:
        people = _parse_people(text)
        # Chunks that commit as they go, in the thread pool (a plain def): neither the
        # database nor this server's event loop is held while a big list goes in.
        result = attempt(
            lambda: enrollments.add_contacts_in_chunks(db, caller, sequence_id, people)
        )
    except FormInvalid as exc:
        with db.session() as session:
            caller, user = current_caller(request, session)
            ctx = _context(session, caller, sequence_id)
            return page(
                request,
                "sequence_contacts.html",
                422,
                user=user,
                nav="sequences",
                tab="contacts",
                rows=_rows(session, caller, sequence_id),
                lists=[],
                errors=exc.errors,
                values={"contacts": text},
                **ctx,
            )
    note = f"Added {result.added}; {result.already_present} already in the sequence."
    return RedirectResponse(f"/sequences/{sequence_id}?done={note}", 303)


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
            return _alert("Sentiment must be interested or not interested.", 422)
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
            return _alert(exc.message, 422, row=True)
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


@router.get("/enrollments/{eid}/timeline")
def timeline(
    eid: int, request: Request, db: DbDep, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """The contact's timeline with its latest ATS calls; with ``before``, only the page of
    calls before that one ("Show earlier")."""
    with db.session() as session:
        caller, _ = current_caller(request, session)
        calls = timelines.timeline_page(session, caller, eid, timelines.PAGE_SIZE, before)
        context: dict[str, Any] = {
            "calls": calls.calls,
            "next_before": calls.next_before,
            "eid": eid,
        }
        if before is not None:
            return templates.TemplateResponse(request, "_timeline_calls.html", context)
        e = enrollments.get_enrollment(session, caller, eid)
        context |= {
            "summaries": timelines.summaries_of(session, e),
            "emails": outreach.emails_of(session, caller, eid),
            "written": enrollments.written_effects(session, caller, eid),
        }
        return templates.TemplateResponse(request, "_timeline.html", context)


def _alert(message: str, status: int, row: bool = False) -> HTMLResponse:
    """An error fragment for an htmx swap (escaped: messages can quote what was sent)."""
    text = f'<p class="error" role="alert">{html.escape(message)}</p>'
    return HTMLResponse(f'<tr><td colspan="5">{text}</td></tr>' if row else text, status)


# -- bulk work with live progress --------------------------------------------------------
@router.post("/sequences/{sequence_id}/resync", dependencies=CSRF)
def resync_all(sequence_id: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
    try:  # chunk by chunk, each committed (no session held here)
        batch, queued, skipped = enrollments.resync_in_chunks(db, caller, sequence_id, None)
    except ServiceError as exc:  # another team's sequence is a 404, as everywhere
        return _alert(exc.message, exc.status_code)
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


@router.post("/sequences/{sequence_id}/import", dependencies=CSRF)
def start_import(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        try:  # another team's sequence is a 404 before anything about the form
            sequences.get_sequence(session, caller, sequence_id)
        except ServiceError as exc:
            return _alert(exc.message, exc.status_code)
        try:
            list_id = form_text(form, "list_id", max_length=100)
        except FormInvalid as exc:
            return _alert(f"List: {exc.errors['list_id']}", 422)
        if not list_id:
            return _alert("Pick a list to import.", 422)
        try:
            run = imports.start_import(session, caller, sequence_id, list_id)
        except ServiceError as exc:
            return _alert(exc.message, exc.status_code)
        run_id = run.id
    return import_progress(run_id, request, db)


@router.get("/web/imports/{import_id}")
def import_progress(import_id: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        run = imports.get_import(session, caller, import_id)
        return templates.TemplateResponse(
            request,
            "_progress.html",
            {
                "kind": "import",
                "id": import_id,
                "run": run,
                "done": run.status in ("done", "failed"),
            },
        )
