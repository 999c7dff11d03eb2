"""What every page of one sequence shares: the sequence with its owner's ATS connection (for
the tabs), the owner's credentials for calls to the ATS, and the error fragment htmx swaps in."""

from __future__ import annotations

import html
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from outbound.service import connections, sequences, work_state
from outbound.service.caller import Caller
from outbound.service.sequence_figures import FIGURE_NAMES, sequence_figures
from outbound.store.models import AtsConnection, Sequence
from outbound.web.session import current_caller


def owner_connection(session: Session, seq: Sequence) -> AtsConnection | None:
    conn = connections.get_connection(session, seq.owner_id)
    return None if conn is None or conn.disconnected_at is not None else conn


def sequence_context(
    session: Session, caller: Caller, sequence_id: int, summary: bool = True
) -> dict[str, Any]:
    """The sequence and its owner's connection; with ``summary``, its figures and its stuck or
    retrying work (what every tab shows above its content: each a grouped read of the whole
    sequence, which a one-row answer does without)."""
    seq = sequences.get_sequence(session, caller, sequence_id)
    conn = owner_connection(session, seq)
    context: dict[str, Any] = {
        "seq": seq,
        "conn": conn,
        "provider": conn.provider if conn else None,
    }
    if summary:
        figures = sequence_figures(session, caller.team_id, [seq.id])
        context["figures"] = figures.get(seq.id)
        context["figure_names"] = FIGURE_NAMES
        context["warnings"] = work_state.sequence_warnings(session, caller, seq.id)
    return context


def owner_credentials(
    request: Request, db: Any, box: Any, sequence_id: int
) -> tuple[str, dict[str, Any]] | None:
    """The sequence owner's ATS and credentials, read in a transaction of their own."""
    with db.read_session() as session:
        caller, _ = current_caller(request, session)
        conn = sequence_context(session, caller, sequence_id, summary=False)["conn"]
        return (conn.provider, box.open(conn.credentials_encrypted)) if conn else None


def alert(message: str, status: int, row: bool = False) -> HTMLResponse:
    """An error fragment for an htmx swap (escaped: messages can quote what was sent)."""
    text = f'<p class="error" role="alert">{html.escape(message)}</p>'
    return HTMLResponse(f'<tr><td colspan="5">{text}</td></tr>' if row else text, status)
