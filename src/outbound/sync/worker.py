"""The sync worker: claims jobs, runs them against the ATS with per-credential pacing,
retries what may succeed later and shows on the contact what will not."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import math
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from outbound.connectors.base import (
    AtsError,
    AuthError,
    Connector,
    PermanentError,
    PermissionDenied,
    RateLimited,
)
from outbound.connectors.registry import ATS, make_connector, rate_per_second
from outbound.crypto import SecretBox
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.http import Request, Response
from outbound.service import retention
from outbound.service.contact_state import StateKey, load_states
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.group_commit import GroupCommit
from outbound.store.models import AtsConnection, SyncJob
from outbound.store.outage import is_outage
from outbound.sync import claims
from outbound.sync import state as st
from outbound.sync.handlers import HANDLERS, Fact, JobRun, Preload
from outbound.sync.importer import finish_run, import_list
from outbound.sync.rate_limit import TokenBucket

log = logging.getLogger("outbound.worker")
# The first retention round waits for the worker to settle in (a restart loop prunes nothing).
PRUNE_FIRST_AFTER = 30.0
_calls: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "calls", default=None
)


@dataclass
class ConnectionRuntime:
    fingerprint: str
    connector: Connector
    limiter: TokenBucket


def _observe(request: Request, response: Response | None, outcome: str) -> None:
    calls = _calls.get()
    if calls is not None:
        calls.append(
            {
                "method": request.method,
                "path": request.url.path,  # never the query: it could carry an api_key
                "status_code": response.status_code if response is not None else None,
                "outcome": outcome,
            }
        )


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * (2 ** max(0, attempts - 1))))


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.box = SecretBox(settings.fernet_key)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.request_timeout = request_timeout
        self._runtimes: dict[int, ConnectionRuntime] = {}
        self._opened: dict[str, dict[str, Any]] = {}  # credentials by their sealed form's hash
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._inflight_connection: dict[int, int] = {}
        self._leased: set[int] = set()
        self._leased_at = 0.0
        self._rotation = 0
        self._stop = asyncio.Event()
        self._healthy: dict[int, bool] = {}
        # Retention runs beside the sync work, a bounded amount at a time (service/retention).
        self._prune_at = time.monotonic() + PRUNE_FIRST_AFTER
        self._prune_tables: list[str] | None = None
        self.error_pause = 2.0
        # The jobs' write transactions, committed in groups (store/group_commit.py).
        self._commits = GroupCommit(db)

    def stop(self) -> None:
        self._stop.set()

    # -- connections ---------------------------------------------------------------------
    def _load_connections(self, ids: set[int]) -> dict[int, tuple[str, dict[str, Any], str]]:
        columns = (AtsConnection.id, AtsConnection.provider, AtsConnection.credentials_encrypted)
        with self.db.read_session() as session:
            rows = session.execute(select(*columns).where(AtsConnection.id.in_(ids))).all()
        found = {}
        for connection_id, provider, sealed in rows:
            fingerprint = hashlib.sha256(sealed).hexdigest()
            # Read every round (a reconnect changes them); opened only when they change.
            credentials = self._opened.get(fingerprint)
            if credentials is None:
                credentials = self._opened[fingerprint] = self.box.open(sealed)
            found[connection_id] = (provider, credentials, fingerprint)
        return found

    def _load_batch(
        self, jobs: list[claims.ClaimedJob]
    ) -> tuple[dict[int, tuple[str, dict[str, Any], str]], dict[int, Preload]]:
        """The claimed jobs' connections, their contacts' states and the events they log, read
        together on one thread hop per batch, not a read transaction and a hop per job."""
        infos = self._load_connections({j.connection_id for j in jobs})
        keys = {
            j.id: StateKey(j.connection_id, j.contact_id, j.enrollment_id)
            for j in jobs
            if j.kind in HANDLERS and j.contact_id is not None
        }
        states = load_states(self.db, list(keys.values()))
        logging_jobs = [j for j in jobs if j.kind == "log_activity"]
        events = st.load_events(
            self.db, [(j.payload["event_id"], j.connection_id) for j in logging_jobs]
        )
        preloads = {job_id: Preload([state]) for job_id, state in zip(keys, states, strict=True)}
        for job, event in zip(logging_jobs, events, strict=True):
            preloads.setdefault(job.id, Preload([])).event.append(event)
        return infos, preloads

    async def _runtime(
        self, connection_id: int, info: tuple[str, dict[str, Any], str]
    ) -> ConnectionRuntime:
        provider, credentials, fingerprint = info
        runtime = self._runtimes.get(connection_id)
        if runtime is None or runtime.fingerprint != fingerprint:  # new credentials: reconnect
            if runtime is not None:
                await runtime.connector.aclose()
            rate = rate_per_second(provider, self.settings)
            connector = make_connector(
                provider, credentials, self.settings, timeout=self.request_timeout
            )
            limiter = TokenBucket(rate, burst=1.0)
            connector.pace = limiter.acquire
            connector.observer = _observe
            runtime = ConnectionRuntime(fingerprint, connector, limiter)
            self._runtimes[connection_id] = runtime
        return runtime

    # -- one job -------------------------------------------------------------------------
    async def _run_job(
        self,
        job: claims.ClaimedJob,
        runtime: ConnectionRuntime,
        preload: Preload | None = None,
    ) -> None:
        calls: list[dict[str, Any]] = []
        _calls.set(calls)
        run = JobRun(self.db, job, runtime.connector, self._commits, preload=preload or Preload())
        # What to write when the job ends; all of it commits in one transaction (settle).
        outcome: Callable[[Session], Any]
        healthy: bool | None = None
        failure: tuple[str, str] | None = None
        try:
            if job.kind == "import_list":
                await import_list(run)
            else:
                await HANDLERS[job.kind](run)
        except RateLimited as exc:
            runtime.limiter.pause(exc.retry_after)
            outcome = partial(
                claims.retry_later,
                job_id=job.id,
                worker_id=self.worker_id,
                delay_seconds=exc.retry_after,
                error=exc.message,
                count_attempt=False,
            )
        except AuthError as exc:
            title = PROVIDER_TITLES.get(runtime.connector.provider, "the ATS")
            reason = f"{title} rejected the saved credentials ({exc.status_code}); reconnect"
            # Parked, not failed: the claim skips paused connections until a reconnect.
            outcome = partial(self._park, job=job, reason=reason)
        except PermissionDenied as exc:
            # Good credentials, one call refused: only this job stops, the connection goes on.
            title = PROVIDER_TITLES.get(runtime.connector.provider, "the ATS")
            message = (
                f"{title} does not allow this API key to {exc.call} (403). Ask your {title} "
                f"administrator for that permission, then resync."
            )
            outcome = partial(claims.fail, job_id=job.id, worker_id=self.worker_id, error=message)
            failure = (message, "ats_permission")
        except PermanentError as exc:
            outcome = partial(
                claims.fail, job_id=job.id, worker_id=self.worker_id, error=exc.message
            )
            failure = (exc.message, "sync_error")
        except AtsError as exc:  # transient: 5xx, timeouts, dropped connections
            healthy = False
            outcome, failure = self._retry_or_fail(job, exc.message, "ats_unreachable")
        except DBAPIError as exc:
            outcome, failure = self._database_error(job, exc)
        except Exception as exc:  # a bug: keep the worker alive, show it on the contact
            log.exception(
                "job %s (%s) crashed",
                job.id,
                job.kind,
                extra={"job_id": job.id, "job_kind": job.kind, "contact_id": job.contact_id},
            )
            message = f"internal error: {type(exc).__name__}"
            outcome = partial(claims.fail, job_id=job.id, worker_id=self.worker_id, error=message)
            failure = (message, "sync_error")
        else:
            outcome = partial(claims.finish, job_id=job.id, worker_id=self.worker_id)
            healthy = True
        facts = run.take_pending()
        try:
            try:
                await self._db(self._settle, job, facts, outcome, calls, healthy, failure)
            except DBAPIError as exc:
                if not facts:
                    raise
                # The facts went with it (their intents make the retry ask the ATS): the job
                # ends like one whose own write met this database error.
                outcome, failure = self._database_error(job, exc)
                await self._db(self._settle, job, [], outcome, calls, None, failure)
        except DBAPIError:
            # Still away: the outcome cannot be written. The job's lease expires and the job
            # runs again, which is what a retry would have done.
            log.warning(
                "job %s: outcome not recorded (database unavailable)",
                job.id,
                extra={"job_id": job.id},
            )
            return
        if failure is not None:
            self._log_failure(job, failure[0])

    def _database_error(
        self, job: claims.ClaimedJob, exc: DBAPIError
    ) -> tuple[Callable[[Session], Any], tuple[str, str] | None]:
        if is_outage(exc):
            return self._outage(job, exc), None
        # An integrity, data or programming error: a bug in this job. Counted, retried with
        # backoff in case a race caused it, then shown on the contact.
        log.error(
            "job %s (%s): database error: %s",
            job.id,
            job.kind,
            type(exc.orig).__name__,
            exc_info=exc,
            extra={"job_id": job.id, "job_kind": job.kind, "contact_id": job.contact_id},
        )
        message = (
            f"Outbound could not record this sync: its database refused a write "
            f"({type(exc.orig).__name__}). Resync to try again; if it happens again, "
            f"tell whoever runs Outbound."
        )
        return self._retry_or_fail(job, message, "sync_error")

    def _outage(self, job: claims.ClaimedJob, exc: DBAPIError) -> Callable[[Session], Any]:
        """Our database went away mid-job (a restart, a failover, a lock timeout): not the
        job's fault nor the contact's. Retried without counting; the handlers are safe to re-run
        (they ask the ATS before writing again)."""
        log.warning(
            "job %s (%s): database unavailable, will retry",
            job.id,
            job.kind,
            extra={"job_id": job.id, "job_kind": job.kind, "contact_id": job.contact_id},
        )
        return partial(
            claims.retry_later,
            job_id=job.id,
            worker_id=self.worker_id,
            delay_seconds=self.error_pause,
            error=f"database unavailable ({type(exc).__name__})",
            count_attempt=False,
        )

    def _retry_or_fail(
        self, job: claims.ClaimedJob, message: str, code: str
    ) -> tuple[Callable[[Session], Any], tuple[str, str] | None]:
        """A counted retry with backoff, or, out of attempts, a failure shown on the contact."""
        if job.attempts >= self.settings.max_attempts:
            fail = partial(claims.fail, job_id=job.id, worker_id=self.worker_id, error=message)
            return fail, (message, code)
        delay = backoff_seconds(job.attempts, self.backoff_base, self.backoff_cap)
        retry = partial(
            claims.retry_later,
            job_id=job.id,
            worker_id=self.worker_id,
            delay_seconds=delay,
            error=message,
        )
        return retry, None

    def _settle(
        self,
        session: Session,
        job: claims.ClaimedJob,
        facts: list[Fact],
        outcome: Callable[[Session], Any],
        calls: list[dict[str, Any]],
        healthy: bool | None,
        failure: tuple[str, str] | None,
    ) -> None:
        """The facts the job learnt since its last write, its outcome, its calls, the
        connection's health and, when it failed, the contact's (or import's) error: all in one
        transaction."""
        for fact in facts:
            fact(session)
        outcome(session)
        if failure is not None:
            self._show_failure(session, job, *failure)
        st.record_calls(
            session, job.contact_id, job.id, [{**c, "attempt": job.attempts} for c in calls]
        )
        # The connection's health flag is written when it changes, not once per job.
        if healthy is not None and self._healthy.get(job.connection_id) is not healthy:
            st.set_connection_health(session, job.connection_id, ok=healthy)
            self._healthy[job.connection_id] = healthy

    def _park(self, session: Session, job: claims.ClaimedJob, reason: str) -> None:
        st.set_connection_health(session, job.connection_id, auth_failed=reason)
        self._healthy.pop(job.connection_id, None)
        claims.retry_later(session, job.id, self.worker_id, 0, reason, count_attempt=False)

    async def _db(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._commits.run(lambda session: fn(session, *args, **kwargs))

    def _log_failure(self, job: claims.ClaimedJob, message: str) -> None:
        log.warning(
            "job %s (%s) for contact %s failed: %s",
            job.id,
            job.kind,
            job.contact_id,
            message,
            extra={
                "job_id": job.id,
                "job_kind": job.kind,
                "contact_id": job.contact_id,
                "enrollment_id": job.enrollment_id,
                "connection_id": job.connection_id,
            },
        )

    @staticmethod
    def _show_failure(session: Session, job: claims.ClaimedJob, message: str, code: str) -> None:
        if job.kind == "import_list":
            finish_run(session, job.payload["import_id"], message)
            return
        changes: dict[str, Any] = {"error_code": code, "error_message": message}
        if job.kind in ("sync_contact", "check_and_sync"):
            changes["sync_state"] = "failed"
        st.change_enrollment(session, job.enrollment_id, **changes)

    # -- the loop --------------------------------------------------------------------------
    async def _refresh_leases(self) -> None:
        """Which connections this worker serves (one worker per connection, fleet-wide);
        refreshed about once a second, and at once while it serves none."""
        interval = min(1.0, self.settings.lease_seconds / 6)
        if self._leased and time.monotonic() - self._leased_at < interval:
            return
        self._leased = await self.db.in_thread(
            claims.acquire_connections,
            self.db,
            self.worker_id,
            self.settings.lease_seconds,
            set(self._inflight_connection.values()),
        )
        self._leased_at = time.monotonic()

    async def tick(self) -> int:
        """Claim what fits and start it; returns how many jobs were started."""
        # Leases are renewed even with every slot busy: a full worker still serves them.
        await self._refresh_leases()
        free = self.settings.worker_concurrency - len(self._inflight)
        if free <= 0 or not self._leased:
            return 0
        jobs = await self.db.in_thread(
            claims.claim,
            self.db,
            self.worker_id,
            min(free, self.settings.worker_batch_size),
            self.settings.lease_seconds,
            self._claim_plan(),
        )
        if not jobs:
            return 0
        try:
            infos, preloads = await self.db.in_thread(self._load_batch, jobs)
        except Exception:
            # E.g. credentials this key cannot decrypt: hand the jobs back at once rather than
            # leave them "running" until their lease runs out.
            await self.db.in_thread(self._give_back, jobs)
            raise
        for job in jobs:
            runtime = await self._runtime(job.connection_id, infos[job.connection_id])
            task = asyncio.create_task(self._run_job(job, runtime, preloads.get(job.id)))
            self._inflight[job.id] = task
            self._inflight_connection[job.id] = job.connection_id
            task.add_done_callback(self._forget(job.id))
        return len(jobs)

    def _claim_plan(self) -> dict[int, int]:
        """How many more jobs each served connection may have in flight: about a second of
        its pacing (unpaced: the whole batch), starting from a different one each round."""
        rates = {provider: rate_per_second(provider, self.settings) for provider in ATS}
        in_flight: dict[int, int] = {}
        for connection_id in self._inflight_connection.values():
            in_flight[connection_id] = in_flight.get(connection_id, 0) + 1
        order = sorted(self._leased)
        if order:
            self._rotation = (self._rotation + 1) % len(order)
            order = order[self._rotation :] + order[: self._rotation]
        plan = {}
        for connection_id in order:
            runtime = self._runtimes.get(connection_id)
            # Not met yet: its provider is unknown until its first job loads it.
            rate = rates[runtime.connector.provider] if runtime else max(rates.values())
            cap = max(2, math.ceil(rate)) if rate > 0 else self.settings.worker_batch_size
            plan[connection_id] = max(0, cap - in_flight.get(connection_id, 0))
        return plan

    def _give_back(self, jobs: list[claims.ClaimedJob]) -> None:
        with self.db.session() as session:
            for job in jobs:
                claims.retry_later(
                    session,
                    job.id,
                    self.worker_id,
                    self.error_pause,
                    "not started",
                    count_attempt=False,
                )

    def _forget(self, job_id: int) -> Any:
        def done(_task: asyncio.Task[None]) -> None:
            self._inflight.pop(job_id, None)
            self._inflight_connection.pop(job_id, None)

        return done

    async def run(self, poll_interval: float = 0.2) -> None:
        last_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    started = await self.tick()
                except Exception:
                    # A database outage or undecryptable credentials must not end the worker:
                    # say so, wait, try again (claimed jobs' leases expire and are retaken).
                    log.exception("worker loop error; retrying in %.0fs", self.error_pause)
                    await asyncio.sleep(self.error_pause)
                    continue
                if time.monotonic() - last_beat > self.settings.lease_seconds / 3:
                    try:
                        await self._db(
                            claims.heartbeat,
                            self.worker_id,
                            list(self._inflight),
                            self.settings.lease_seconds,
                        )
                        last_beat = time.monotonic()
                    except Exception:  # the database is away: try again next round
                        log.exception("heartbeat failed; retrying")
                if time.monotonic() >= self._prune_at:
                    await self._prune()
                if started == 0:
                    waiters = list(self._inflight.values())
                    if waiters:
                        await asyncio.wait(
                            waiters, timeout=poll_interval, return_when=asyncio.FIRST_COMPLETED
                        )
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop.wait(), poll_interval)
        finally:
            if self._inflight:
                await asyncio.wait(list(self._inflight.values()))
            with contextlib.suppress(Exception):  # a database outage: the leases expire
                await self.db.in_thread(claims.release_all, self.db, self.worker_id)
            for runtime in self._runtimes.values():
                await runtime.connector.aclose()
            self._runtimes.clear()

    async def _prune(self) -> None:
        """One bounded round of retention (finished jobs, call logs, old events): sooner again
        while a sweep is unfinished. Its failure (the database away) never stops the worker."""
        try:
            tables = self._prune_tables or retention.TABLES
            report = await self.db.in_thread(
                retention.prune_once, self.db, self.settings, tables=tables
            )
        except Exception:
            log.exception("retention round failed; retrying later")
            self._prune_at = time.monotonic() + retention.INTERVAL_SECONDS
            return
        self._prune_tables = report.unfinished or None
        self._prune_at = time.monotonic() + report.next_run_in

    def open_job_count(self) -> int:
        with self.db.read_session() as session:
            return int(
                session.scalar(
                    select(func.count(SyncJob.id))
                    .join(AtsConnection, AtsConnection.id == SyncJob.connection_id)
                    .where(
                        SyncJob.status.in_(("pending", "running")), AtsConnection.status == "active"
                    )
                )
                or 0
            )

    async def drain(self, timeout: float = 60.0) -> None:
        """Run until no claimable work is left (tests, CLI `outbound worker --until-idle`)."""
        runner = asyncio.create_task(self.run(poll_interval=0.05))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                if self._inflight:
                    continue
                try:
                    if await self.db.in_thread(self.open_job_count) == 0:
                        return
                except Exception:  # the database is away: not idle, keep waiting
                    log.exception("cannot count open work; retrying")
            raise TimeoutError(f"sync work still open after {timeout}s")
        finally:
            self.stop()
            await runner
