"""FastAPI dependencies: the database session (one transaction per request, committed before
the answer is sent) and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from outbound.crypto import SecretBox
from outbound.service import accounts, sign_in_throttle
from outbound.service.caller import Caller
from outbound.settings import Settings
from outbound.store.db import Database

bearer = HTTPBearer(
    auto_error=False, description="Your API token: `outbound user create` prints one"
)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.box
    return box


def get_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    """One unit of work per request: the change and the jobs it causes commit together.

    Used with ``scope="function"`` (``SessionDep``): FastAPI closes it as soon as the route has
    returned and its answer is serialised, *before* the response is sent. So a 2xx means
    committed (a GET right after sees it, from any connection), and a commit that fails
    answers an error (``errors.install``) instead of a 2xx for a change that was never stored.
    """
    with db.session() as session:
        yield session


def get_read_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    """A read-only transaction (``Database.read_session``) for routes that never write: on
    SQLite it does not queue behind the writers (a big add, a resync, the workers)."""
    with db.read_session() as session:
        yield session


def get_caller(
    request: Request,
    db: Annotated[Database, Depends(get_db)],
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "missing API token", headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    address = request.client.host if request.client else ""
    with db.read_session() as session:  # checking a token waits for no writer
        wait = sign_in_throttle.token_locked_for(session, address)
        check = None if wait is not None else accounts.check_token(session, token)
    if wait is not None:  # too many wrong tokens from here: not even a right one is looked at
        raise HTTPException(
            429,
            f"too many invalid API tokens from this address; wait "
            f"{sign_in_throttle.wait_words(wait)}",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    if check is None:
        with db.session() as session:
            free = settings.api_token_failures_per_address
            sign_in_throttle.record_token_failure(session, address, free)
        raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
    if check.record_use:
        with db.session() as session:  # a write: at most once a minute per token
            accounts.record_token_use(session, token)
    return check.caller


# "function": committed before the answer; the default ("request") runs after it is sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
CallerDep = Annotated[Caller, Depends(get_caller)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
DbDep = Annotated[Database, Depends(get_db)]
