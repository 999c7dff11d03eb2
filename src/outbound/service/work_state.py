"""Where a team's work stands, counted in contacts and said in a recruiter's words: contacts
waiting to sync, retrying (why, and when the next try is), failed, and stuck work with its
cause (no mailbox for a sequence owner with contacts to email, an ATS disconnected or paused
with contacts pending, a sequence with no steps), each with where it is fixed.

A fixed number of grouped statements per call, whatever the number of sequences, contacts or
connections: the dashboard reads the whole team at once, a sequence page one sequence."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from outbound.domain.contact_status import BLOCKS_SENDING
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service.caller import Caller
from outbound.service.errors import NotFound
from outbound.service.sequence_figures import Group
from outbound.store.models import (
    AtsConnection,
    Enrollment,
    Mailbox,
    Sequence,
    SequenceStep,
    SyncCall,
    SyncJob,
    User,
    utcnow,
)

OPEN_JOBS = ("pending", "running")
# How bad a warning is: the banner's colour and role (error and warning interrupt, info waits).
LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Warning:
    """One thing a recruiter should know about a sequence's work, with where it is fixed."""

    kind: str  # no_mailbox | mailbox_failing | ats_missing | ats_paused | failed | retrying
    # | no_steps | waiting
    level: str  # error | warning | info
    contacts: int
    text: str
    fix_label: str | None = None
    fix_href: str | None = None
    sequence_id: int | None = None
    sequence_name: str | None = None
    next_try_at: datetime | None = None


@dataclass
class SequenceWork:
    id: int
    name: str
    owner_id: int
    owner_name: str
    steps: int
    synced: int = 0
    waiting: int = 0
    retrying: int = 0
    failed: int = 0
    stuck: int = 0  # contacts that cannot sync until a person acts
    warnings: list[Warning] = field(default_factory=list)


@dataclass
class ConnectionWork:
    """One teammate's ATS connection: one status (never "connected" beside "failing")."""

    id: int
    user_id: int
    user_name: str
    provider: str
    title: str
    status: str  # connected | not_answering | reconnect_needed
    status_words: str
    level: str  # ok | warning | error
    slowed_down: int = 0  # 429 answers in the last hour
    synced: int = 0
    waiting: int = 0
    retrying: int = 0
    failed: int = 0
    stuck: int = 0


@dataclass
class TeamWork:
    connections: list[ConnectionWork]
    sequences: list[SequenceWork]

    @property
    def warnings(self) -> list[Warning]:
        """Every sequence's warnings, what needs a person first."""
        found = [w for s in self.sequences for w in s.warnings]
        return sorted(found, key=lambda w: (LEVEL_ORDER[w.level], -w.contacts))


# -- words ---------------------------------------------------------------------------------
def contacts_words(n: int) -> str:
    return f"{n} contact" if n == 1 else f"{n} contacts"


