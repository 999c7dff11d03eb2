"""Web sign-in: argon2 password hashes, a signed session cookie, CSRF tokens.

The session cookie (Starlette's SessionMiddleware, signed with a key derived from the secret
key) holds a random session token and the CSRF token; the session itself lives in the database
(service/web_sessions.py), so signing out or changing the password ends it for good, even for a
copy of the cookie. Every state-changing web request must carry the CSRF token, as a form field
or (htmx) the X-CSRF-Token header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.service import web_sessions
from outbound.service.caller import Caller
from outbound.store.models import User

hasher = PasswordHasher()


class SignInRequired(Exception):
    """Raised by pages when nobody is signed in: answered with a redirect to /login."""


def hash_password(password: str) -> str:
    return hasher.hash(password)


# One person may belong to a few firms; more accounts than this under one email are not tried.
MAX_ACCOUNTS_PER_EMAIL = 10


def check_password(session: Session, email: str, password: str) -> list[User]:
    """The accounts this email and password open: usually one; several when the person
    belongs to several teams with the same password (sign-in then asks which team)."""
    users = session.scalars(
        select(User)
        .where(User.email == email.strip().lower(), User.password_hash.is_not(None))
        .order_by(User.id)
        .limit(MAX_ACCOUNTS_PER_EMAIL)
    ).all()
    if not users:
        hasher.hash(password)  # the same work either way: no user enumeration by timing
        return []
    return [user for user in users if verify_password(user, password)]


def verify_password(user: User, password: str) -> bool:
    try:
        return hasher.verify(user.password_hash or "", password)
    except (VerificationError, InvalidHashError):
        return False


def session_key(fernet_key: bytes) -> str:
    # A key of its own for cookies, derived so that one secret configures everything.
    return hmac.new(fernet_key, b"outbound web session", hashlib.sha256).hexdigest()


def sign_in(request: Request, session: Session, user: User) -> None:
    end_session(request, session)  # a new token on every sign-in: no session fixation
    agent = request.headers.get("user-agent", "")
    address = client_address(request)
    request.session["sid"] = web_sessions.start(session, user, agent, address)
    request.session["csrf"] = secrets.token_urlsafe(24)


def end_session(request: Request, session: Session) -> None:
    web_sessions.end(session, request.session.get("sid"))
    request.session.clear()


def session_token(request: Request) -> str | None:
    token = request.session.get("sid")
    return str(token) if token else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


async def check_csrf(request: Request) -> None:
    """Dependency for every web POST."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        sent = str(form.get("csrf_token") or "")
    if not expected or not hmac.compare_digest(str(expected), sent):
        raise HTTPException(403, "the form expired or came from another site; reload the page")


def current_caller(request: Request, session: Session) -> tuple[Caller, User]:
    user = web_sessions.resolve(session, session_token(request))
    if user is None:
        raise SignInRequired()
    return Caller(user.id, user.team_id, user.role), user
