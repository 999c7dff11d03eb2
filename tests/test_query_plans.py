"""Every hot query reads an index, not its whole table (issue 15), on the engine under test.

Each test takes the statement the code runs from the function that builds it (never a copy of
its SQL), asks the database for its plan (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (FORMAT
JSON)`` on PostgreSQL) and checks how each big table is read: through the expected index, with
a search condition. A full scan, of the table or of a whole index, fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ClauseElement, Executable, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from outbound.mail import inbound, planner
from outbound.service import work_state
from outbound.store.job_counts import job_count_statement
from outbound.store.models import AtsConnection, Mailbox, Team, User, utcnow
from outbound.web import routes_dashboard
from tests.conftest import database_url
from tests.seeding import planned_session


class Explain(Executable, ClauseElement):
    """The plan of a statement, compiled with its own parameters as the code would run it."""

    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + compiler.process(element.statement, **kw)


@compiles(Explain, "postgresql")
def _explain_postgresql(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


@dataclass(frozen=True)
class Access:
    """How the plan reads one table (or one index): ``searched`` when a condition narrows it."""

    table: str | None
    index: str | None
    searched: bool
    text: str


SQLITE_ACCESS = re.compile(
    r"^(SCAN|SEARCH) (\w+)(?: AS \w+)?"
    r"(?: USING (?:COVERING INDEX (\w+)|INDEX (\w+)|(INTEGER PRIMARY KEY|PRIMARY KEY)))?"
)


def _sqlite_accesses(rows: list[Any]) -> list[Access]:
    out = []
    for row in rows:
        detail = str(row[-1])
        match = SQLITE_ACCESS.match(detail)
        if match:
            verb, table, covering, index, pk = match.groups()
            # An AUTOMATIC index is built for the query by reading the whole table.
            searched = verb == "SEARCH" and "AUTOMATIC" not in detail
            out.append(Access(table, covering or index or pk, searched, detail))
    return out


def _pg_accesses(node: dict[str, Any]) -> Iterator[Access]:
    kind = node["Node Type"]
    if "Relation Name" in node or "Index Name" in node:
        cond = node.get("Index Cond") or node.get("Recheck Cond")
        searched = kind != "Seq Scan" and cond is not None
        yield Access(node.get("Relation Name"), node.get("Index Name"), searched, f"{kind} {node}")
    for child in node.get("Plans", []):
        yield from _pg_accesses(child)


def plan_of(session: Session, statement: ClauseElement) -> list[Access]:
    rows = session.execute(Explain(statement)).all()
    if session.get_bind().dialect.name == "postgresql":
        return list(_pg_accesses(rows[0][0][0]["Plan"]))
    return _sqlite_accesses(list(rows))


def assert_reads(plan: list[Access], table: str, index: str | None = None) -> None:
    """Every read of ``table`` is narrowed by a condition, through ``index`` when named."""
    on_table = [a for a in plan if a.table == table]
    # PostgreSQL's bitmap scans name the index on a node of their own, without the table.
    through = [a for a in plan if index is not None and a.index == index]
    assert on_table or through, f"{table} is not read at all: {plan}"
    assert all(a.searched for a in on_table), f"{table} is scanned whole: {plan}"
    if index is not None:
        assert through and all(a.searched for a in through), f"{table} not through {index}: {plan}"


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with planned_session(database_url(tmp_path)) as s:
        yield s


def _mailbox(session: Session) -> Mailbox:
    mb = session.scalars(select(Mailbox).order_by(Mailbox.id)).first()
    assert mb is not None
    return mb


# -- the mail planner ------------------------------------------------------------------------
def test_next_due_reads_due_contacts_and_probes_each_ones_duplicate_check(
    session: Session,
) -> None:
    plan = plan_of(session, planner.next_due_statement(_mailbox(session), utcnow(), 50))
    assert_reads(plan, "enrollments", "ix_enrollments_next_send_at")
    assert_reads(plan, "sync_jobs", "ix_sync_jobs_enrollment")


def test_the_daily_limit_counts_todays_emails_of_one_mailbox(session: Session) -> None:
    mb = _mailbox(session)
    day_start = planner.window_of(mb).local_day_start(utcnow())
    plan = plan_of(session, planner.sent_today_statement(mb.id, day_start))
    assert_reads(plan, "outbound_emails", "ix_outbound_emails_mailbox_day")


def test_ended_pauses_are_found_through_their_index(session: Session) -> None:
    plan = plan_of(session, planner.resume_paused_statement(utcnow()))
    assert_reads(plan, "enrollments", "ix_enrollments_paused")


# -- inbound matching ------------------------------------------------------------------------
def test_a_reply_is_matched_by_message_id_through_the_unique_index(session: Session) -> None:
    mb = _mailbox(session)
    ids = inbound.thread_ids("<m3-00@x.test>", "<m1-00@x.test> <m2-00@x.test>")
    assert_reads(plan_of(session, inbound.our_email_statement(mb.team_id, ids)), "outbound_emails")


def test_a_reply_is_matched_by_address_through_its_index(session: Session) -> None:
    plan = plan_of(session, inbound.by_address_statement(_mailbox(session).id, "P7-00@y.test"))
    assert_reads(plan, "outbound_emails", "ix_outbound_emails_mailbox_to")


# -- /metrics --------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["pending", "running", "failed", "done", "cancelled"])
def test_metrics_count_each_job_state_on_the_status_index(session: Session, status: str) -> None:
    assert_reads(plan_of(session, job_count_statement(status)), "sync_jobs", "ix_sync_jobs_claim")


# -- the dashboard ---------------------------------------------------------------------------
def _team_ids(session: Session) -> tuple[int, list[int], list[int]]:
    team_id = session.scalars(select(Team.id).order_by(Team.id)).first()
    assert team_id is not None
    users = list(session.scalars(select(User.id).where(User.team_id == team_id)))
    conns = list(session.scalars(select(AtsConnection.id).where(AtsConnection.team_id == team_id)))
    return team_id, users, conns


def test_dashboard_counts_open_jobs_per_connection_through_its_index(session: Session) -> None:
    team_id, _, conns = _team_ids(session)
    plan = plan_of(session, work_state.open_jobs_statement(team_id, conns))
    assert_reads(plan, "sync_jobs", "ix_sync_jobs_connection")


def test_dashboard_reads_only_the_last_hours_429s(session: Session) -> None:
    _, _, conns = _team_ids(session)
    since = utcnow() - timedelta(hours=1)
    plan = plan_of(session, work_state.throttled_statement(conns, since))
    assert_reads(plan, "sync_calls", "ix_sync_calls_status_at")
    assert_reads(plan, "sync_jobs")


def test_dashboard_reads_only_the_charts_two_weeks(session: Session) -> None:
    team_id, _, _ = _team_ids(session)
    since = utcnow() - timedelta(days=routes_dashboard.CHART_DAYS)
    plan = plan_of(session, routes_dashboard.mail_per_day_statement(team_id, since))
    assert_reads(plan, "activity_events", "ix_activity_events_team_day")


def test_dashboard_counts_contacts_of_the_teams_sequences_only(session: Session) -> None:
    team_id, _, _ = _team_ids(session)
    plan = plan_of(session, work_state.enrollment_counts_statement(team_id))
    assert_reads(plan, "enrollments")
    plan = plan_of(session, work_state.sequences_statement(team_id))
    assert_reads(plan, "sequences")
