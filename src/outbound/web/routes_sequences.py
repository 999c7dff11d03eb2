"""Sequences: the list, creating one, renaming, archiving and deleting it, its steps (edit,
reorder, delete, preview, test send) and its Syncing tab."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import SequenceSyncIn, StepIn
from outbound.service import connections, sequences
from outbound.service.errors import ServiceError
from outbound.service.sequence_figures import FIGURE_NAMES, sequence_figures
from outbound.service.sequences import StepInput
from outbound.service.step_preview import (
    NoMailbox,
    contacts_to_pick,
    preview_step,
    send_test,
    variables,
)
from outbound.store.models import Sequence
from outbound.web.deps import FormDep
from outbound.web.forms import (
    FormInvalid,
    attempt,
    blank_to_none,
    checkbox,
    form_text,
    parse,
    whole_number,
)
from outbound.web.render import page
from outbound.web.routes_integrations import RECORD_TYPES, _ats_lists
from outbound.web.sequence_page import owner_credentials, sequence_context
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]
STEP_VARIABLES = variables()


# -- list and create ---------------------------------------------------------------------
@router.get("/sequences")
def sequence_list(request: Request, db: DbDep) -> Response:
    show_archived = request.query_params.get("archived") == "1"
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        rows = sequences.list_sequences(session, caller, include_archived=show_archived)
        # One grouped query for the page's sequences: never one per row.
        figures = sequence_figures(session, caller.team_id, [s.id for s in rows])
        return page(
            request,
            "sequences.html",
            user=user,
            nav="sequences",
            sequences=rows,
            figures=figures,
            figure_names=FIGURE_NAMES,
            show_archived=show_archived,
            flash=request.query_params.get("done"),
        )


def _new_steps_from_form(form: Any) -> list[StepInput]:
    """A new sequence's steps: a step left entirely blank is not one; a step with a subject
    and no body is a field error."""
    steps: list[StepInput] = []
    errors: dict[str, str] = {}
    for i in _indexes(form):
        subject, body = _raw(form, "subject", i), _raw(form, "body", i)
        if not subject.strip() and not body.strip():
            continue
        steps.append(_parse_step(form, i, errors))
    if errors:
        raise FormInvalid(errors)
    return steps


def _indexes(form: Any) -> list[int]:
    return sorted({int(k.split("_")[1]) for k in form if k.startswith("body_")})


def _raw(form: Any, name: str, i: int) -> str:
    return str(form.get(f"{name}_{i}") or "")


def _parse_step(form: Any, i: int, errors: dict[str, str]) -> StepInput:
    data: dict[str, Any] = {
        "subject": _raw(form, "subject", i),
        "body": _raw(form, "body", i),
        "delay_days": form.get(f"delay_{i}") or 0,
    }
    if not data["body"].strip():
        errors[f"steps[{i}].body"] = (
            "A step needs a body. To remove the step, use its Delete step button."
        )
        return StepInput(data["subject"], data["body"], 0)
    try:
        step = parse(StepIn, data, ("steps", i))
    except FormInvalid as exc:
        errors.update(exc.errors)
        return StepInput(data["subject"], data["body"], 0)
    return StepInput(step.subject, step.body, step.delay_days)


def _raw_steps(form: Any) -> list[dict[str, Any]]:
    return [
        {
            "subject": _raw(form, "subject", i),
            "body": _raw(form, "body", i),
            "delay_days": form.get(f"delay_{i}") or 0,
        }
        for i in _indexes(form)
    ]


@router.get("/sequences/new")
def new_sequence_page(request: Request, db: DbDep) -> Response:
    with db.read_session() as session:
        _, user = current_caller(request, session)
    return page(
        request,
        "sequence_new.html",
        user=user,
        nav="sequences",
        steps=[],
        create_token=secrets.token_urlsafe(24),
        variables=STEP_VARIABLES,
    )


@router.post("/sequences/new", dependencies=CSRF)
def create_sequence(request: Request, db: DbDep, form: FormDep) -> Response:
    name = str(form.get("name") or "").strip()  # as typed, shown again if refused
    token = str(form.get("create_token") or "")[:64] or None
    try:
        with db.session() as session:  # a failed form leaves this block: nothing is stored
            caller, user = current_caller(request, session)
            earlier = sequences.created_with(session, caller, token) if token else None
            if earlier is not None:  # the same form sent twice: show what the first made
                return RedirectResponse(f"/sequences/{earlier.id}/syncing", 303)
            name = form_text(form, "name", max_length=200)
            if not name:
                raise FormInvalid({"name": "Give the sequence a name."})
            steps = _new_steps_from_form(form)
            seq = attempt(
                lambda: sequences.create_sequence(
                    session, caller, name, steps, {}, create_token=token
                )
            )
            seq_id = seq.id
    except FormInvalid as exc:
        with db.read_session() as session:
            _, user = current_caller(request, session)
            return page(
                request,
                "sequence_new.html",
                422,
                user=user,
                nav="sequences",
                errors=exc.errors,
                values={"name": name},
                steps=_raw_steps(form)[:-1],
                new_step=_raw_steps(form)[-1] if _indexes(form) else None,
                create_token=token or secrets.token_urlsafe(24),
                variables=STEP_VARIABLES,
            )
    # The guides: choose the sequence's job (and record type) before adding anyone.
    return RedirectResponse(
        f"/sequences/{seq_id}/syncing?done=Sequence created. Choose its job and sync "
        "settings first: they apply to contacts added after you save.",
        303,
    )


# -- rename, archive, delete -------------------------------------------------------------
@router.get("/sequences/{sequence_id}/rename")
def rename_page(sequence_id: int, request: Request, db: DbDep) -> Response:
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
        return page(request, "sequence_rename.html", user=user, nav="sequences", **ctx)


@router.post("/sequences/{sequence_id}/rename", dependencies=CSRF)
def rename(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    name = str(form.get("name") or "").strip()
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            name = form_text(form, "name", max_length=200)
            if not name:
                raise FormInvalid({"name": "Give the sequence a name."})
            attempt(lambda: sequences.rename_sequence(session, caller, sequence_id, name))
    except FormInvalid as exc:
        with db.read_session() as session:
            caller, user = current_caller(request, session)
            ctx = sequence_context(session, caller, sequence_id)
            return page(
                request,
                "sequence_rename.html",
                422,
                user=user,
                nav="sequences",
                errors=exc.errors,
                values={"name": name},
                **ctx,
            )
    return RedirectResponse(f"/sequences/{sequence_id}/steps?done=Renamed.", 303)


def _confirm(
    request: Request, db: Any, sequence_id: int, status: int = 200, **extra: Any
) -> Response:
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
        return page(
            request, "sequence_confirm.html", status, user=user, nav="sequences", **ctx, **extra
        )


@router.get("/sequences/{sequence_id}/archive")
def archive_page(sequence_id: int, request: Request, db: DbDep) -> Response:
    return _confirm(request, db, sequence_id, action="archive")


@router.post("/sequences/{sequence_id}/archive", dependencies=CSRF)
def archive(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    archived = form.get("archived") != "0"
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            seq = attempt(lambda: sequences.set_archived(session, caller, sequence_id, archived))
            name = seq.name
    except FormInvalid as exc:
        return _confirm(request, db, sequence_id, 403, action="archive", errors=exc.errors)
    if archived:
        return RedirectResponse(f"/sequences?done=Archived {name}: it sends nothing more.", 303)
    return RedirectResponse(
        f"/sequences/{sequence_id}/steps?done=Unarchived: its contacts carry on.", 303
    )


@router.get("/sequences/{sequence_id}/delete")
def delete_page(sequence_id: int, request: Request, db: DbDep) -> Response:
    return _confirm(request, db, sequence_id, action="delete")


@router.post("/sequences/{sequence_id}/delete", dependencies=CSRF)
def delete(sequence_id: int, request: Request, db: DbDep) -> Response:
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            name = sequences.get_sequence(session, caller, sequence_id).name
            attempt(lambda: sequences.delete_sequence(session, caller, sequence_id))
    except FormInvalid as exc:
        return _confirm(request, db, sequence_id, 403, action="delete", errors=exc.errors)
    return RedirectResponse(f"/sequences?done=Deleted {name}.", 303)


# -- steps -------------------------------------------------------------------------------
def _steps_page(
    request: Request,
    session: Session,
    sequence_id: int,
    status: int = 200,
    **extra: Any,
) -> Response:
    caller, user = current_caller(request, session)
    ctx = sequence_context(session, caller, sequence_id)
    seq = ctx["seq"]
    extra.setdefault(
        "steps",
        [{"subject": s.subject, "body": s.body, "delay_days": s.delay_days} for s in seq.steps],
    )
    return page(
        request,
        "sequence_steps.html",
        status,
        user=user,
        nav="sequences",
        tab="steps",
        impacts=sequences.step_impacts(session, seq),
        variables=STEP_VARIABLES,
        **ctx,
        **extra,
    )


@router.get("/sequences/{sequence_id}/steps")
def steps_page(sequence_id: int, request: Request, db: DbDep) -> Response:
    with db.read_session() as session:
        return _steps_page(request, session, sequence_id, flash=request.query_params.get("done"))


@router.post("/sequences/{sequence_id}/steps", dependencies=CSRF)
def save_steps(sequence_id: int, request: Request, db: DbDep, form: FormDep) -> Response:
    """Edits the steps in place and adds the new one if it was filled in. Removing a step is
    its own button (its rule for contacts mid-sequence is shown first), never a blank body."""
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            seq = sequences.get_sequence(session, caller, sequence_id)
            count = len(seq.steps)
            if str(form.get("step_count")) != str(count):
                raise FormInvalid(
                    {"form": "The steps changed since this page was opened: reload it."}
                )
            errors: dict[str, str] = {}
            steps = [_parse_step(form, i, errors) for i in range(count)]
            subject, body = _raw(form, "subject", count), _raw(form, "body", count)
            if subject.strip() or body.strip():
                steps.append(_parse_step(form, count, errors))
            if errors:
                raise FormInvalid(errors)
            attempt(
                lambda: sequences.update_sequence(session, caller, sequence_id, None, steps, {})
            )
    except FormInvalid as exc:
        raw = _raw_steps(form)
        with db.read_session() as session:
            return _steps_page(
                request,
                session,
                sequence_id,
                422,
                steps=raw[:-1],
                new_step=raw[-1] if raw else None,
                errors=exc.errors,
            )
    return RedirectResponse(f"/sequences/{sequence_id}/steps?done=Steps saved.", 303)


def _step_action_page(
    request: Request,
    db: Any,
    sequence_id: int,
    position: int,
    action: str,
    status: int = 200,
    **extra: Any,
) -> Response:
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
        seq = ctx["seq"]
        if not 0 <= position < len(seq.steps):
            return RedirectResponse(f"/sequences/{sequence_id}/steps", 303)
        return page(
            request,
            "sequence_step_action.html",
            status,
            user=user,
            nav="sequences",
            tab="steps",
            action=action,
            position=position,
            impacts=sequences.step_impacts(session, seq),
            **ctx,
            **extra,
        )


def _form_id(form: Any, name: str) -> int:
    """The id a confirmation form carries: 0 (matches no step) when missing or not a number."""
    raw = str(form.get(name) or "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else 0


@router.get("/sequences/{sequence_id}/steps/{position}/delete")
def delete_step_page(sequence_id: int, position: int, request: Request, db: DbDep) -> Response:
    return _step_action_page(request, db, sequence_id, position, "delete")


@router.get("/sequences/{sequence_id}/steps/{position}/move")
def move_step_page(sequence_id: int, position: int, request: Request, db: DbDep) -> Response:
    direction = "up" if request.query_params.get("direction") == "up" else "down"
    return _step_action_page(request, db, sequence_id, position, direction)


@router.post("/sequences/{sequence_id}/steps/{position}/delete", dependencies=CSRF)
def delete_step(
    sequence_id: int, position: int, request: Request, db: DbDep, form: FormDep
) -> Response:
    step_id = _form_id(form, "step_id")
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            attempt(lambda: sequences.delete_step(session, caller, sequence_id, position, step_id))
    except FormInvalid as exc:
        return _step_action_page(
            request, db, sequence_id, position, "delete", 422, errors=exc.errors
        )
    return RedirectResponse(
        f"/sequences/{sequence_id}/steps?done=Step {position + 1} deleted.", 303
    )


@router.post("/sequences/{sequence_id}/steps/{position}/move", dependencies=CSRF)
def move_step(
    sequence_id: int, position: int, request: Request, db: DbDep, form: FormDep
) -> Response:
    direction = "up" if form.get("direction") == "up" else "down"
    step_id = _form_id(form, "step_id")
    try:
        with db.session() as session:
            caller, _ = current_caller(request, session)
            attempt(
                lambda: sequences.move_step(
                    session, caller, sequence_id, position, direction, step_id
                )
            )
    except FormInvalid as exc:
        return _step_action_page(
            request, db, sequence_id, position, direction, 422, errors=exc.errors
        )
    return RedirectResponse(
        f"/sequences/{sequence_id}/steps?done=Step {position + 1} moved {direction}.", 303
    )


def _preview_page(
    request: Request, db: Any, sequence_id: int, position: int, status: int = 200, **extra: Any
) -> Response:
    raw = request.query_params.get("contact") or extra.pop("contact", None)
    enrollment_id = whole_number(raw)
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
        seq = ctx["seq"]
        try:
            preview, contact = preview_step(session, caller, sequence_id, position, enrollment_id)
        except ServiceError:
            return RedirectResponse(f"/sequences/{sequence_id}/steps", 303)
        return page(
            request,
            "sequence_step_preview.html",
            status,
            user=user,
            nav="sequences",
            tab="steps",
            position=position,
            preview=preview,
            contact=contact,
            picks=contacts_to_pick(session, seq),
            chosen=enrollment_id,
            **ctx,
            **extra,
        )


@router.get("/sequences/{sequence_id}/steps/{position}/preview")
def preview_page(sequence_id: int, position: int, request: Request, db: DbDep) -> Response:
    return _preview_page(request, db, sequence_id, position, flash=request.query_params.get("done"))


@router.post("/sequences/{sequence_id}/steps/{position}/test", dependencies=CSRF)
def test_send(
    sequence_id: int,
    position: int,
    request: Request,
    db: DbDep,
    box: BoxDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    # A plain def, in the thread pool: the mail server is called synchronously.
    raw = str(form.get("contact") or "")
    enrollment_id = whole_number(raw)
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
    try:
        sent = send_test(db, box, caller, sequence_id, position, enrollment_id, settings)
    except NoMailbox:
        return _preview_page(request, db, sequence_id, position, 409, contact=raw, no_mailbox=True)
    except ServiceError as exc:
        return _preview_page(
            request, db, sequence_id, position, 400, contact=raw, errors={"form": exc.message}
        )
    contact = f"&contact={enrollment_id}" if enrollment_id else ""
    return RedirectResponse(
        f"/sequences/{sequence_id}/steps/{position}/preview?done=Test sent to "
        f"{sent.to_address}.{contact}",
        303,
    )


# -- Syncing tab -------------------------------------------------------------------------
def _defaults(session: Session, seq: Sequence, jobs: list[tuple[str, str]]) -> dict[str, str]:
    """What "Account default" means for this sequence: its owner's integration settings."""
    own = connections.get_settings(session, seq.owner_id)
    record = dict(RECORD_TYPES).get(own.record_type, own.record_type)
    job = own.default_job_id
    job_label = dict(jobs).get(job, job) if job else "none"
    return {"record_type": f"Account default ({record})", "job": f"Account default ({job_label})"}


