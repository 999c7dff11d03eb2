"""The dashboard a team lead looks at: each connection's one status, the team's work in
contacts (waiting, retrying, can't sync, with where each is fixed) and mail per day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from outbound.api.deps import DbDep
from outbound.service.work_state import team_work
from outbound.store.models import ActivityEvent, utcnow
from outbound.web.render import page
from outbound.web.session import current_caller

router = APIRouter(include_in_schema=False)
CHART_DAYS = 14


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
            work=team_work(session, caller),
            days=days,
            peak=peak,
            totals={k: sum(d[k] for d in days) for k in ("sent", "replied")},
        )
