"""Sequences: the list, creating one, its steps and its Syncing tab."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.schemas import SequenceSyncIn, StepIn
from outbound.service import sequences
from outbound.service.sequences import StepInput
from outbound.store.models import Enrollment
from outbound.web.deps import FormDep
from outbound.web.forms import (
    FormInvalid,
    attempt,
    blank_to_none,
    checkbox,
    form_text,
    parse,
)
from outbound.web.render import page
from outbound.web.routes_integrations import RECORD_TYPES, _ats_lists
from outbound.web.sequence_page import owner_credentials, sequence_context
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]


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


@router.get("/sequences/{sequence_id}/steps")
def steps_page(sequence_id: int, request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
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
            ctx = sequence_context(session, caller, sequence_id)
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
    jobs = _jobs(owner_credentials(request, db, box, sequence_id), settings)
    with db.session() as session:
        caller, user = current_caller(request, session)
        ctx = sequence_context(session, caller, sequence_id)
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
        jobs = _jobs(owner_credentials(request, db, box, sequence_id), settings)
        with db.session() as session:
            caller, user = current_caller(request, session)
            ctx = sequence_context(session, caller, sequence_id)
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
