"""What every page of one sequence shares: the sequence with its owner's ATS connection (for
the tabs), the owner's credentials for calls to the ATS, and the error fragment htmx swaps in."""

from __future__ import annotations

import html
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from outbound.service import connections, contact_list, sequences, work_state
from outbound.service.caller import Caller
from outbound.service.sequence_figures import FIGURE_NAMES, figures_of, sequence_groups
from outbound.store.models import AtsConnection, Sequence
from outbound.web.session import current_caller


def owner_connection(session: Session, seq: Sequence) -> AtsConnection | None:
    conn = connections.get_connection(session, seq.owner_id)
    return None if conn is None or conn.disconnected_at is not None else conn


def sequence_context(
    session: Session, caller: Caller, sequence_id: int, summary: bool = True
) -> dict[str, Any]:
    """The sequence and its owner's connection; with ``summary``, its figures and its stuck or
    retrying work (what every tab shows above its content; the contacts page loads them after
    its rows, see `sequence_summary`)."""
    seq = sequences.get_sequence(session, caller, sequence_id)
    conn = owner_connection(session, seq)
    context: dict[str, Any] = {
        "seq": seq,
        "conn": conn,
        "provider": conn.provider if conn else None,
    }
    if summary:
        context.update(sequence_summary(session, caller, seq.id))
    return context


def sequence_summary(session: Session, caller: Caller, sequence_id: int) -> dict[str, Any]:
    """Its figures, its warnings and its status tabs' counts, from one grouped read of its
    enrollments (three reads of every contact before, the slow part of a 100,000-contact
    page)."""
    groups = sequence_groups(session, caller.team_id, sequence_id)
    return {
        "figures": figures_of(groups),
        "figure_names": FIGURE_NAMES,
        "warnings": work_state.sequence_warnings(session, caller, sequence_id, groups),
        "tab_counts": contact_list.tab_counts_of(groups),
    }


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
