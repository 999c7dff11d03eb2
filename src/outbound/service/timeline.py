"""A contact's timeline: the email thread (what was sent, what came back), the ATS history
written as sentences ("Created in Crelate as Alice Recruiter", "Moved to Replied"), and, for
the technical details, the ATS calls a page at a time (newest page first, oldest first within
a page) with what retention removed from them in summary (service/retention.py writes those
summaries)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from outbound.connectors.record_links import record_link
from outbound.connectors.registry import ATS, base_url
from outbound.domain.problems import when
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.enrollments import get_enrollment
from outbound.service.errors import ServiceError
from outbound.settings import Settings
from outbound.store.models import (
    ActivityEvent,
    AtsEffect,
    AtsLink,
    Contact,
    Enrollment,
    OutboundEmail,
    SyncCall,
    SyncJob,
    TimelineSummary,
)

PAGE_SIZE = 50
EN_DASH = "\N{EN DASH}"
MAX_PAGE_SIZE = 200

# How each counted event reads, singular and plural; in this order.
EVENT_WORDS = {
    "sent": ("email sent", "emails sent"),
    "opened": ("open", "opens"),
    "clicked": ("click", "clicks"),
    "replied": ("reply", "replies"),
    "bounced": ("bounce", "bounces"),
    "unsubscribed": ("unsubscribe", "unsubscribes"),
    "sentiment": ("sentiment change", "sentiment changes"),
}


@dataclass(frozen=True)
class Summary:
    """What retention removed: the contact's ATS calls (scope "ats_calls") or this enrollment's
    email events (scope "emails")."""

    scope: str
    counts: dict[str, int]
    first_at: datetime
    last_at: datetime
    retention_days: int

    @property
    def text(self) -> str:
        if self.scope == "ats_calls":
            calls = self.counts.get("calls", 0)
            failed = self.counts.get("failed", 0)
            what = _count(calls, "ATS call", "ATS calls")
            what += f" ({failed} failed)" if failed else ""
        else:
            order = list(EVENT_WORDS)
            kinds = sorted(self.counts, key=lambda k: (order.index(k) if k in order else 99, k))
            what = _and(
                [
                    _count(self.counts[k], *EVENT_WORDS.get(k, (f"{k} event", f"{k} events")))
                    for k in kinds
                    if self.counts[k]
                ]
            )
        return (
            f"{what} in {period(self.first_at, self.last_at)} "
            f"(details removed after {self.retention_days} days)"
        )


@dataclass(frozen=True)
class TimelinePage:
    calls: list[SyncCall]  # oldest first
    # Only on the oldest page, where the removed history belongs.
    summaries: list[Summary]
    # Pass as ``before`` for the page before this one; None: this is the oldest page.
    next_before: int | None


def timeline_page(
    session: Session,
    caller: Caller,
    enrollment_id: int,
    limit: int = PAGE_SIZE,
    before: int | None = None,
) -> TimelinePage:
    """The ``limit`` latest calls before the call ``before`` (the latest when None)."""
    enrollment = get_enrollment(session, caller, enrollment_id)
    q = select(SyncCall).where(SyncCall.contact_id == enrollment.contact_id)
    if before is not None:
        q = q.where(SyncCall.id < before)
    # One more than asked: whether an earlier page exists, without counting the contact's calls.
    calls = list(session.scalars(q.order_by(SyncCall.id.desc()).limit(limit + 1)))
    more = len(calls) > limit
    calls = calls[:limit][::-1]
    return TimelinePage(
        calls,
        [] if more else summaries_of(session, enrollment),
        calls[0].id if more else None,
    )


def summaries_of(session: Session, enrollment: Enrollment) -> list[Summary]:
    """What retention removed from this contact's calls and this enrollment's events."""
    merged: dict[int | None, Summary] = {}
    for row in session.scalars(
        select(TimelineSummary)
        .where(
            TimelineSummary.contact_id == enrollment.contact_id,
            or_(
                TimelineSummary.enrollment_id.is_(None),
                TimelineSummary.enrollment_id == enrollment.id,
            ),
        )
        .order_by(TimelineSummary.id)
    ):
        # Two pruners racing may each have written a row for one key: they add up.
        seen = merged.get(row.enrollment_id)
        merged[row.enrollment_id] = Summary(
            "ats_calls" if row.enrollment_id is None else "emails",
            dict(Counter(row.counts) + Counter(seen.counts if seen else {})),
            min(row.first_at, seen.first_at) if seen else row.first_at,
            max(row.last_at, seen.last_at) if seen else row.last_at,
            row.retention_days,
        )
    # Events first, then calls: the order the contact's story happened in.
    return sorted(merged.values(), key=lambda s: s.scope != "emails")


def period(first: datetime, last: datetime) -> str:
    """Jan 2026, Jan-Mar 2026, Dec 2025-Feb 2026 (with an en dash)."""
    if (first.year, first.month) == (last.year, last.month):
        return first.strftime("%b %Y")
    start = first.strftime("%b" if first.year == last.year else "%b %Y")
    return f"{start}{EN_DASH}{last.strftime('%b %Y')}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts) or "nothing"
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


# -- the email thread ---------------------------------------------------------------------
# How each message reads in the thread; replies are classified when they arrive (mail/inbound).
THREAD_KINDS = {
    "sent": "Sent",
    "replied": "Reply",
    "auto_reply": "Out of office / automatic reply",
    "bounced": "Bounce",
}
# Messages shown per direction: a thread longer than this shows its latest.
THREAD_LIMIT = 100


@dataclass(frozen=True)
class ThreadItem:
    at: datetime
    outgoing: bool
    kind: str  # sent | replied | auto_reply | bounced
    subject: str
    body: str
    status: str = ""  # an outgoing email not sent (yet): queued, failed, uncertain...

    @property
    def label(self) -> str:
        return THREAD_KINDS.get(self.kind, self.kind)


def thread_of(session: Session, enrollment: Enrollment) -> list[ThreadItem]:
    """Every step emailed (as sent) and every reply, auto-reply and bounce, oldest first."""
    items = [
        ThreadItem(
            m.sent_at or m.run_after,
            True,
            "sent",
            m.subject,
            m.body_text,
            "" if m.status == "sent" else m.status,
        )
        for m in session.scalars(
            select(OutboundEmail)
            .where(
                OutboundEmail.enrollment_id == enrollment.id,
                OutboundEmail.status != "cancelled",
            )
            .order_by(OutboundEmail.id.desc())
            .limit(THREAD_LIMIT)
        )
    ]
    # Replies, and emails logged through the API (no email row of ours).
    for e in session.scalars(
        select(ActivityEvent)
        .where(
            ActivityEvent.enrollment_id == enrollment.id,
            ActivityEvent.kind.in_(("sent", "replied", "auto_reply", "bounced")),
        )
        .order_by(ActivityEvent.id.desc())
        .limit(THREAD_LIMIT)
    ):
        if e.kind == "sent" and e.email_id is not None:
            continue  # its email row is in the thread already
        items.append(
            ThreadItem(e.occurred_at, e.kind == "sent", e.kind, e.subject or "", e.body or "")
        )
    return sorted(items, key=lambda i: i.at)


# -- the ATS record and its history, as sentences ------------------------------------------
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class AtsRecord:
    provider: str
    title: str  # "Crelate"
    record_id: str
    url: str | None  # None: no pattern applies (or the id failed its check); the id is shown
    url_confirmed: bool = False  # False: the connector's unverified pattern, said on the page


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    text: str
    state: str  # done | unconfirmed (begun, outcome unknown) | retrying | failed


def ats_record(enrollment: Enrollment, settings: Settings) -> AtsRecord | None:
    """The contact's ATS record, with a link to its page when a pattern is configured or the
    connector has an (unverified) one for the ATS the connection calls."""
    snapshot = enrollment.sync_snapshot or {}
    provider = snapshot.get("provider")
    if not enrollment.ats_record_id or not provider:
        return None
    org = str(snapshot.get("ats_org") or "")
    # Crelate's organisation is the API URL its connection called; otherwise, this server's.
    api = org if org.startswith(("http://", "https://")) or provider not in ATS else None
    link = record_link(
        provider,
        enrollment.ats_record_id,
        org,
        api or base_url(provider, settings),
        getattr(settings, f"{provider}_record_url", None),
    )
    return AtsRecord(
        provider,
        PROVIDER_TITLES.get(provider, provider),
        enrollment.ats_record_id,
        link.url if link else None,
        link.confirmed if link else False,
    )


def ats_history(
    session: Session, enrollment: Enrollment, job_titles: Mapping[str, str] | None = None
) -> list[HistoryLine]:
    """What Outbound wrote in the ATS for the contact (the effect ledger) and the sync work
    that failed or waits to retry, oldest first, in sentences; a job is named by its title
    when ``job_titles`` (see ``job_titles``) has it, else by its id."""
    contact = session.get(Contact, enrollment.contact_id)
    assert contact is not None
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or contact.email
    lines: list[HistoryLine] = []
    for link in session.scalars(
        select(AtsLink).where(AtsLink.contact_id == contact.id, AtsLink.created_by_us.is_(False))
    ):
        if link.remote_id:
            title = PROVIDER_TITLES.get(link.provider, link.provider)
            lines.append(
                HistoryLine(link.linked_at, f"Linked to the {title} record already there", "done")
            )
    effects = list(
        session.scalars(
            select(AtsEffect)
            .where(AtsEffect.contact_id == contact.id)
            .order_by(AtsEffect.id)
            .limit(HISTORY_LIMIT)
        )
    )
    stages = _stages(session, effects)
    subjects = _subjects(session, effects)
    for effect in effects:
        text = effect_sentence(effect, name, stages, subjects, job_titles or {})
        if effect.state != "done":
            text += " (not confirmed yet: checked with the ATS on the next try)"
        state = "done" if effect.state == "done" else "unconfirmed"
        lines.append(HistoryLine(effect.done_at or effect.began_at, text, state))
    ats = PROVIDER_TITLES.get((enrollment.sync_snapshot or {}).get("provider") or "", "the ATS")
    for job in session.scalars(
        select(SyncJob)
        .where(SyncJob.enrollment_id == enrollment.id, SyncJob.last_error.is_not(None))
        .order_by(SyncJob.id.desc())
        .limit(20)
    ):
        state = "retrying" if job.status in ("pending", "running") else "failed"
        if job.status == "done":
            continue  # it worked in the end: the effects above say what it wrote
        lines.append(
            HistoryLine(job.finished_at or job.run_after, failure_sentence(job, ats), state)
        )
    return sorted(lines, key=lambda line: line.at)


def effect_sentence(
    effect: AtsEffect,
    name: str,
    stages: dict[int, str],
    subjects: dict[int, tuple[str, str]],
    job_titles: Mapping[str, str] | None = None,
) -> str:
    title = PROVIDER_TITLES.get(effect.provider, effect.provider)
    spec = ATS.get(effect.provider)
    job_word = (spec.job_word if spec else "job").lower()
    kind, _, target = effect.effect.partition(":")
    if kind == "create":
        return f"Created in {title} as {name}"
    if kind == "details":
        return f"Completed the {title} record's details (email, phone)"
    if kind == "attach":
        named = (job_titles or {}).get(target.lower())
        return f'Added to {job_word} "{named}"' if named else f"Added to {job_word} {target}"
    if kind == "stage":
        stage = stages.get(_int(target))
        return f"Moved to {stage}" if stage else "Moved to the next pipeline stage"
    if kind == "activity":
        event_kind, subject = subjects.get(_int(target), ("sent", ""))
        what = {"sent": "email", "replied": "reply", "auto_reply": "automatic reply"}.get(
            event_kind, event_kind.replace("_", " ")
        )
        quoted = f" '{subject}'" if subject else ""
        return f"Logged {what}{quoted} as activity"
    if kind == "update":
        return f"Updated the {title} record's fields"
    return f"Wrote {effect.effect} in {title}"


# -- job/project titles, for the history's "Added to job …" ------------------------------------
# The contact page waits for the ATS's job list: a hanging ATS costs this, then ids are shown.
JOB_TITLES_TIMEOUT = 4.0


def attached_job_ids(session: Session, enrollment: Enrollment) -> list[str]:
    """The jobs/projects the contact's ATS history names (what ``job_titles`` is asked for)."""
    effects = session.scalars(
        select(AtsEffect.effect)
        .where(AtsEffect.contact_id == enrollment.contact_id, AtsEffect.effect.like("attach:%"))
        .limit(HISTORY_LIMIT)
    )
    return sorted({e.partition(":")[2] for e in effects})


