"""The FastAPI application: REST API under /api/v1, OpenAPI at /docs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from outbound.api import docs, errors
from outbound.api.guards import BodyLimit, SecurityHeaders, metrics_allowed
from outbound.api.routes_contacts import router as contacts_router
from outbound.api.routes_enrollments import router as enrollments_router
from outbound.api.routes_integration import router as integration_router
from outbound.api.routes_mailbox import router as mailbox_router
from outbound.api.routes_people_import import router as people_import_router
from outbound.api.routes_sequences import router as sequences_router
from outbound.api.routes_team import router as team_router
from outbound.api.routes_tracking import router as tracking_router
from outbound.api.schemas import ERROR_RESPONSES, MAX_ID, ErrorOut
from outbound.crypto import SecretBox
from outbound.mail.worker import MailWorker
from outbound.metrics import render
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.jobs import count_by_status
from outbound.sync.worker import Worker
from outbound.web import app as web

# A 2xx means committed; a database that fails, even at the commit, answers one of these.
SERVER_ERRORS: dict[int | str, dict[str, object]] = {
    500: {"model": ErrorOut, "description": "An error on our side: the request was rolled back"},
    503: {"model": ErrorOut, "description": "The database is unavailable: try again later"},
}


def _exact_bounds(node: Any) -> None:
    # FastAPI's OpenAPI model holds minimum/maximum as floats: 1 became 1.0, and the largest
    # row id, 2**63 - 1, became 2**63 (a bound the API refuses). Put the integers back.
    if isinstance(node, dict):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            value = node.get(key)
            if isinstance(value, float) and value.is_integer():
                node[key] = MAX_ID if value == float(MAX_ID) else int(value)
        for child in node.values():
            _exact_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _exact_bounds(child)


def exact_openapi_bounds(app: FastAPI) -> None:
    """The schema served at /openapi.json, with integer bounds exact."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _exact_bounds(generate())
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None, db: Database | None = None, run_worker: bool = False
) -> FastAPI:
    settings = settings or Settings()
    db = db or Database(settings.resolved_database_url, settings.database_lock_timeout_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers: list[Worker | MailWorker] = []
        if run_worker:
            # The embedded default: one process serves the API and runs both workers.
            workers = [Worker(db, settings), MailWorker(db, settings)]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        yield
        for w in workers:
            w.stop()
        for task in tasks:
            await task

    app = FastAPI(
        title="Outbound",
        version="0.1.0",
        description="Recruiting outreach that keeps your ATS true.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: /docs works with no internet
        redoc_url=None,
    )
    docs.install(app)
    app.state.settings = settings
    app.state.db = db
    app.state.box = SecretBox(settings.fernet_key)
    errors.install(app)
    exact_openapi_bounds(app)

    api = APIRouter(prefix="/api/v1", responses={**ERROR_RESPONSES, **SERVER_ERRORS})
    for router in (
        team_router,
        sequences_router,
        contacts_router,
        enrollments_router,
        people_import_router,
        integration_router,
        mailbox_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(tracking_router)
    web.install(app, settings)
    # Outermost: a refused body is refused before anything else runs, and every answer, the
    # 413 included, carries the security headers.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        """Ready to serve: the database answers."""
        try:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # any database failure means not ready
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        # Every team's job counts: for the host's Prometheus, not for the internet.
        if not metrics_allowed(request, settings.metrics_token):
            return Response(status_code=404)
        with db.read_session() as session:
            jobs_by_status = count_by_status(session)
        return Response(render(jobs_by_status), media_type=CONTENT_TYPE_LATEST)

    return app
