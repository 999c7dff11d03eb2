"""The port every ATS connector implements, its data types and its error taxonomy.

A third ATS is one folder: a ``Connector`` subclass overriding the hooks below, a credentials
model, and the shared contract tests (tests/connectors) passing against its simulator.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from outbound.http import (
    AsyncClient,
    Request,
    Response,
    TimeoutException,
    TransportError,
    build_client,
)
from outbound.metrics import record_call


@dataclass(frozen=True)
class AtsIdentity:
    """Who the credentials act as, and which organisation they open."""

    user_id: str
    user_name: str
    org: str


@dataclass(frozen=True)
class AtsPerson:
    id: str
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    created_by_id: str | None = None
    created_by_name: str | None = None
    do_not_contact: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    # Every email sub-record on the record, as stored: a duplicate written by a retry shows twice.
    stored_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class AtsJob:
    id: str
    name: str


@dataclass(frozen=True)
class AtsStage:
    id: str
    name: str


@dataclass(frozen=True)
class AtsActivityType:
    """What a logged email is filed as: a Crelate activity type, a Clockwork note category."""

    id: str
    name: str


@dataclass(frozen=True)
class AtsList:
    id: str
    name: str


@dataclass(frozen=True)
class AtsField:
    name: str
    label: str
    custom: bool


@dataclass(frozen=True)
class PersonInput:
    """What Outbound writes for a person, ATS-neutral."""

    email: str
    first_name: str | None
    last_name: str | None
    title: str | None = None
    company: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    location: str | None = None
    record_type: str = "candidate"
    extra_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActivityInput:
    """An email event to log; ``marker`` is embedded so a retry can recognise it."""

    kind: str  # sent | replied
    subject: str
    body: str
    occurred_at: str
    marker: str
    activity_type_id: str | None = None  # chosen in settings; None: the ATS's "Email" type


class AtsError(Exception):
    """Base of connector errors. ``retryable`` tells the worker whether to try again."""

    retryable = False

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class AuthError(AtsError):
    """Credentials rejected (401 only): pause the connection and ask for a reconnect."""


class RateLimited(AtsError):
    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class TransientError(AtsError):
    """5xx, timeout, dropped connection: the write may or may not have happened."""

    retryable = True


class PermanentError(AtsError):
    """Validation or unknown job: retrying will not help; shows on the contact."""

    def __init__(self, message: str, status_code: int | None = None, field: str | None = None):
        super().__init__(message, status_code)
        self.field = field


class NotFoundError(PermanentError):
    pass


class PermissionDenied(PermanentError):
    """403: the credentials are good but may not make this one call. Only the work that needs
    the call stops; a reconnect cannot help, the ATS administrator's permission can."""

    def __init__(self, message: str, call: str) -> None:
        super().__init__(message, 403)
        self.call = call  # "POST /activities"


class DuplicateRecord(PermanentError):
    """The ATS refused a create because its own duplicate check matched ``existing_id``."""

    def __init__(self, message: str, existing_id: str) -> None:
        super().__init__(message, 409)
        self.existing_id = existing_id


CallObserver = Callable[[Request, Response | None, str], None]


class Connector(Protocol):
    provider: ClassVar[str]
    # A new record needs writes after its create (complete_person), each in the ledger.
    separate_details: ClassVar[bool]

    async def verify(self) -> AtsIdentity: ...
    async def find_person_by_email(
        self, email: str, name: str | None = None
    ) -> AtsPerson | None: ...
    async def get_person(self, person_id: str) -> AtsPerson: ...
    async def create_person(self, person: PersonInput) -> str: ...
    def preview_create(self, person: PersonInput) -> dict[str, Any]: ...
    async def update_person(self, person_id: str, fields: dict[str, Any]) -> None: ...
    async def list_jobs(self) -> list[AtsJob]: ...
    async def list_stages(self, job_id: str, fresh: bool = False) -> list[AtsStage]: ...
    async def is_attached(self, person_id: str, job_id: str) -> bool: ...
    async def attach(self, person_id: str, job_id: str) -> None: ...
    async def set_stage(self, person_id: str, job_id: str, stage: AtsStage) -> None: ...
    async def stage_of(self, person_id: str, job_id: str) -> str | None: ...
    async def list_activity_types(self) -> list[AtsActivityType]: ...
    async def log_activity(self, person_id: str, activity: ActivityInput) -> None: ...
    async def has_activity(self, person_id: str, marker: str) -> bool: ...
    async def complete_person(self, person_id: str, person: PersonInput, fresh: bool) -> None: ...
    async def recover_create(self, person: PersonInput, since: str) -> str | None: ...
    def list_lists(self) -> AsyncIterator[AtsList]: ...
    def list_members(self, list_id: str) -> AsyncIterator[AtsPerson]: ...

    observer: CallObserver | None
    pace: Callable[[], Awaitable[None]] | None

    async def describe_fields(self) -> list[AtsField]: ...
    async def aclose(self) -> None: ...


class HttpConnector:
    """Shared plumbing: one httpx client, error mapping, and a call observer for the timeline."""

    provider: ClassVar[str] = ""
    # False: the create writes the whole record (complete_person has nothing to do).
    separate_details: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        client: AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._client = client or build_client(timeout=timeout)
        self._owns_client = client is None
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.observer: CallObserver | None = None
        # Awaited before every request: the worker's per-credential rate limiter.
        self.pace: Callable[[], Awaitable[None]] | None = None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Response:
        url = self.base_url + path
        request = self._client.build_request(
            method, url, params=params, json=json, headers=self.headers
        )
        if self.pace is not None:
            await self.pace()
        try:
            response = await self._client.send(request)
        except TimeoutException as exc:
            self._observe(request, None, "timeout")
            raise TransientError(f"{method} {path}: timed out") from exc
        except TransportError as exc:
            self._observe(request, None, "connection dropped")
            raise TransientError(
                f"{method} {path}: connection failed ({type(exc).__name__})"
            ) from exc
        self._observe(request, response, "ok" if response.status_code < 400 else "error")
        self.raise_for_status(method, path, response)
        return response

    def _observe(self, request: Request, response: Response | None, outcome: str) -> None:
        status = response.status_code if response is not None else None
        elapsed = 0.0
        if response is not None:
            with contextlib.suppress(RuntimeError):  # a MockTransport answer carries no timing
                elapsed = response.elapsed.total_seconds()
        record_call(self.provider, status, elapsed)
        if self.observer is not None:
            self.observer(request, response, outcome)

    def error_message(self, response: Response) -> str:
        return response.text[:300]

    # Defaults for what most ATSs do not need or have; a connector overrides what differs.
    async def complete_person(self, person_id: str, person: PersonInput, fresh: bool) -> None:
        return None  # one call writes the whole record

    async def recover_create(self, person: PersonInput, since: str) -> str | None:
        return None  # the email goes in with the record: find_person_by_email recovers

    async def stage_of(self, person_id: str, job_id: str) -> str | None:
        """The id of the stage the person is at on the job, where the ATS can say; None: not
        known (a move after an uncertain failure is then sent again, to the same stage)."""
        return None

    async def list_lists(self) -> AsyncIterator[AtsList]:
        return  # no lists to import from
        yield  # pragma: no cover - makes this an async generator

    async def list_members(self, list_id: str) -> AsyncIterator[AtsPerson]:
        return
        yield  # pragma: no cover

    def raise_for_status(self, method: str, path: str, response: Response) -> None:
        code = response.status_code
        if code < 400:
            return
        message = f"{method} {path}: {code} {self.error_message(response)}".strip()
        if code == 429:
            raise RateLimited(message, parse_retry_after(response.headers.get("Retry-After")))
        if code == 401:
            raise AuthError(message, code)
        if code == 403:
            raise PermissionDenied(message, f"{method} {path}")
        if code == 404:
            raise NotFoundError(message, code)
        if code >= 500 or code == 408:
            raise TransientError(message, code)
        raise PermanentError(message, code)


def text_as_html(text: str) -> str:
    """Prospect-written text (subjects, bodies) into an ATS's HTML field: text, never markup."""
    return html.escape(text).replace("\n", "<br>")


def parse_retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0
