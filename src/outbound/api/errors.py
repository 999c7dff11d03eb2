"""Every error is a 4xx JSON body that names the offending field; never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

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


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            field = _field(e.get("loc", ()))
            if e.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                # The discriminator itself is wrong (e.g. an unknown provider): name it.
                tag = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
                field = f"{field}.{tag}" if field != "body" else tag
            errors.append({"field": field, "message": str(e.get("msg", "invalid"))})
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
