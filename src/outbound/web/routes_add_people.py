"""Adding people to a sequence: the paste box, a CSV file with its column mapping and a
report per row, and the import of an ATS list with live progress."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import ContactIn
from outbound.connectors.registry import ATS
from outbound.domain.people_import import (
    CUSTOM,
    FIELD_LABELS,
    MAX_BYTES,
    guess_mapping,
    problem_words,
    variable_name,
)
from outbound.service import imports, people_import, sequences
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.errors import ServiceError
from outbound.web.deps import FormDep
from outbound.web.forms import (
    FormInvalid,
    attempt,
    form_text,
    parse,
)
from outbound.web.render import page, templates
from outbound.web.sequence_page import alert, owner_credentials, sequence_context
from outbound.web.session import check_csrf, csrf_token, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]


@router.get("/sequences/{sequence_id}/import-lists")
def import_lists(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    """The ATS's lists for the import picker, fetched after the page is shown: the contacts
    page never waits for the ATS."""
    access = owner_credentials(request, db, box, sequence_id)
    lists = _lists(access, settings) if access and ATS[access[0]].list_import else []
    return templates.TemplateResponse(request, "_import_lists.html", {"lists": lists})


def _lists(access: tuple[str, dict[str, Any]], settings: Any) -> list[tuple[str, str]]:
    async def collect(c: Any) -> list[tuple[str, str]]:
        return [(item.id, item.name) async for item in c.list_lists()]

    try:
        return call_ats(*access, settings, collect)
    except ServiceError:
        return []


# -- the paste box and the CSV file -----------------------------------------------------------
PASTE_MAX = 1_000_000  # characters: the form's own limit (Starlette reads a field up to 1 MB)
HEADER_WITHOUT_EMAIL = (
    "Line 1 was read as column names, but none of them is email: name that column "
    "email, or start with a contact's line"
)


def contact_problem(data: dict[str, Any]) -> str | None:
    """Why a row cannot be stored, by the REST API's rules (``ContactIn``), or None."""
    try:
        parse(ContactIn, data)
    except FormInvalid as exc:
        field, problem = next(iter(exc.errors.items()))
        return problem_words(field, problem)
    return None


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _done(request: Request, sequence_id: int, note: str) -> Response:
    """Back to the contacts, with what happened: htmx follows HX-Redirect, a form the 303."""
    url = f"/sequences/{sequence_id}?{urlencode({'done': note})}"
    if _is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, 303)


def _box(
    request: Request,
    db: Any,
    sequence_id: int,
    template: str,
    status: int,
    **context: Any,
) -> Response:
    """One part of the add box for htmx; without it, the add box on a page of its own (the
    contacts page is another module's)."""
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    if _is_htmx(request):
        context["csrf"] = csrf_token(request)
        return templates.TemplateResponse(request, template, {**ctx, **context}, status)
    return page(
        request,
        "import_page.html",
        status,
        user=user,
        nav="sequences",
        tab="contacts",
        part=template,
        **ctx,
        **context,
    )


