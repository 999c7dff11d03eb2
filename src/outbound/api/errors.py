"""Every error is a JSON body (``ErrorOut``): a 4xx names the offending field; a database that
fails, even at the commit, answers a 5xx in the same shape (pages: the same words, as text).
Never a traceback, and never a 2xx for a change that was not stored (each request's transaction
commits before the answer: ``deps.SessionDep``, and the web app's explicit blocks)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from outbound.api.guards import security_headers
from outbound.domain.vocabulary import PROVIDERS
from outbound.service.errors import ServiceError

log = logging.getLogger("outbound.api")


def _field(loc: tuple[object, ...] | list[object]) -> str:
    # ("body", "contacts", 3, "email") → "contacts[3].email"; drop the "body"/"query" prefix.
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    # A tagged union (PUT /connection) adds its tag to the path; the user never typed it.
    if parts and parts[0] in PROVIDERS:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _server_error(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The REST API answers its error body; a page (web app, tracking links) plain words."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail, "field": None}, status, headers)
    return PlainTextResponse(detail[:1].upper() + detail[1:] + ".", status, headers)


def message(error: Mapping[str, Any], method: str = "") -> str:
    """A validation error in words: pydantic's "Value error, " dropped, and a null where the
    field takes none said so (with what to do instead in a PATCH)."""
    if error.get("input", ...) is None and error.get("type") != "missing":
        if method == "PATCH":
            return "cannot be null: leave the field out to keep its value"
        return "must not be null"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            field = _field(e.get("loc", ()))
            if e.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                # The discriminator itself is wrong (e.g. an unknown provider): name it.
                tag = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
                field = f"{field}.{tag}" if field != "body" else tag
            errors.append({"field": field, "message": message(e, request.method)})
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse(
            status_code=422,
            content={
                "detail": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors[:50],
            },
        )

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": exc.message, "field": exc.field},
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A race lost to a concurrent request (same email added twice at once).
        log.warning("integrity conflict: %s", type(exc.orig).__name__)
        return JSONResponse(
            status_code=409, content={"detail": "conflicts with a concurrent change", "field": None}
        )

    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, exc: OperationalError) -> Response:
        # The connection was lost, the server is gone or a lock wait timed out, possibly at
        # the commit itself: never a 2xx, since the change cannot be taken as stored.
        log.error("database unavailable: %s %s", request.method, request.url.path, exc_info=exc)
        detail = "the database is unavailable right now; try again in a moment"
        return _server_error(request, 503, detail, {"Retry-After": "5"})

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> Response:
        # Refused by the database (a bug, not the caller's input): the transaction rolled back.
        log.error("database error: %s %s", request.method, request.url.path, exc_info=exc)
        return _server_error(request, 500, "a database error stopped this request; it was undone")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _: Exception) -> Response:
        # Starlette answers with this, then re-raises so that the server logs the traceback.
        # It is sent outside the middlewares: the security headers are added here.
        headers = security_headers(request.url.path)
        return _server_error(request, 500, "an unexpected error stopped this request", headers)
