"""The mail worker: plans steps, sends them over SMTP, reads replies, resolves half-done sends.

Runs beside the sync worker (in `outbound serve` and `outbound worker`). Every state change
commits in one transaction with the work it causes, so several workers may share a PostgreSQL
database; on SQLite one process runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from outbound.crypto import SecretBox
from outbound.mail import compose, outbox, planner
from outbound.mail.inbound import ingest
from outbound.mailclients import smtp
from outbound.mailclients.inbox import InboundItem, InboxError
from outbound.service import mailbox_oauth
from outbound.service.mailbox_oauth import MailboxAccessLost, OAuthUnavailable
from outbound.service.mailboxes import inbox_for, smtp_config
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import Mailbox, OutboundEmail, utcnow

log = logging.getLogger("outbound.mail")
T = TypeVar("T")
RECIPIENT_REFUSED = (550, 551, 553)


class MailWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        concurrency: int = 8,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.box = SecretBox(settings.fernet_key)
        self.worker_id = worker_id or f"mail:{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = timedelta(seconds=lease_seconds or settings.mail_lease_seconds)
        self.concurrency = concurrency
        self.rng = rng or random.Random()
        self._stop = asyncio.Event()
        self._polled: dict[int, float] = {}

    def stop(self) -> None:
        self._stop.set()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        def unit() -> T:
            with self.db.session() as session:
                return fn(session, *args)

        return await asyncio.to_thread(unit)

    # -- planning and sending ------------------------------------------------------------
    def _plan(self, session: Session) -> int:
        now = utcnow()
        planner.resume_paused(session, now)
        return planner.plan(session, now, self.settings.mail_day_seconds, self.rng)

    async def send_due(self) -> int:
        await self._db(self._plan)
        stale = await self._db(
            lambda s: outbox.stale(s, self.worker_id, utcnow(), self.lease, self.concurrency)
        )
        claimed = await self._db(
            lambda s: outbox.claim(s, self.worker_id, utcnow(), self.lease, self.concurrency)
        )
        await asyncio.gather(
            *(self._resolve_stale(i) for i in stale), *(self._send(i) for i in claimed)
        )
        return len(claimed) + len(stale)

    def _load(
        self, session: Session, email_id: int
    ) -> tuple[OutboundEmail, Mailbox, dict[str, Any]]:
        email = session.get(OutboundEmail, email_id)
        assert email is not None
        mailbox = session.get(Mailbox, email.mailbox_id)
        assert mailbox is not None
        return email, mailbox, self.box.open(mailbox.secrets_encrypted)

    async def _send(self, email_id: int) -> None:
        email, mailbox, secrets = await self._db(self._load, email_id)
        draft = compose.Draft(
            from_name=mailbox.from_name,
            from_address=mailbox.email,
            to_address=email.to_address,
            subject=email.subject,
            body_text=email.body_text,
            message_id=email.message_id,
            token=email.token,
            in_reply_to=email.in_reply_to,
            references=email.references,
            links=list(email.links or []),
            tracking=email.tracking,
            unsubscribe_link=email.unsubscribe_link,
        )
        message = compose.build(draft, self.settings.resolved_public_url)
        outcome: Callable[[Session, OutboundEmail], None]
        day = self.settings.mail_day_seconds
        try:
            token = await self._token(mailbox)
            config = smtp_config(mailbox, secrets, token)
            await smtp.send(config, message, mailbox.email, email.to_address)
        except MailboxAccessLost as exc:  # held, neither failed nor sent, until reconnected
            outcome = partial(
                outbox.pause_mailbox, reason=exc.reason, status=mailbox_oauth.RECONNECT
            )
        except OAuthUnavailable as exc:
            outcome = self._retry_later(email, exc.message)
        except smtp.AuthFailed as exc:
            if mailbox.auth_kind == "oauth":
                outcome = await self._after_token_refused(mailbox, email)
            else:
                reason = f"SMTP login refused ({exc.code}): update the mailbox password"
                outcome = partial(outbox.pause_mailbox, reason=reason)
        except smtp.Rejected as exc:
            recipient = exc.code in RECIPIENT_REFUSED and "recipient" in exc.message
            outcome = partial(outbox.mark_rejected, error=exc.message, recipient=recipient)
        except smtp.Transient as exc:
            outcome = self._retry_later(email, exc.message)
        except smtp.Uncertain as exc:
            await self._settle_unknown(email_id, mailbox, secrets, exc.message)
            return
        else:
            outcome = partial(outbox.mark_sent, now=utcnow(), day_seconds=day)
        await self._db(self._settle, email_id, outcome)

    def _retry_later(
        self, email: OutboundEmail, error: str, delay: float | None = None
    ) -> Callable[[Session, OutboundEmail], None]:
        if delay is None:
            # Backoff in sequence time: the demo's compressed clock retries sooner too.
            delay = min(3600.0, 30.0 * 2 ** max(0, email.attempts - 1)) * self.rng.uniform(0.5, 1)
            delay *= min(1.0, self.settings.mail_day_seconds / 86_400)
        return partial(
            outbox.retry_or_fail,
            error=error,
            now=utcnow(),
            delay=delay,
            max_attempts=self.settings.mail_max_attempts,
        )

    async def _token(self, mailbox: Mailbox, force: bool = False) -> str | None:
        """The access token of a mailbox connected by OAuth (None: it logs in by password)."""
        if mailbox.auth_kind != "oauth":
            return None
        return await asyncio.to_thread(
            mailbox_oauth.access_token, self.db, self.box, self.settings, mailbox.id, force
        )

    async def _after_token_refused(
        self, mailbox: Mailbox, email: OutboundEmail
    ) -> Callable[[Session, OutboundEmail], None]:
        """The server refused a token we held for live (revoked, or expired early): a new one
        and a retry now, or the mailbox waits for its owner to reconnect it."""
        try:
            token = await self._token(mailbox, force=True)
            # The new token is tried at once: a server that refuses a fresh one (SMTP AUTH
            # turned off for the mailbox, say) needs a person, not more tries.
            await smtp.verify(smtp_config(mailbox, {}, token))
        except MailboxAccessLost as exc:
            return partial(outbox.pause_mailbox, reason=exc.reason, status=mailbox_oauth.RECONNECT)
        except OAuthUnavailable as exc:
            return self._retry_later(email, exc.message)
        except smtp.AuthFailed as exc:
            reason = (
                f"The mail server refused Outbound's access to {mailbox.email} ({exc.code}): "
                "check that it allows authenticated SMTP, then connect the mailbox again"
            )
            return partial(outbox.pause_mailbox, reason=reason)
        except smtp.SmtpFailure as exc:
            return self._retry_later(email, exc.message)
        return self._retry_later(email, "the mail server refused an expired token", delay=0)

    def _settle(
        self, session: Session, email_id: int, outcome: Callable[[Session, OutboundEmail], None]
    ) -> None:
        email = outbox.owned(session, email_id, self.worker_id)
        if email is None:
            log.warning(
                "email %s: lease lost before its outcome was written",
                email_id,
                extra={"email_id": email_id},
            )
            return
        outcome(session, email)

    async def _resolve_stale(self, email_id: int) -> None:
        _, mailbox, secrets = await self._db(self._load, email_id)
        await self._settle_unknown(
            email_id, mailbox, secrets, "Outbound stopped while it was being sent"
        )

    async def _settle_unknown(
        self, email_id: int, mailbox: Mailbox, secrets: dict[str, Any], reason: str
    ) -> None:
        """Did it go? Only the mailbox's Sent folder can say; never guess by resending."""
        email, _, _ = await self._db(self._load, email_id)
        try:
            token = await self._token(mailbox)
        except (MailboxAccessLost, OAuthUnavailable):
            return  # asked again once the mailbox is back (the send stays "sending")
        inbox = inbox_for(mailbox, secrets, token)
        try:
            found = await asyncio.to_thread(inbox.sent_contains, email.message_id)
        finally:
            inbox.close()
        day = self.settings.mail_day_seconds
        if found:
            await self._db(
                self._settle, email_id, lambda s, e: outbox.mark_sent(s, e, utcnow(), day)
            )
        else:
            await self._db(self._settle, email_id, lambda s, e: outbox.mark_uncertain(s, e, reason))

    # -- reading replies -----------------------------------------------------------------
    def _due_mailboxes(self, session: Session) -> list[int]:
        return list(session.scalars(select(Mailbox.id).where(Mailbox.status == "active")))

    async def poll_all(self, force: bool = False) -> int:
        handled = 0
        now = time.monotonic()
        for mailbox_id in await self._db(self._due_mailboxes):
            last = self._polled.get(mailbox_id)
            if not force and last is not None and now - last < self.settings.mail_poll_seconds:
                continue
            self._polled[mailbox_id] = now
            handled += await self.poll(mailbox_id)
        return handled

    def _take_poll_lease(self, session: Session, mailbox_id: int) -> bool:
        """One reader per mailbox across the fleet (a dead reader's lease simply expires)."""
        now = utcnow()
        taken = session.execute(
            update(Mailbox)
            .where(
                Mailbox.id == mailbox_id,
                or_(Mailbox.poll_lease_until.is_(None), Mailbox.poll_lease_until < now),
            )
            .values(poll_lease_until=now + self.lease)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0))

    async def poll(self, mailbox_id: int) -> int:
        """Read what is new in one mailbox; each message's effects and the new position commit
        together, so a restart resumes exactly after the last message handled."""
        if not await self._db(self._take_poll_lease, mailbox_id):
            return 0  # another worker is reading it right now
        try:
            return await self._poll(mailbox_id)
        finally:
            await self._db(_end_poll_lease, mailbox_id)

    async def _poll(self, mailbox_id: int) -> int:

        def load(session: Session) -> tuple[Mailbox, dict[str, Any]]:
            mb = session.get(Mailbox, mailbox_id)
            assert mb is not None
            return mb, self.box.open(mb.secrets_encrypted)

        mailbox, secrets = await self._db(load)
        try:
            token = await self._token(mailbox)
        except (MailboxAccessLost, OAuthUnavailable) as exc:
            log.warning("mailbox %s: no access token: %s", mailbox_id, exc)
            return 0
        inbox = inbox_for(mailbox, secrets, token)
        try:
            batch = await asyncio.to_thread(
                inbox.fetch_new, mailbox.imap_uidvalidity, mailbox.imap_last_uid, 200
            )
            for item in batch.items:
                await self._db(self._handle_inbound, mailbox_id, item, batch.uidvalidity)
                await asyncio.to_thread(inbox.acknowledge, item)
            await self._db(_polled_ok, mailbox_id, batch.uidvalidity)
            return len(batch.items)
        except InboxError as exc:
            if exc.auth and mailbox.auth_kind == "oauth":
                # A token refused: a new one, tried at once; refused again, a person must look.
                return await self._after_imap_refused(mailbox, secrets, exc)
            await self._db(_poll_failed, mailbox_id, exc)
            return 0
        finally:
            inbox.close()

    async def _after_imap_refused(
        self, mailbox: Mailbox, secrets: dict[str, Any], refused: InboxError
    ) -> int:
        try:
            token = await self._token(mailbox, force=True)
        except (MailboxAccessLost, OAuthUnavailable):
            return 0  # "reconnect your mailbox" is set, or the provider is away for now
        inbox = inbox_for(mailbox, secrets, token)
        try:
            await asyncio.to_thread(inbox.verify)
        except InboxError as exc:
            if exc.auth:
                await self._db(_poll_failed, mailbox.id, refused)
        finally:
            inbox.close()
        return 0

    def _handle_inbound(
        self, session: Session, mailbox_id: int, item: InboundItem, uidvalidity: int | None
    ) -> None:
        mb = session.get(Mailbox, mailbox_id)
        assert mb is not None
        outcome = ingest(
            session,
            mb,
            item.raw,
            now=utcnow(),
            uid=item.uid,
            soft_bounce_limit=self.settings.soft_bounce_limit,
        )
        log.info(
            "mailbox %s: %s (%s)",
            mailbox_id,
            outcome.kind,
            outcome.detail,
            extra={"mailbox_id": mailbox_id, "enrollment_id": outcome.enrollment_id},
        )
        if item.uid is not None:
            mb.imap_uidvalidity = uidvalidity
            mb.imap_last_uid = max(mb.imap_last_uid, item.uid)

    # -- the loop --------------------------------------------------------------------------
    async def run(self, interval: float = 0.5) -> None:
        while not self._stop.is_set():
            try:
                await self.send_due()
                await self.poll_all()
            except Exception:  # a database or server outage must not end the worker
                log.exception("mail worker error; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)


def _end_poll_lease(session: Session, mailbox_id: int) -> None:
    session.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox_id)
        .values(poll_lease_until=None)
        .execution_options(synchronize_session=False)
    )


def _polled_ok(session: Session, mailbox_id: int, uidvalidity: int | None) -> None:
    mb = session.get(Mailbox, mailbox_id)
    if mb is None:
        return
    mb.last_polled_at = utcnow()
    if uidvalidity is not None and mb.imap_uidvalidity != uidvalidity:
        mb.imap_uidvalidity = uidvalidity
    if mb.status_reason and mb.status == "active":
        mb.status_reason = None


def _poll_failed(session: Session, mailbox_id: int, exc: InboxError) -> None:
    mb = session.get(Mailbox, mailbox_id)
    if mb is None:
        return
    log.warning(
        "mailbox %s: cannot read replies: %s",
        mailbox_id,
        exc.message,
        extra={"mailbox_id": mailbox_id},
    )
    if exc.auth:
        # Not reading replies means risking a follow-up to someone who answered: stop sending.
        mb.status = "failing"
        mb.status_reason = (
            f"IMAP refused Outbound's access to {mb.email}: check that IMAP is allowed for it, "
            "then connect the mailbox again"
            if mb.auth_kind == "oauth"
            else "IMAP login refused: update the mailbox password"
        )
    else:
        mb.status_reason = f"cannot read replies: {exc.message}"