@router.post("/sequences/{sequence_id}/contacts", dependencies=CSRF)
def add_contacts(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    """Pasted lines (a header row allowed): every bad line shown at once with its line number;
    the good ones are added when all are good, or when the user confirms skipping the others."""
    text = str(form.get("contacts") or "")
    values = {"contacts": text}
    try:
        caller = _caller(request, db, sequence_id)
    except ServiceError as exc:
        return alert(exc.message, exc.status_code)
    try:
        if not text.strip():
            raise FormInvalid({"contacts": "Paste at least one contact: one per line."})
        if len(text) > PASTE_MAX:
            raise FormInvalid({"contacts": "Too much to paste: upload it as a CSV file instead."})
        table = attempt(lambda: people_import.read(text, "contacts"))
        if not table.rows:
            raise FormInvalid({"contacts": "Paste at least one contact under the header row."})
        if table.header is not None and "email" not in guess_mapping(table):
            raise FormInvalid({"contacts": HEADER_WITHOUT_EMAIL})
        columns = attempt(lambda: people_import.mapping(table, None))
        checked = attempt(
            lambda: people_import.check(db, caller, sequence_id, table, columns, contact_problem)
        )
        if checked.good and (not checked.bad or form.get("confirm") == str(len(checked.good))):
            report = attempt(lambda: people_import.add(db, caller, sequence_id, checked))
            return _done(request, sequence_id, _summary(report))
    except FormInvalid as exc:
        problem = next(iter(exc.errors.values()))
        errors = {"contacts": problem[:1].upper() + problem[1:].rstrip(".") + "."}
        return _box(
            request, db, sequence_id, "_import_paste.html", 422, errors=errors, values=values
        )
    # Some lines are bad: all of them shown, and the good ones added only once confirmed.
    return _box(
        request,
        db,
        sequence_id,
        "_import_paste.html",
        422,
        values=values,
        bad=checked.bad,
        good=len(checked.good),
        header=table.header,
    )


def _summary(report: people_import.ImportReport) -> str:
    c = report.counts
    parts = [f"Added {c['added']}"]
    if c["merged"]:
        parts.append(f"{c['merged']} already in Outbound (updated)")
    parts.append(f"{c['already_in_sequence']} already in the sequence")
    if c["skipped"]:
        parts.append(f"{c['skipped']} skipped")
    return "; ".join(parts) + "."


async def read_upload(request: Request) -> bytes | None:
    """The file, read before the handler runs (the handler is a plain def: see web/deps);
    None when none was chosen. Read up to one byte past the limit: enough to refuse it."""
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(MAX_BYTES + 1)


UploadDep = Annotated[bytes | None, Depends(read_upload)]


def _chosen(form: Any, width: int) -> list[str] | None:
    if "map_0" not in form:
        return None
    return [str(form.get(f"map_{i}") or "") for i in range(width)]


def _caller(request: Request, db: Any, sequence_id: int) -> Caller:
    """The signed-in caller, whose team's sequence this must be: another team's is a 404
    before anything about the form."""
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        sequences.get_sequence(session, caller, sequence_id)
    return caller


def _read_csv(
    data: bytes | None, form: Any, caller: Caller, db: Any, sequence_id: int
) -> tuple[Any, list[str], Any]:
    """The file, its mapping (as chosen, else guessed) and every row's outcome."""
    if data is None:
        raise FormInvalid({"file": "Choose a CSV file."})
    table = attempt(lambda: people_import.read(data))
    if not table.rows:
        raise FormInvalid({"file": "The file holds no rows."})
    columns = attempt(lambda: people_import.mapping(table, _chosen(form, table.width)))
    checked = attempt(
        lambda: people_import.check(db, caller, sequence_id, table, columns, contact_problem)
    )
    return table, columns, checked


def _mapping_step(
    request: Request, db: Any, sequence_id: int, form: Any, data: bytes | None, status: int
) -> Response:
    try:
        caller = _caller(request, db, sequence_id)
    except ServiceError as exc:
        return alert(exc.message, exc.status_code)
    try:
        table, columns, checked = _read_csv(data, form, caller, db, sequence_id)
    except FormInvalid as exc:
        if "mapping" in exc.errors and data is not None:
            table = people_import.read(data)
            columns = _chosen(form, table.width) or []
            return _box(
                request,
                db,
                sequence_id,
                "_import_mapping.html",
                422,
                table=table,
                columns=columns,
                choices=_choices(table, columns),
                checked=None,
                errors=exc.errors,
            )
        return _box(request, db, sequence_id, "_import_file_error.html", 422, errors=exc.errors)
    return _box(
        request,
        db,
        sequence_id,
        "_import_mapping.html",
        status,
        table=table,
        columns=columns,
        choices=_choices(table, columns),
        checked=checked,
        # Names this add's progress record: "Add" sends it, the progress poll asks for it.
        run_token=secrets.token_urlsafe(16),
    )


def _choices(table: Any, columns: list[str]) -> list[tuple[str, str]]:
    """What a column can become: a contact field, a custom variable named after its header (or
    the one chosen), or nothing."""
    options = [("", "Don't import"), *FIELD_LABELS.items()]
    names = table.column_names()
    variables = [CUSTOM + variable_name(n, i) for i, n in enumerate(names)]
    variables += [c for c in columns if c.startswith(CUSTOM) and c not in variables]
    return options + [(v, f"Variable {{{{{v.removeprefix(CUSTOM)}}}}}") for v in variables]


@router.post("/sequences/{sequence_id}/contacts/csv/preview", dependencies=CSRF)
def csv_preview(
    sequence_id: int, request: Request, db: DbDep, form: FormDep, data: UploadDep
) -> Response:
    """The mapping step: the columns found, a select each, the first rows, and what each row
    would become (recounted whenever a select changes)."""
    return _mapping_step(request, db, sequence_id, form, data, 200)


@router.post("/sequences/{sequence_id}/contacts/csv", dependencies=CSRF)
def csv_add(
    sequence_id: int, request: Request, db: DbDep, form: FormDep, data: UploadDep
) -> Response:
    """Add the good rows of the file (chunks that commit as they go, in the thread pool: a
    10,000-row file holds neither the database nor the server), then the report. With the
    mapping step's token, a progress record counts the rows as they go in (the page polls it),
    and the same form sent again shows the first add's progress instead of adding twice (or
    restarting it: an interrupted add is only shown; reading the file again is a new add)."""
    try:
        caller = _caller(request, db, sequence_id)
    except ServiceError as exc:
        return alert(exc.message, exc.status_code)
    token = str(form.get("run") or "")
    run_id = None
    if token:
        try:
            run, new = people_import.begin_csv_run(db, caller, sequence_id, token)
        except ServiceError as exc:
            return _box(
                request,
                db,
                sequence_id,
                "_import_file_error.html",
                422,
                errors={"file": exc.message},
            )
        if not new:
            return _box(
                request,
                db,
                sequence_id,
                "_import_progress.html",
                200,
                run=run,
                token=token,
                again=True,
            )
        run_id = run.id
    try:
        _, _, checked = _read_csv(data, form, caller, db, sequence_id)
    except FormInvalid:
        if run_id is not None:
            people_import.fail_csv_run(db, run_id, "the file or its mapping could not be read")
        return _mapping_step(request, db, sequence_id, form, data, 422)
    try:
        report = attempt(lambda: people_import.add(db, caller, sequence_id, checked, run_id=run_id))
    except FormInvalid as exc:
        return _box(request, db, sequence_id, "_import_file_error.html", 422, errors=exc.errors)
    return _box(
        request,
        db,
        sequence_id,
        "_import_report.html",
        200,
        report=report,
        skipped_csv=_skipped_csv(report),
    )


@router.get("/sequences/{sequence_id}/contacts/csv/progress")
def csv_progress(sequence_id: int, request: Request, db: DbDep, run: str = "") -> Response:
    """How far the file being added has got: polled by the add step until the add is over
    (done, failed, or interrupted: its process stopped, and the page says what it added)."""
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
    try:
        found = people_import.csv_run(db, caller, sequence_id, run)
    except ServiceError as exc:
        return alert(exc.message, exc.status_code)
    context = {"run": found, "token": run, "seq_id": sequence_id, "again": False}
    return templates.TemplateResponse(request, "_import_progress.html", context)


def _skipped_csv(report: people_import.ImportReport) -> str:
    """The skipped rows as a CSV file (line, email, reason), for a download link."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "email", "reason"])
    for row in report.skipped:
        writer.writerow([row.line, row.email, row.note])
    return out.getvalue()


@router.post("/sequences/{sequence_id}/import", dependencies=CSRF)
def start_import(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        try:  # another team's sequence is a 404 before anything about the form
            sequences.get_sequence(session, caller, sequence_id)
        except ServiceError as exc:
            return alert(exc.message, exc.status_code)
        try:
            list_id = form_text(form, "list_id", max_length=100)
        except FormInvalid as exc:
            return alert(f"List: {exc.errors['list_id']}", 422)
        if not list_id:
            return alert("Pick a list to import.", 422)
        try:
            run = imports.start_import(session, caller, sequence_id, list_id)
        except ServiceError as exc:
            return alert(exc.message, exc.status_code)
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
