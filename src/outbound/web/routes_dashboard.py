"""The dashboard a team lead looks at: sync health per connection and mail per day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select
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


def connection_health(session: Session, team_id: int) -> list[dict[str, Any]]:
    hour_ago = utcnow() - timedelta(hours=1)
    rows = []
    conns = session.execute(
        select(AtsConnection, User)
        .join(User, User.id == AtsConnection.user_id)
        .where(AtsConnection.team_id == team_id, AtsConnection.disconnected_at.is_(None))
        .order_by(User.name)
    ).all()
    for conn, user in conns:
        by_state = dict(
            session.execute(
                select(Enrollment.sync_state, func.count(Enrollment.id))
                .join(Sequence, Sequence.id == Enrollment.sequence_id)
                .where(Sequence.owner_id == user.id)
                .group_by(Enrollment.sync_state)
            ).all()
        )
        open_jobs = session.scalar(
            select(func.count(SyncJob.id)).where(
                SyncJob.connection_id == conn.id, SyncJob.status.in_(("pending", "running"))
            )
        )
        throttled = session.scalar(
            select(func.count(SyncCall.id))
            .join(SyncJob, SyncJob.id == SyncCall.job_id)
            .where(
                SyncJob.connection_id == conn.id,
                SyncCall.status_code == 429,
                SyncCall.at >= hour_ago,
            )
        )
        rows.append(
            {
                "conn": conn,
                "user": user,
                "synced": by_state.get("synced", 0),
                "pending": open_jobs or 0,
                "failing": by_state.get("failed", 0),
                "throttled": throttled or 0,
            }
        )
    return rows


def mail_per_day(session: Session, team_id: int) -> list[dict[str, Any]]:
    since = (utcnow() - timedelta(days=CHART_DAYS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    day = func.date(ActivityEvent.occurred_at)
    counts = {
        (str(d), kind): n
        for d, kind, n in session.execute(
            select(day, ActivityEvent.kind, func.count(ActivityEvent.id))
            .where(
                ActivityEvent.team_id == team_id,
                ActivityEvent.occurred_at >= since,
                ActivityEvent.kind.in_(("sent", "replied")),
            )
            .group_by(day, ActivityEvent.kind)
        ).all()
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
