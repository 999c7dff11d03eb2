"""One contact opened: its problems with their fixes, its fields to edit (then resume), the
email thread, and its ATS record with the history as sentences. A full page, or the panel
alone for htmx (the contacts list opens it beside the list)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import ContactPatch
from outbound.domain.contact_status import contact_status
from outbound.domain.templates import STANDARD_VARIABLES
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service import contact_problems, contacts, enrollments, outreach
from outbound.service import timeline as timelines
from outbound.service.caller import Caller
from outbound.service.errors import ServiceError
from outbound.service.sequences import get_sequence
from outbound.store.models import Contact, Enrollment
from outbound.web.deps import FormDep
from outbound.web.forms import FormInvalid, blank_to_none, parse
from outbound.web.render import page, templates
from outbound.web.sequence_page import owner_credentials
from outbound.web.session import check_csrf, csrf_token, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]

# The contact's own fields, in the order the form shows them: (name, label, input type).
FIELDS = (
    ("email", "Email", "email"),
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("company", "Company", "text"),
    ("title", "Job title", "text"),
    ("phone", "Phone", "tel"),
    ("location", "Location", "text"),
    ("linkedin_url", "LinkedIn URL", "url"),
)
VARIABLE_FIELD = "var__"  # form names of custom variables: var__school
MISSING = re.compile(r"\{\{(\w+)\}\}")


@router.get("/enrollments/{eid}")
def contact_page(
    eid: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    """The contact panel: the panel alone for htmx, else the full page around it."""
    titles = _job_titles(request, db, box, settings, eid)
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        context = _panel_context(session, caller, eid, settings, titles)
        context["values"] = _values(context["c"])
        return _render(request, user, context)


@router.post("/enrollments/{eid}/contact", dependencies=CSRF)
def save_contact(
    eid: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep, form: FormDep
) -> Response:
    """Save the fields (the API's ContactPatch rules, errors beside each field); with
    action=resume, then resume the contact: its next step is rendered again at once, and a
    value still missing is named on the contact instead of being sent for."""
    resume = form.get("action") == "resume"
    typed = {name: str(form.get(name) or "") for name, _, _ in FIELDS}
    variables = {
        key.removeprefix(VARIABLE_FIELD): str(value)
        for key, value in form.multi_items()
        if key.startswith(VARIABLE_FIELD)
    }
    try:
        # One transaction: a refused save or resume leaves nothing half-done.
        with db.session() as session:
            caller, user = current_caller(request, session)
            e = enrollments.get_enrollment(session, caller, eid)
            edit = contacts.edit_contact(session, caller, e, _patch(typed, variables, e, session))
            notes = _edit_notes(edit, e)
            if resume:
                outreach.resume(
                    session, caller, eid, resend=False, day_seconds=settings.mail_day_seconds
                )
                notes.append(_resume_note(e))
    except FormInvalid as exc:
        return _failed(request, db, box, settings, eid, typed, variables, exc.errors)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        field = exc.field if exc.field in typed else "form"
        return _failed(request, db, box, settings, eid, typed, variables, {field: exc.message})
    titles = _job_titles(request, db, box, settings, eid)
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        context = _panel_context(session, caller, eid, settings, titles)
        context |= {"values": _values(context["c"]), "notes": notes}
        return _render(request, user, context)


@router.get("/enrollments/{eid}/timeline")
def timeline(
    eid: int,
    request: Request,
    db: DbDep,
    box: BoxDep,
    settings: SettingsDep,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The contact's timeline: thread and ATS history, with the latest ATS calls as technical
    details; with ``before``, only the page of calls before that one ("Show earlier")."""
    titles = {} if before is not None else _job_titles(request, db, box, settings, eid)
    with db.read_session() as session:
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
            "e": e,
            "summaries": timelines.summaries_of(session, e),
            "thread": timelines.thread_of(session, e),
            "record": timelines.ats_record(e, settings),
            "history": timelines.ats_history(session, e, titles),
        }
        return templates.TemplateResponse(request, "_timeline.html", context)


# -- helpers ------------------------------------------------------------------------------
def _job_titles(request: Request, db: Any, box: Any, settings: Any, eid: int) -> dict[str, str]:
    """The titles of the jobs the contact's history names, asked of the sequence owner's ATS
    once per view with no transaction open; {} (ids shown) when there is none to ask."""
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        e = enrollments.get_enrollment(session, caller, eid)
        wanted = timelines.attached_job_ids(session, e)
        sequence_id, provider = e.sequence_id, (e.sync_snapshot or {}).get("provider")
    if not wanted:
        return {}
    access = owner_credentials(request, db, box, sequence_id)
    if access is None or access[0] != provider:
        return {}
    return timelines.job_titles(*access, settings, wanted)