def times_words(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def when_words(at: datetime | None, now: datetime) -> str:
    """When the next try is, as a recruiter says it."""
    if at is None:
        return "soon"
    seconds = (at - now).total_seconds()
    if seconds < 60:
        return "in a few seconds" if seconds > 0 else "now"
    if seconds < 3600:
        minutes = round(seconds / 60)
        return f"in about {minutes} minute{'s' if minutes != 1 else ''}"
    return f"at {at.strftime('%H:%M')} UTC"


_HTTP_ERROR = re.compile(r"^[A-Z]+ \S+: (\d{3})\b\s*(.*)$")


def error_words(error: str | None, title: str) -> str:
    """A job's last error (a method, a path and a status code) in words: the path and ids of
    the call mean nothing to a recruiter, who the error came from and what it means do."""
    if not error:
        return f"{title} has not answered yet"
    if error.startswith("database unavailable"):
        return "Outbound's database was busy"
    if error.endswith(": timed out"):
        return f"{title} did not answer in time"
    if "connection dropped" in error or "dropped" in error.lower():
        return f"the connection to {title} dropped"
    match = _HTTP_ERROR.match(error)
    if match is None:
        return error
    code = int(match.group(1))
    if code == 429:
        return f"{title} asked Outbound to slow down"
    if code >= 500:
        return f"{title} is having trouble (it answered {code})"
    if code == 408:
        return f"{title} did not answer in time"
    return f"{title} refused the call ({code} {match.group(2)})".strip()


FAILED_WORDS = {
    "sync_error": "{ats} refused what Outbound sent",
    "ats_permission": "{ats} does not let the API key make a call it needs",
    "ats_unreachable": "{ats} could not be reached after many tries",
    "stage_missing": "a pipeline stage is missing in {ats}",
    "ats_changed": "they were added under another ATS connection",
}


# -- statements ----------------------------------------------------------------------------
def sequences_statement(
    team_id: int, sequence_id: int | None = None
) -> Select[int, str, int, str, int]:
    """The team's sequences with their owners and how many steps each has."""
    statement = (
        select(
            Sequence.id, Sequence.name, Sequence.owner_id, User.name, func.count(SequenceStep.id)
        )
        .join(User, User.id == Sequence.owner_id)
        .outerjoin(SequenceStep, SequenceStep.sequence_id == Sequence.id)
        .where(Sequence.team_id == team_id)
        .group_by(Sequence.id, Sequence.name, Sequence.owner_id, User.name)
    )
    archived = getattr(Sequence, "archived_at", None)  # archived sequences send nothing
    if archived is not None and sequence_id is None:
        statement = statement.where(archived.is_(None))
    return statement if sequence_id is None else statement.where(Sequence.id == sequence_id)


def enrollment_counts_statement(
    team_id: int, sequence_id: int | None = None
) -> Select[int, str, str | None, int, Any, Any]:
    """Contacts per sequence, sync state and error, and of them those still to be emailed
    (active, a step to send) and those active at all."""
    active = Enrollment.state == "active"
    to_email = case((active & Enrollment.next_send_at.is_not(None), 1), else_=0)
    statement = select(
        Enrollment.sequence_id,
        Enrollment.sync_state,
        Enrollment.error_code,
        func.count(Enrollment.id),
        func.sum(to_email),
        func.sum(case((active, 1), else_=0)),
    ).where(Enrollment.team_id == team_id)
    if sequence_id is not None:
        statement = statement.where(Enrollment.sequence_id == sequence_id)
    return statement.group_by(Enrollment.sequence_id, Enrollment.sync_state, Enrollment.error_code)


def open_jobs_statement(
    team_id: int, connection_ids: list[int], sequence_id: int | None = None
) -> Select[int, int, int, int, datetime, int]:
    """Contacts with open sync work per sequence and connection, apart those whose last try
    failed (retrying): when each group's next try is, and its latest job (for the error).
    Read along ix_sync_jobs_connection, the enrollments by their key."""
    erred = case((SyncJob.last_error.is_not(None), 1), else_=0).label("erred")
    statement = (
        select(
            Enrollment.sequence_id,
            SyncJob.connection_id,
            erred,
            func.count(func.distinct(SyncJob.enrollment_id)),
            func.min(SyncJob.run_after),
            func.max(SyncJob.id),
        )
        .join(Enrollment, Enrollment.id == SyncJob.enrollment_id)
        .where(SyncJob.connection_id.in_(connection_ids), SyncJob.status.in_(OPEN_JOBS))
        .group_by(Enrollment.sequence_id, SyncJob.connection_id, erred)
    )
    # The team's connections scope the jobs; a condition on the enrollments' team would
    # lead the planner to read the team's enrollments first, every one of them.
    return (
        statement
        if sequence_id is None
        else statement.where(SyncJob.team_id == team_id, Enrollment.sequence_id == sequence_id)
    )


def throttled_statement(connection_ids: list[int], since: datetime) -> Select[int, int]:
    """429 answers per connection since then: the recent 429s (ix_sync_calls_status_at), not
    every call ever made."""
    return (
        select(SyncJob.connection_id, func.count(SyncCall.id))
        .join(SyncJob, SyncJob.id == SyncCall.job_id)
        .where(
            SyncCall.status_code == 429,
            SyncCall.at >= since,
            SyncJob.connection_id.in_(connection_ids),
        )
        .group_by(SyncJob.connection_id)
    )


# -- reading -------------------------------------------------------------------------------
@dataclass
class _Counts:
    """What the grouped statements said about one sequence."""

    by_state: dict[str, int] = field(default_factory=dict)
    failed_codes: dict[str, int] = field(default_factory=dict)
    to_email: int = 0
    active: int = 0
    # connection id -> contacts with open jobs (not erred / erred), next try, latest job
    waiting_on: dict[int, int] = field(default_factory=dict)
    retrying_on: dict[int, int] = field(default_factory=dict)
    next_try: datetime | None = None
    latest_job: int | None = None


# (sequence, sync state, error code, contacts, of them to be emailed, of them active)
CountRow = tuple[int, str, str | None, int, int, int]


def count_rows_of(sequence_id: int, groups: Iterable[Group]) -> list[CountRow]:
    """What enrollment_counts_statement answers for one sequence, from the groups its page
    has already read (sequence_figures.sequence_groups): no second read of its enrollments."""
    rows: dict[tuple[str, str | None], list[int]] = {}
    for g in groups:
        row = rows.setdefault((g.sync_state, g.error_code), [0, 0, 0])
        active = g.state == "active"
        row[0] += g.contacts
        row[1] += g.due if active else 0
        row[2] += g.contacts if active else 0
    return [(sequence_id, sync, code, n, due, act) for (sync, code), (n, due, act) in rows.items()]


def _read(
    session: Session, team_id: int, sequence_id: int | None, given: list[CountRow] | None = None
) -> tuple[list[SequenceWork], dict[int, _Counts], dict[int, AtsConnection], dict[int, Mailbox]]:
    sequences = [
        SequenceWork(sid, name, owner_id, owner_name, steps)
        for sid, name, owner_id, owner_name, steps in session.execute(
            sequences_statement(team_id, sequence_id)
        )
    ]
    conns = {
        c.id: c
        for c in session.scalars(select(AtsConnection).where(AtsConnection.team_id == team_id))
    }
    mailboxes = {
        m.user_id: m for m in session.scalars(select(Mailbox).where(Mailbox.team_id == team_id))
    }
    counts: dict[int, _Counts] = {}
    rows = (
        given
        if given is not None
        else session.execute(enrollment_counts_statement(team_id, sequence_id))
    )
    for sid, state, code, n, to_email, active in rows:
        c = counts.setdefault(sid, _Counts())
        c.by_state[state] = c.by_state.get(state, 0) + n
        if state == "failed":
            c.failed_codes[code or "sync_error"] = c.failed_codes.get(code or "sync_error", 0) + n
        # A contact whose mail waits for a person's look is not stuck on the mailbox.
        if code is None or code not in BLOCKS_SENDING:
            c.to_email += int(to_email or 0)
        c.active += int(active or 0)
    if conns:
        for sid, conn_id, erred, n, next_try, latest in session.execute(
            open_jobs_statement(team_id, list(conns), sequence_id)
        ):
            c = counts.setdefault(sid, _Counts())
            (c.retrying_on if erred else c.waiting_on)[conn_id] = n
            if erred and conns[conn_id].status == "active":
                if c.next_try is None or (next_try is not None and next_try < c.next_try):
                    c.next_try = next_try
                c.latest_job = max(c.latest_job or 0, latest)
    return sequences, counts, conns, mailboxes


def _latest_errors(session: Session, counts: dict[int, _Counts]) -> dict[int, str | None]:
    """The last error of each sequence's latest retrying job: one statement for them all."""
    ids = [c.latest_job for c in counts.values() if c.latest_job is not None]
    if not ids:
        return {}
    return dict(
        session.execute(select(SyncJob.id, SyncJob.last_error).where(SyncJob.id.in_(ids))).all()
    )


def _assess(
    seq: SequenceWork,
    c: _Counts,
    conns: dict[int, AtsConnection],
    mailboxes: dict[int, Mailbox],
    errors: dict[int, str | None],
    caller: Caller,
    now: datetime,
) -> None:
    by_user = {conn.user_id: conn for conn in conns.values()}  # one connection per user
    """Fill the sequence's counts and warnings from what the statements said."""
    mine = seq.owner_id == caller.user_id
    owner_conn = by_user.get(seq.owner_id)
    owner_live = owner_conn is not None and owner_conn.disconnected_at is None
    title = PROVIDER_TITLES.get(owner_conn.provider if owner_conn else "", "the ATS")
    pending = c.by_state.get("pending", 0)
    seq.synced = c.by_state.get("synced", 0)
    seq.failed = c.by_state.get("failed", 0)

    # Open work on a connection that cannot run it: disconnected or paused until a reconnect.
    stuck_on = {
        cid: c.waiting_on.get(cid, 0) + c.retrying_on.get(cid, 0)
        for cid in set(c.waiting_on) | set(c.retrying_on)
        if conns[cid].status != "active" or conns[cid].disconnected_at is not None
    }
    seq.stuck = sum(stuck_on.values())
    if not owner_live or (owner_conn is not None and owner_conn.status != "active"):
        seq.stuck = max(seq.stuck, pending)  # nothing will pick them up until a reconnect
    seq.retrying = sum(n for cid, n in c.retrying_on.items() if cid not in stuck_on)
    seq.waiting = max(0, pending - seq.stuck - seq.retrying)

    warnings: list[Warning] = []
    contacts_href = f"/sequences/{seq.id}"

    if seq.stuck:
        paused = owner_conn is not None and owner_live and owner_conn.status != "active"
        if paused:
            cause = f"{title} rejected the saved API key"
            kind = "ats_paused"
        elif owner_conn is not None and not owner_live:
            cause = f"{title} was disconnected"
            kind = "ats_missing"
        else:
            cause = "no ATS is connected"
            kind = "ats_missing"
        fix = "reconnect on Integrations" if mine else f"ask {seq.owner_name} to reconnect"
        warnings.append(
            Warning(
                kind,
                "error",
                seq.stuck,
                f"{contacts_words(seq.stuck)} can't sync: {cause} — {fix}.",
                "Reconnect on Integrations" if mine else None,
                "/integrations" if mine else None,
                sequence_id=seq.id,
                sequence_name=seq.name,
            )
        )

    if seq.failed:
        code, _ = max(c.failed_codes.items(), key=lambda kv: kv[1])
        why = FAILED_WORDS.get(code, FAILED_WORDS["sync_error"]).format(ats=title)
        warnings.append(
            Warning(
                "failed",
                "error",
                seq.failed,
                f"{contacts_words(seq.failed)} failed to sync: {why}. Open each one to see "
                "what to fix, then resync.",
                "See the contacts",
                contacts_href + "?tab=needs_attention",
                sequence_id=seq.id,
                sequence_name=seq.name,
            )
        )

    if seq.retrying:
        reason = error_words(errors.get(c.latest_job or 0), title)
        warnings.append(
            Warning(
                "retrying",
                "warning",
                seq.retrying,
                f"{contacts_words(seq.retrying)} retrying: {reason}. Outbound tries again "
                f"{when_words(c.next_try, now)}; nothing to do.",
                "See the contacts",
                contacts_href,
                next_try_at=c.next_try,
                sequence_id=seq.id,
                sequence_name=seq.name,
            )
        )

    if c.active and seq.steps == 0:
        warnings.append(
            Warning(
                "no_steps",
                "error",
                c.active,
                f"{contacts_words(c.active)} won't be emailed: this sequence has no steps "
                "— add one on Steps.",
                "Add a step",
                f"/sequences/{seq.id}/steps",
                sequence_id=seq.id,
                sequence_name=seq.name,
            )
        )
    elif c.to_email:
        mailbox = mailboxes.get(seq.owner_id)
        if mailbox is None or mailbox.status != "active":
            broken = mailbox is not None
            who = "your" if mine else f"{seq.owner_name}'s"
            mail_cause = (
                f"{who} mailbox is failing ({mailbox.status_reason or 'the mail server refused'})"
                if broken and mailbox is not None
                else (
                    "you have no mailbox connected"
                    if mine
                    else f"{seq.owner_name} has no mailbox connected"
                )
            )
            mail_fix = ("Fix the mailbox" if broken else "Connect a mailbox") if mine else None
            warnings.append(
                Warning(
                    "mailbox_failing" if broken else "no_mailbox",
                    "error",
                    c.to_email,
                    f"{contacts_words(c.to_email)} can't be emailed: {mail_cause}"
                    + (
                        f" — {mail_fix.lower()}."
                        if mail_fix
                        else f" — ask {seq.owner_name} to connect one."
                    ),
                    mail_fix,
                    "/mailbox" if mine else None,
                    sequence_id=seq.id,
                    sequence_name=seq.name,
                )
            )

    if seq.waiting:
        warnings.append(
            Warning(
                "waiting",
                "info",
                seq.waiting,
                f"{contacts_words(seq.waiting)} waiting to sync to {title}.",
                None,
                None,
                sequence_id=seq.id,
                sequence_name=seq.name,
            )
        )
    seq.warnings = sorted(warnings, key=lambda w: LEVEL_ORDER[w.level])


def connection_status(conn: AtsConnection, title: str) -> tuple[str, str, str]:
    """(status, words, level): one status per connection, the worst that holds."""
    if conn.status != "active":
        return "reconnect_needed", f"Reconnect needed: {title} rejected the saved API key", "error"
    if conn.failing_since is not None:
        since = conn.failing_since.strftime("%H:%M")
        return "not_answering", f"Not answering since {since} UTC — retrying", "warning"
    return "connected", "Connected", "ok"


def team_work(session: Session, caller: Caller) -> TeamWork:
    """The whole team's work: every live connection and every sequence with contacts."""
    now = utcnow()
    sequences, counts, conns, mailboxes = _read(session, caller.team_id, None)
    errors = _latest_errors(session, counts)
    for seq in sequences:
        _assess(seq, counts.get(seq.id, _Counts()), conns, mailboxes, errors, caller, now)

    live = [c for c in conns.values() if c.disconnected_at is None]
    names = (
        dict(
            session.execute(
                select(User.id, User.name).where(User.id.in_([c.user_id for c in live]))
            ).all()
        )
        if live
        else {}
    )
    throttled: dict[int, int] = {}
    if live:
        since = now - timedelta(hours=1)
        throttled = dict(
            session.execute(throttled_statement([c.id for c in live], since)).tuples().all()
        )
    cards = []
    for conn in sorted(live, key=lambda c: names.get(c.user_id, "")):
        title = PROVIDER_TITLES.get(conn.provider, conn.provider)
        status, words, level = connection_status(conn, title)
        card = ConnectionWork(
            conn.id,
            conn.user_id,
            names.get(conn.user_id, ""),
            conn.provider,
            title,
            status,
            words,
            level,
            throttled.get(conn.id, 0),
        )
        for seq in sequences:
            if seq.owner_id == conn.user_id:
                card.synced += seq.synced
                card.waiting += seq.waiting
                card.retrying += seq.retrying
                card.failed += seq.failed
                card.stuck += seq.stuck
        cards.append(card)
    shown = [s for s in sequences if s.id in counts]
    return TeamWork(cards, shown)


def sequence_warnings(
    session: Session, caller: Caller, sequence_id: int, groups: Iterable[Group] | None = None
) -> list[Warning]:
    """What the sequence's page should warn about (its stuck work first), in a fixed number
    of statements whatever the size of the sequence; with ``groups`` (the page's one read of
    its enrollments), no read of the enrollments of its own."""
    now = utcnow()
    given = None if groups is None else count_rows_of(sequence_id, groups)
    sequences, counts, conns, mailboxes = _read(session, caller.team_id, sequence_id, given)
    if not sequences:
        raise NotFound(f"sequence {sequence_id} not found", "sequence_id")
    seq = sequences[0]
    errors = _latest_errors(session, counts)
    _assess(seq, counts.get(seq.id, _Counts()), conns, mailboxes, errors, caller, now)
    return seq.warnings


def pending_for_connection(session: Session, caller: Caller) -> int:
    """Contacts whose sync waits on the caller's connection (what a disconnect leaves waiting)."""
    conn = session.scalar(select(AtsConnection.id).where(AtsConnection.user_id == caller.user_id))
    if conn is None:
        return 0
    return int(
        session.scalar(
            select(func.count(func.distinct(SyncJob.enrollment_id))).where(
                SyncJob.connection_id == conn, SyncJob.status.in_(OPEN_JOBS)
            )
        )
        or 0
    )
