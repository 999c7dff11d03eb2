"""Adding people to a sequence: the paste box and the import of an ATS list with live
progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import ContactIn
from outbound.connectors.registry import ATS
from outbound.service import enrollments, imports, sequences
from outbound.service.ats_calls import call_ats
from outbound.service.errors import ServiceError
from outbound.web.deps import FormDep
from outbound.web.forms import (
    FormInvalid,
    attempt,
    form_text,
    parse,
)
from outbound.web.render import page, templates
from outbound.web.routes_contacts import contact_rows
from outbound.web.sequence_page import alert, owner_credentials, sequence_context
from outbound.web.session import check_csrf, current_caller

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
            ctx = sequence_context(session, caller, sequence_id)
            return page(
                request,
                "sequence_contacts.html",
                422,
                user=user,
                nav="sequences",
                tab="contacts",
                rows=contact_rows(session, caller, sequence_id),
                lists=[],
                errors=exc.errors,
                values={"contacts": text},
                **ctx,
            )
    note = f"Added {result.added}; {result.already_present} already in the sequence."
    return RedirectResponse(f"/sequences/{sequence_id}?done={note}", 303)


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