def _panel_context(
    session: Session, caller: Caller, eid: int, settings: Any, titles: dict[str, str]
) -> dict[str, Any]:
    e = enrollments.get_enrollment(session, caller, eid)
    c = session.get(Contact, e.contact_id)
    assert c is not None
    calls = timelines.timeline_page(session, caller, eid, timelines.PAGE_SIZE)
    return {
        "e": e,
        "c": c,
        "seq": get_sequence(session, caller, e.sequence_id),
        "eid": e.id,
        "status": contact_status(e.state, e.engagement, e.error_code),
        "provider": (e.sync_snapshot or {}).get("provider"),
        "problems": contact_problems.problems_of(session, e),
        "thread": timelines.thread_of(session, e),
        "record": timelines.ats_record(e, settings),
        "history": timelines.ats_history(session, e, titles),
        "calls": calls.calls,
        "next_before": calls.next_before,
        "summaries": calls.summaries,
        "resumable": e.state == "paused" or e.error_code in outreach.RESUMABLE,
        "fields": FIELDS,
        "variable_field": VARIABLE_FIELD,
        "variables": _variable_names(c, e),
        "notes": [],
        "errors": {},
    }


def _variable_names(c: Contact, e: Enrollment) -> list[str]:
    """Custom variables to show: the contact's own, and those its error says are missing."""
    names = list((c.custom_variables or {}).keys())
    if e.error_code == "missing_variable":
        for name in MISSING.findall(e.error_message or ""):
            if name not in STANDARD_VARIABLES and name not in names:
                names.append(name)
    return names


def _values(c: Contact) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(c, name) or "" for name, _, _ in FIELDS}
    for key, value in (c.custom_variables or {}).items():
        values[VARIABLE_FIELD + key] = "" if value is None else str(value)
    return values


def _patch(
    typed: dict[str, str], variables: dict[str, str], e: Enrollment, session: Session
) -> dict[str, Any]:
    """The form as a ContactPatch: blank clears a field; custom variables are merged into the
    contact's (a blank one is removed)."""
    raw: dict[str, Any] = {k: blank_to_none(v.strip()) for k, v in typed.items()}
    if raw["email"] is None:
        raise FormInvalid({"email": "An email address is required."})
    if variables:
        c = session.get(Contact, e.contact_id)
        merged = dict((c.custom_variables if c else None) or {})
        for key, value in variables.items():
            if value.strip():
                merged[key] = value.strip()
            else:
                merged.pop(key, None)
        raw["custom_variables"] = merged
    patch = parse(ContactPatch, raw)
    data = patch.model_dump(exclude_unset=True)
    # Custom-variable errors name their key (custom_variables.school): shown on that input.
    return data


def _edit_notes(edit: contacts.Edit, e: Enrollment) -> list[str]:
    if not edit.changed:
        return ["Nothing changed."]
    title = PROVIDER_TITLES.get((e.sync_snapshot or {}).get("provider") or "", "")
    notes = ["Saved."]
    if edit.queued_to_ats:
        notes.append(f"Queued to update in {title}: {_words(edit.queued_to_ats)}.")
    if edit.outbound_only and e.ats_record_id:
        notes.append(f"Changed in Outbound only: {_words(edit.outbound_only)}.")
    return notes


def _resume_note(e: Enrollment) -> str:
    if e.error_code == "missing_variable":
        return "Not resumed: " + (e.error_message or "a value is still missing.")
    if e.error_code:
        return f"Resumed, but the contact still needs attention: {e.error_message}"
    return "Resumed: the next email goes out in the sending window."


def _words(fields: list[str]) -> str:
    return ", ".join(f.replace("_", " ") for f in fields)


def _failed(
    request: Request,
    db: Any,
    box: Any,
    settings: Any,
    eid: int,
    typed: dict[str, str],
    variables: dict[str, str],
    errors: dict[str, str],
) -> Response:
    """The panel again with what was typed and each error beside its field (422)."""
    values: dict[str, Any] = dict(typed)
    values |= {VARIABLE_FIELD + k: v for k, v in variables.items()}
    shown = {}
    for field, message in errors.items():
        if field.startswith("custom_variables."):
            field = VARIABLE_FIELD + field.removeprefix("custom_variables.")
        shown[field if field in values else "form"] = message
    titles = _job_titles(request, db, box, settings, eid)
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        context = _panel_context(session, caller, eid, settings, titles)
        context |= {"values": values, "errors": shown}
        return _render(request, user, context, 422)


def _render(request: Request, user: Any, context: dict[str, Any], status: int = 200) -> Response:
    # A save from the full page swaps the panel inside that page: it stays the page's panel.
    on_page = (
        request.headers.get("HX-Current-URL", "")
        .split("?")[0]
        .endswith(f"/enrollments/{context['eid']}")
    )
    context["full"] = not request.headers.get("HX-Request") or on_page
    if not context["full"]:
        context["csrf"] = csrf_token(request)
        return templates.TemplateResponse(
            request, "_contact_panel.html", context, status_code=status
        )
    name = " ".join(p for p in (context["c"].first_name, context["c"].last_name) if p)
    return page(
        request,
        "contact.html",
        status,
        user=user,
        nav="sequences",
        heading=name or context["c"].email,
        **context,
    )
