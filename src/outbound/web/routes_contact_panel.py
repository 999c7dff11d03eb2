"""One contact opened: the timeline of what happened, in the ATS and by email."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from outbound.api.deps import DbDep
from outbound.service import enrollments, outreach
from outbound.service import timeline as timelines
from outbound.web.render import templates
from outbound.web.session import check_csrf, current_caller

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]


@router.get("/enrollments/{eid}/timeline")
def timeline(
    eid: int, request: Request, db: DbDep, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """The contact's timeline with its latest ATS calls; with ``before``, only the page of
    calls before that one ("Show earlier")."""
    with db.session() as session:
        caller, _ = current_caller(request, session)
        calls = timelines.timeline_page(session, caller, eid, timelines.PAGE_SIZE, before)
        context: dict[str, Any] = {
            "calls": calls.calls,
            "next_before": calls.next_before,
            "eid": eid,
        }
        if before is not None:
            return templates.TemplateResponse(request, "_timeline_calls.html", context)
        e = enrollments.get_enrollment(session, caller, eid)
        context |= {
            "summaries": timelines.summaries_of(session, e),
            "emails": outreach.emails_of(session, caller, eid),
            "written": enrollments.written_effects(session, caller, eid),
        }
        return templates.TemplateResponse(request, "_timeline.html", context)
