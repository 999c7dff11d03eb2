"""The dashboard a team lead looks at: sync health per connection and mail per day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from outbound.api.deps import DbDep
from outbound.store.models import (
    ActivityEvent,
    AtsConnection,
    Enrollment,
    Sequence,
    SyncCall,
    SyncJob,
    User,
    utcnow,
)
from outbound.web.render import page
from outbound.web.session import current_caller

router = APIRouter(include_in_schema=False)
CHART_DAYS = 14


def sync_states_statement(owner_ids: list[int]) -> Select[int, str, int]:
    """Contacts per sync state of each owner's sequences, in one query for the page."""
    return (
        select(Sequence.owner_id, Enrollment.sync_state, func.count(Enrollment.id))
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(Sequence.owner_id.in_(owner_ids))
        .group_by(Sequence.owner_id, Enrollment.sync_state)
    )


def open_jobs_statement(connection_ids: list[int]) -> Select[int, int]:
    """Jobs waiting or running per connection (ix_sync_jobs_connection)."""
    return (
        select(SyncJob.connection_id, func.count(SyncJob.id))
        .where(
            SyncJob.connection_id.in_(connection_ids), SyncJob.status.in_(("pending", "running"))
        )
        .group_by(SyncJob.connection_id)
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


def connection_health(session: Session, team_id: int) -> list[dict[str, Any]]:
    """One row per connected teammate, from four queries whatever the number of rows."""
    conns = session.execute(
        select(AtsConnection, User)
        .join(User, User.id == AtsConnection.user_id)
        .where(AtsConnection.team_id == team_id, AtsConnection.disconnected_at.is_(None))
        .order_by(User.name)
    ).all()
    if not conns:
        return []
    owner_ids = [user.id for _, user in conns]
    conn_ids = [conn.id for conn, _ in conns]
    by_state: dict[tuple[int, str], int] = {
        (owner, state): n for owner, state, n in session.execute(sync_states_statement(owner_ids))
    }
    open_jobs = dict(session.execute(open_jobs_statement(conn_ids)).tuples().all())
    hour_ago = utcnow() - timedelta(hours=1)
    throttled = dict(session.execute(throttled_statement(conn_ids, hour_ago)).tuples().all())
    return [
        {
            "conn": conn,
            "user": user,
            "synced": by_state.get((user.id, "synced"), 0),
            "pending": open_jobs.get(conn.id, 0),
            "failing": by_state.get((user.id, "failed"), 0),
            "throttled": throttled.get(conn.id, 0),
        }
        for conn, user in conns
    ]


def mail_per_day_statement(team_id: int, since: datetime) -> Select[Any, str, int]:
    """The team's sends and replies per day since then (ix_activity_events_team_day)."""
    day = func.date(ActivityEvent.occurred_at)
    return (
        select(day, ActivityEvent.kind, func.count(ActivityEvent.id))
        .where(
            ActivityEvent.team_id == team_id,
            ActivityEvent.occurred_at >= since,
            ActivityEvent.kind.in_(("sent", "replied")),
        )
        .group_by(day, ActivityEvent.kind)
    )


def mail_per_day(session: Session, team_id: int) -> list[dict[str, Any]]:
    since = (utcnow() - timedelta(days=CHART_DAYS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    counts = {
        (str(d), kind): n
        for d, kind, n in session.execute(mail_per_day_statement(team_id, since)).all()
    }
    out = []
    for i in range(CHART_DAYS):
        d = (since + timedelta(days=i)).date().isoformat()
        out.append(
            {"day": d, "sent": counts.get((d, "sent"), 0), "replied": counts.get((d, "replied"), 0)}
        )
    return out


@router.get("/")
def dashboard(request: Request, db: DbDep) -> Response:
    with db.session() as session:
        caller, user = current_caller(request, session)
        days = mail_per_day(session, caller.team_id)
        peak = max([1] + [d["sent"] for d in days] + [d["replied"] for d in days])
        return page(
            request,
            "dashboard.html",
            user=user,
            nav="dashboard",
            health=connection_health(session, caller.team_id),
            days=days,
            peak=peak,
            totals={k: sum(d[k] for d in days) for k in ("sent", "replied")},
        )
