"""Web sign-in: argon2 password hashes, a signed session cookie, CSRF tokens.

The session cookie (Starlette's SessionMiddleware, signed with a key derived from the secret
key) holds only the user id and the CSRF token. Every state-changing web request must carry the
token, as a form field or (htmx) the X-CSRF-Token header.
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

from outbound.service.caller import Caller
from outbound.store.models import User

hasher = PasswordHasher()


class SignInRequired(Exception):
    """Raised by pages when nobody is signed in: answered with a redirect to /login."""


def hash_password(password: str) -> str:
    return hasher.hash(password)


def check_password(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.password_hash:
        hasher.hash(password)  # the same work either way: no user enumeration by timing
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def session_key(fernet_key: bytes) -> str:
    # A key of its own for cookies, derived so that one secret configures everything.
    return hmac.new(fernet_key, b"outbound web session", hashlib.sha256).hexdigest()


def sign_in(request: Request, user: User) -> None:
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(24)


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
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if user_id else None
    if user is None:
        raise SignInRequired()
    return Caller(user.id, user.team_id, user.role), user
