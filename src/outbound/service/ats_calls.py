"""One connector action for someone waiting on an answer (a page, an API call, a save): run
outside any database transaction, with the ATS's failures turned into service errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from outbound.connectors.base import AtsError, AuthError, Connector, PermissionDenied
from outbound.connectors.registry import make_connector
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service.errors import AtsRejected, ServiceError
from outbound.settings import Settings

T = TypeVar("T")
# How a failed call reads to the person: (provider, the connector's error) -> what to raise.
Explain = Callable[[str, AtsError], ServiceError]


def about_credentials(provider: str, exc: AtsError) -> ServiceError:
    """The default reading: every failure is about the credentials just given or saved."""
    title = PROVIDER_TITLES[provider]
    if isinstance(exc, AuthError):
        return AtsRejected(f"{title} rejected these credentials ({exc.status_code})", "credentials")
    if isinstance(exc, PermissionDenied):
        return AtsRejected(
            f"{title} accepted these credentials but refused them {exc.call} (403): "
            f"{exc.message}. Ask your {title} administrator to allow it.",
            "credentials",
        )
    return ServiceError(f"{title} could not be reached: {exc.message}", "credentials")


def call_ats(
    provider: str,
    credentials: dict[str, Any],
    settings: Settings,
    action: Callable[[Connector], Awaitable[T]],
    timeout: float = 15,
    explain: Explain = about_credentials,
) -> T:
    """Run one connector action from synchronous code (FastAPI runs sync endpoints in a worker
    thread); an ``AtsError`` comes out as the ``ServiceError`` that ``explain`` makes of it."""

    async def run() -> T:
        connector = make_connector(provider, credentials, settings, timeout=timeout)
        try:
            return await action(connector)
        finally:
            await connector.aclose()

    try:
        return asyncio.run(run())
    except AtsError as exc:
        raise explain(provider, exc) from exc