def _syncing_page(
    request: Request,
    db: Any,
    box: Any,
    settings: Any,
    sequence_id: int,
    status: int = 200,
    **extra: Any,
) -> Response:
    # The ATS is asked with no transaction open (on SQLite one holds the write lock).
    jobs = _jobs(owner_credentials(request, db, box, sequence_id), settings)
    with db.session() as session:  # get_settings may create the owner's default row
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
        seq = ctx["seq"]
        if seq.job_id and seq.job_id not in dict(jobs):
            # Not listed (the ATS unreachable, or the job gone): kept as the choice, named by
            # its id, so that saving the tab does not silently clear the sequence's job.
            jobs = [*jobs, (seq.job_id, f"{seq.job_id} (its title could not be loaded)")]
        return page(
            request,
            "sequence_syncing.html",
            status,
            user=user,
            nav="sequences",
            tab="syncing",
            jobs=jobs,
            record_types=RECORD_TYPES,
            defaults=_defaults(session, seq, jobs),
            **ctx,
            **extra,
        )


@router.get("/sequences/{sequence_id}/syncing")
def syncing_page(
    sequence_id: int, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    return _syncing_page(
        request, db, box, settings, sequence_id, flash=request.query_params.get("done")
    )


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
            caller, _ = current_caller(request, session)
        sync = parse(SequenceSyncIn, data).model_dump()
        # The same service as PATCH /sequences: a new job is checked against the ATS first,
        # with no session open.
        ats = sequences.AtsAccess(settings, box)
        attempt(lambda: sequences.save_sequence(db, caller, ats, sequence_id, None, None, sync))
    except FormInvalid as exc:
        exc.errors = {
            ("job_id" if k == sequences.JOB_FIELD else k): v for k, v in exc.errors.items()
        }
        return _syncing_page(
            request, db, box, settings, sequence_id, 422, errors=exc.errors, values=data
        )
    return RedirectResponse(
        f"/sequences/{sequence_id}/syncing?done=Saved: applies to contacts added from now on.",
        303,
    )
