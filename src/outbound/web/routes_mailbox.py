"""The Mailbox page: connect with Google or Microsoft (OAuth 2.0) or with SMTP and IMAP
passwords; the sending window and daily limit."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from outbound.api.deps import BoxDep, DbDep, SettingsDep
from outbound.api.guards import PAGE_POLICY
from outbound.api.schemas import MailboxIn, MailboxSchedulePatch
from outbound.service import mailbox_oauth, mailboxes
from outbound.service.errors import ServiceError
from outbound.web.forms import FormInvalid, attempt, blank_to_none, parse, whole_number
from outbound.web.render import page
from outbound.web.session import SignInRequired, check_csrf, current_caller

router = APIRouter(include_in_schema=False)
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@router.get("/mailbox")
def mailbox_page(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    return _mailbox_page(request, db, settings, 200, {})


def _mailbox_page(
    request: Request, db: Any, settings: Any, status: int, errors: dict[str, str]
) -> Response:
    with db.read_session() as session:
        caller, user = current_caller(request, session)
        mb = mailboxes.get_mailbox(session, caller.user_id)
        values: dict[str, Any] = {}
        if mb is not None:
            values = {k: getattr(mb, k) for k in mailboxes.SETTABLE}
        providers = mailbox_oauth.available(settings)
        response = page(
            request,
            "mailbox.html",
            status,
            user=user,
            nav="mailbox",
            mb=mb,
            values=values,
            days=DAYS,
            errors=errors,
            providers=providers,
            flash=request.query_params.get("done"),
        )
    # "Connect with …" posts here and is redirected to the provider's sign-in: the page's
    # form-action must allow that origin, or the browser stops the redirect.
    origins = " ".join(sorted({mailbox_oauth.sign_in_origin(settings, p.name) for p in providers}))
    if origins:
        policy = PAGE_POLICY.replace("form-action 'self'", f"form-action 'self' {origins}")
        response.headers["content-security-policy"] = policy
    return response


@router.post("/mailbox/oauth/{provider}", dependencies=[Depends(check_csrf)])
def connect_with_provider(
    provider: str, request: Request, db: DbDep, box: BoxDep, settings: SettingsDep
) -> Response:
    """Off to Google or Microsoft; they send the browser back to the callback below."""
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
    try:
        url = mailbox_oauth.begin(db, caller, settings, box, provider)
    except ServiceError as exc:
        return _mailbox_page(request, db, settings, exc.status_code, {"form": exc.message})
    return RedirectResponse(url, 303)


@router.get("/mailbox/oauth/callback")
def oauth_callback(
    request: Request,
    db: DbDep,
    box: BoxDep,
    settings: SettingsDep,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
) -> Response:
    """Where the provider sends the browser back (the redirect URL registered with it). It
    connects the mailbox only for the person signed in here, who must be the one who began."""
    try:
        with db.read_session() as session:
            caller, _ = current_caller(request, session)
    except SignInRequired:
        message = (
            "Sign in to Outbound in this browser first, then connect the mailbox again: "
            "nothing was connected."
        )
        return HTMLResponse(_plain_page(message), 401)
    try:
        connected = mailbox_oauth.finish(db, box, settings, caller, state, code, error)
    except ServiceError as exc:
        return _mailbox_page(request, db, settings, exc.status_code, {"form": exc.message})
    note = f"Connected with {connected.provider} as {connected.email}: sending resumes."
    return RedirectResponse(f"{connected.return_to}?done={note}", 303)


def _plain_page(message: str) -> str:
    return (
        "<!doctype html><title>Mailbox not connected</title>"
        f"<h1>Mailbox not connected</h1><p role='alert'>{html.escape(message)}</p>"
    )


@router.post("/mailbox/schedule", dependencies=[Depends(check_csrf)])
async def save_schedule(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    form = await request.form()
    data: dict[str, Any] = {
        k: blank_to_none(str(form.get(k) or ""))
        for k in ("from_name", "time_zone", "window_start", "window_end", "daily_limit")
    }
    data["send_days"] = [n for d in form.getlist("send_days") if (n := whole_number(d)) is not None]
    try:
        body = parse(MailboxSchedulePatch, {k: v for k, v in data.items() if v is not None})
        with db.session() as session:
            caller, _ = current_caller(request, session)
            attempt(lambda: mailboxes.update_schedule(session, caller, body.model_dump()))
    except FormInvalid as exc:
        return _mailbox_page(request, db, settings, 422, exc.errors)
    return RedirectResponse("/mailbox?done=Sending schedule saved.", 303)


@router.post("/mailbox", dependencies=[Depends(check_csrf)])
async def save_mailbox(request: Request, db: DbDep, box: BoxDep, settings: SettingsDep) -> Response:
    form = await request.form()
    # The ATS and mail servers are called synchronously: off the event loop.
    return await run_in_threadpool(_save_mailbox, request, form, db, box, settings)


def _save_mailbox(request: Request, form: Any, db: Any, box: Any, settings: Any) -> Response:
    raw = {k: str(v) for k, v in form.items() if k not in ("csrf_token", "send_days")}
    data: dict[str, Any] = {k: blank_to_none(v) for k, v in raw.items()}
    data["send_days"] = [n for d in form.getlist("send_days") if (n := whole_number(d)) is not None]
    with db.session() as session:
        caller, user = current_caller(request, session)
        existing = mailboxes.get_mailbox(session, caller.user_id)
    try:
        body = parse(MailboxIn, {k: v for k, v in data.items() if v is not None})
        values = body.model_dump(exclude={"smtp_password", "imap_password"})
        values["smtp_username"] = values["smtp_username"] or body.email
        passwords = {"smtp_password": body.smtp_password, "imap_password": body.imap_password}
        change = attempt(
            lambda: mailboxes.plan_change(existing, caller, values, passwords, box, settings)
        )
        # No transaction is open while the servers answer (on SQLite it would hold the lock).
        attempt(lambda: mailboxes.verify(change.mailbox, change.secrets))
        with db.session() as session:
            try:
                mailboxes.save_change(session, caller, change, box)
            except ServiceError as exc:  # changed meanwhile: said above the form
                raise FormInvalid({"form": exc.message}) from exc
    except FormInvalid as exc:
        keep = {k: v for k, v in data.items() if "password" not in k}  # never echo passwords
        return page(
            request,
            "mailbox.html",
            422,
            user=user,
            nav="mailbox",
            mb=existing,
            values=keep,
            errors=exc.errors,
            days=DAYS,
        )
    return RedirectResponse("/mailbox?done=Mailbox saved: both servers answered.", 303)
