"""Server-side web sessions: a random token in the cookie, its hash in the database.

Signing out deletes the session; changing a password deletes every session of that user but
the one that changed it; a user sees their signed-in browsers and can end any of them. Resolving
a session only reads, so pages served from read-only transactions can check who is signed in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outbound.store.models import User, WebSession, utcnow

# As long as the cookie lives (web/app.py): after that the browser forgets it anyway.
LIFETIME = timedelta(days=14)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: User, user_agent: str, client_address: str) -> str:
    """A new session for ``user``; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=_hash(token),
            expires_at=utcnow() + LIFETIME,
            user_agent=user_agent[:300],
            client_address=client_address[:64],
        )
    )
    return token


def resolve(session: Session, token: str | None) -> User | None:
    """The user a cookie's token signs in, if its session is live (read only)."""
    if not token:
        return None
    return session.scalar(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == _hash(token), WebSession.expires_at > utcnow())
    )


def end(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def end_others(session: Session, user_id: int, keep_token: str | None) -> int:
    """Every session of the user but ``keep_token``'s (a password change, "sign out
    everywhere else"); returns how many ended."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_token:
        query = query.where(WebSession.token_hash != _hash(keep_token))
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def end_one(session: Session, user_id: int, session_id: int) -> bool:
    """One of the user's own sessions (another user's id ends nothing)."""
    result = session.execute(
        delete(WebSession).where(WebSession.id == session_id, WebSession.user_id == user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SessionView:
    id: int
    created_at: datetime
    expires_at: datetime
    browser: str
    client_address: str
    current: bool


def list_for(session: Session, user_id: int, current_token: str | None) -> list[SessionView]:
    current = _hash(current_token) if current_token else None
    rows = session.scalars(
        select(WebSession)
        .where(WebSession.user_id == user_id, WebSession.expires_at > utcnow())
        .order_by(WebSession.created_at.desc())
    )
    return [
        SessionView(
            r.id,
            r.created_at,
            r.expires_at,
            describe_browser(r.user_agent),
            r.client_address,
            r.token_hash == current,
        )
        for r in rows
    ]


def describe_browser(user_agent: str) -> str:
    """A few words a person recognises ("Chrome on Linux"), not the whole User-Agent string."""
    ua = user_agent.lower()
    browser = next(
        (
            name
            for key, name in (
                ("edg/", "Edge"),
                ("firefox/", "Firefox"),
                ("chrome/", "Chrome"),
                ("safari/", "Safari"),
                ("curl/", "curl"),
            )
            if key in ua
        ),
        "A browser",
    )
    system = next(
        (
            name
            for key, name in (
                ("iphone", "iPhone"),
                ("android", "Android"),
                ("windows", "Windows"),
                ("mac os", "macOS"),
                ("linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser
