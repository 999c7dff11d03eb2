"""Sign in and out, the signed-in browsers of the account, and changing the password."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from outbound.api.deps import DbDep
from outbound.domain.text import text_problem
from outbound.service import accounts, sign_in_throttle, web_sessions
from outbound.store.db import Database
from outbound.store.models import User
from outbound.web.forms import whole_number
from outbound.web.render import page
from outbound.web.session import (
    check_csrf,
    check_password,
    client_address,
    current_caller,
    end_session,
    hash_password,
    session_token,
    sign_in,
    verify_password,
)

router = APIRouter(include_in_schema=False)
MIN_PASSWORD = 12


@router.get("/login")
def login_page(request: Request) -> Response:
    return page(request, "login.html")


@router.post("/login", dependencies=[Depends(check_csrf)])
async def login(request: Request, db: DbDep) -> Response:
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    if not email.strip():
        return page(request, "login.html", 401, errors={"email": "Enter your email address."})
    if text_problem(email, multiline=False) or text_problem(password, multiline=False):
        # Nothing typed at a keyboard: no account matches it (and it never reaches the database).
        errors = {"form": "That email and password do not match an account."}
        return page(request, "login.html", 401, errors=errors, values={"email": ""})
    # Password hashing is slow on purpose: off the event loop.
    return await run_in_threadpool(_login, request, db, email, password)


def _login(request: Request, db: Database, email: str, password: str) -> Response:
    address = client_address(request)
    # Checking is a read (argon2 included): it waits for no writer. Only the outcome writes.
    with db.read_session() as session:
        wait = sign_in_throttle.locked_for(session, email, address)
        users = [] if wait is not None else check_password(session, email, password)
    if wait is not None:
        # The same words whether or not the account exists, and the password is not checked.
        words = sign_in_throttle.wait_words(wait)
        message = f"Too many sign-in attempts. Wait {words}, then try again."
        values = {"email": email}
        response = page(request, "login.html", 429, errors={"form": message}, values=values)
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    with db.session() as session:
        if not users:
            sign_in_throttle.record_failure(session, email, address)
        else:
            sign_in_throttle.record_success(session, email)
            if len(users) == 1:
                sign_in(request, session, users[0])
    if not users:
        errors = {"form": "That email and password do not match an account."}
        return page(request, "login.html", 401, errors=errors, values={"email": email})
    if len(users) > 1:
        # The password opened several teams' accounts: the signed cookie remembers which, for
        # a few minutes, and the next page asks which team to open.
        request.session[CHOOSING] = {
            "ids": [u.id for u in users],
            "until": time.time() + CHOOSE_SECONDS,
        }
        return RedirectResponse("/login/team", status_code=303)
    return RedirectResponse("/", status_code=303)


CHOOSING = "choose_team"
CHOOSE_SECONDS = 300


def _choices(request: Request) -> list[int]:
    pending = request.session.get(CHOOSING) or {}
    if not pending or float(pending.get("until", 0)) < time.time():
        return []
    return [int(i) for i in pending.get("ids", [])]


@router.get("/login/team")
def choose_team_page(request: Request, db: DbDep) -> Response:
    ids = _choices(request)
    if not ids:
        return RedirectResponse("/login", status_code=303)
    with db.read_session() as session:
        teams = accounts.teams_of_users(session, ids)
    return page(request, "login_team.html", teams=teams)


@router.post("/login/team", dependencies=[Depends(check_csrf)])
async def choose_team(request: Request, db: DbDep) -> Response:
    form = await request.form()
    ids = _choices(request)
    chosen = str(form.get("user_id") or "")
    if not ids:
        return RedirectResponse("/login", status_code=303)
    if whole_number(chosen) not in ids:
        with db.read_session() as session:
            teams = accounts.teams_of_users(session, ids)
        errors = {"user_id": "Choose one of your teams."}
        return page(request, "login_team.html", 422, teams=teams, errors=errors)
    request.session.pop(CHOOSING, None)
    with db.session() as session:
        user = session.get(User, whole_number(chosen))
        if user is None:  # removed from that team meanwhile
            return RedirectResponse("/login", status_code=303)
        sign_in(request, session, user)
    return RedirectResponse("/", status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        end_session(request, session)
    return RedirectResponse("/login", status_code=303)


@router.get("/account")
def account_page(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        _, user = current_caller(request, session)
        return _account(request, session, user)


def _account(
    request: Request,
    session: Session,
    user: User,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    return page(
        request,
        "account.html",
        status_code,
        user=user,
        nav="account",
        sessions=web_sessions.list_for(session, user.id, session_token(request)),
        errors=errors or {},
        flash=request.query_params.get("done"),
    )


@router.post("/account/sessions/{session_id}/end", dependencies=[Depends(check_csrf)])
def end_one_session(request: Request, db: DbDep, session_id: int) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        web_sessions.end_one(session, caller.user_id, session_id)  # only one's own
    return RedirectResponse("/account?done=Signed out there.", status_code=303)


@router.post("/account/sessions/end-others", dependencies=[Depends(check_csrf)])
def end_other_sessions(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, _ = current_caller(request, session)
        ended = web_sessions.end_others(session, caller.user_id, session_token(request))
    return RedirectResponse(
        f"/account?done=Signed out of {ended} other session{'' if ended == 1 else 's'}.", 303
    )


@router.post("/account/password", dependencies=[Depends(check_csrf)])
async def change_password(request: Request, db: DbDep) -> Response:
    form = await request.form()
    current, new = str(form.get("current_password") or ""), str(form.get("new_password") or "")
    return await run_in_threadpool(_change_password, request, db, current, new)


def _change_password(request: Request, db: Database, current: str, new: str) -> Response:
    with db.session() as session:
        _, user = current_caller(request, session)
        errors: dict[str, str] = {}
        if not verify_password(user, current):
            errors["current_password"] = "That is not your current password."
        elif len(new) < MIN_PASSWORD:
            errors["new_password"] = f"Use at least {MIN_PASSWORD} characters."
        elif new == current:
            errors["new_password"] = "Choose a password different from the current one."
        if errors:
            return _account(request, session, user, 422, errors)
        user.password_hash = hash_password(new)
        # Whoever else had this account open (a copied cookie included) is signed out.
        ended = web_sessions.end_others(session, user.id, session_token(request))
    note = f" {ended} other session{'' if ended == 1 else 's'} signed out." if ended else ""
    return RedirectResponse(f"/account?done=Password changed.{note}", status_code=303)