def job_titles(
    provider: str, credentials: dict[str, Any], settings: Settings, wanted: list[str]
) -> dict[str, str]:
    """Title by (lower-case) id of the jobs/projects wanted, from the same list the Syncing
    tab's picker shows. Call it with no transaction open, once per page view; an ATS that
    cannot be reached gives {} (the ids are shown): the page never fails for a title."""
    if not wanted:
        return {}

    async def jobs(connector: Any) -> Any:
        return await connector.list_jobs()

    try:
        found = call_ats(provider, credentials, settings, jobs, timeout=JOB_TITLES_TIMEOUT)
    except ServiceError:
        return {}
    ids = {w.lower() for w in wanted}
    return {j.id.lower(): j.name for j in found if j.name and j.id.lower() in ids}


def failure_sentence(job: SyncJob, ats: str) -> str:
    error = (job.last_error or "").rstrip(".")
    if job.status in ("pending", "running"):
        return f"Failed to reach {ats}: {error} (trying again at {when(job.run_after)})"
    if job.status == "failed":
        tries = "1 try" if job.attempts == 1 else f"{job.attempts} tries"
        return f"Gave up after {tries}: {error}"
    return error


def _int(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() else -1


def _stages(session: Session, effects: list[AtsEffect]) -> dict[int, str]:
    """stage:<sync job id> effects: the stage each of those jobs set."""
    ids = [_int(e.effect.partition(":")[2]) for e in effects if e.effect.startswith("stage:")]
    if not ids:
        return {}
    rows = session.execute(select(SyncJob.id, SyncJob.payload).where(SyncJob.id.in_(ids)))
    return {i: str((p or {}).get("stage") or "") for i, p in rows}


def _subjects(session: Session, effects: list[AtsEffect]) -> dict[int, tuple[str, str]]:
    """activity:<event id> effects: the kind and subject of each logged event."""
    ids = [_int(e.effect.partition(":")[2]) for e in effects if e.effect.startswith("activity:")]
    if not ids:
        return {}
    rows = session.execute(
        select(ActivityEvent.id, ActivityEvent.kind, ActivityEvent.subject).where(
            ActivityEvent.id.in_(ids)
        )
    )
    return {i: (k, s or "") for i, k, s in rows}
