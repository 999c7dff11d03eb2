"""Sign-in throttling, per account and per client address (and API token failures, per
address).

Failures are counted for the email typed whether or not it has an account (the answer never
tells which), and for the address the attempt came from. Past a threshold within the window,
the key is locked for a while that doubles with each further failure: a guesser gets a few
tries, a person who mistyped waits a minute. While locked, even the right password is refused,
with a message saying when to try again. The counts live in the database so every process of
a fleet sees them.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outbound.store.models import AuthFailure, utcnow

WINDOW = timedelta(minutes=15)
ACCOUNT_FREE_TRIES = 5
ADDRESS_FREE_TRIES = 20
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:64]


def address_key(address: str) -> str:
    return "address:" + address[:64]


def locked_for(session: Session, email: str, address: str) -> float | None:
    """Seconds until sign-in may be tried again for this email or from this address."""
    return _locked_for(session, (account_key(email), address_key(address)))


def record_failure(session: Session, email: str, address: str) -> None:
    _record(
        session,
        ((account_key(email), ACCOUNT_FREE_TRIES), (address_key(address), ADDRESS_FREE_TRIES)),
    )


def token_locked_for(session: Session, address: str) -> float | None:
    """API tokens: seconds until this address may present a token again."""
    return _locked_for(session, (token_key(address),))


def record_token_failure(session: Session, address: str, free: int = ADDRESS_FREE_TRIES) -> None:
    _record(session, ((token_key(address), free),))


def token_key(address: str) -> str:
    return "token:" + address[:64]


def _locked_for(session: Session, keys: tuple[str, ...]) -> float | None:
    now = utcnow()
    until = session.scalar(
        select(AuthFailure.locked_until)
        .where(AuthFailure.key.in_(keys), AuthFailure.locked_until > now)
        .order_by(AuthFailure.locked_until.desc())
        .limit(1)
    )
    return (until - now).total_seconds() if until is not None else None


def _record(session: Session, keys: tuple[tuple[str, int], ...]) -> None:
    now = utcnow()
    for key, free in keys:
        row = session.get(AuthFailure, key, with_for_update=True)
        if row is None:
            row = AuthFailure(key=key, failures=0, first_at=now)
            session.add(row)
        elif row.first_at < now - WINDOW and not _locked(row, now):
            row.failures, row.first_at = 0, now  # a new window
        row.failures += 1
        if row.failures >= free:
            extra = row.failures - free
            lock = min(LONGEST_LOCK, FIRST_LOCK * (2 ** min(extra, 10)))
            row.locked_until = now + lock
            row.first_at = now  # the window restarts from the lock


def _locked(row: AuthFailure, now: datetime) -> bool:
    return row.locked_until is not None and row.locked_until > now


def record_success(session: Session, email: str) -> None:
    """The account's count starts again; the address keeps its (a guesser with one account
    of their own must not reset it by signing in)."""
    session.execute(delete(AuthFailure).where(AuthFailure.key == account_key(email)))


def wait_words(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
