"""Sequences, their steps and their Syncing tab.

The Syncing tab's job/project is checked against the sequence owner's ATS when it is saved
(``check_sync_job``): read what the call needs, close the session, ask the ATS, then write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outbound.connectors.base import AtsError, AtsJob, AuthError, PermissionDenied
from outbound.connectors.registry import spec_of
from outbound.crypto import SecretBox
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.errors import (
    AtsRejected,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
)
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import (
    AtsConnection,
    Enrollment,
    OutboundEmail,
    Sequence,
    SequenceStep,
    User,
    utcnow,
)

JOB_FIELD = "sync.job_id"
ATS_TIMEOUT = 15.0


@dataclass
class StepInput:
    subject: str
    body: str
    delay_days: float = 0


def _check_steps(steps: list[StepInput]) -> None:
    # Follow-ups may leave the subject empty (they reply in the thread); the first cannot.
    if steps and not steps[0].subject.strip():
        raise Invalid("the first step needs a subject", "steps[0].subject")


def get_sequence(session: Session, caller: Caller, sequence_id: int) -> Sequence:
    seq = session.get(Sequence, sequence_id)
    if seq is None or seq.team_id != caller.team_id:
        raise NotFound(f"sequence {sequence_id} not found", "sequence_id")
    return seq


def _check_can_edit(caller: Caller, seq: Sequence) -> None:
    # Recruiters edit their own sequences; owners and managers edit any in the team.
    if seq.owner_id != caller.user_id and caller.role == "recruiter":
        raise Forbidden("only the sequence's owner, an owner or a manager can change it")


def list_sequences(
    session: Session, caller: Caller, include_archived: bool = False
) -> list[Sequence]:
    query = select(Sequence).where(Sequence.team_id == caller.team_id)
    if not include_archived:
        query = query.where(Sequence.archived_at.is_(None))
    return list(session.scalars(query.order_by(Sequence.id)))


def _owner_for_new(session: Session, caller: Caller, owner_id: int | None) -> int:
    if owner_id is None or owner_id == caller.user_id:
        return caller.user_id
    target = session.get(User, owner_id)
    if target is None or target.team_id != caller.team_id:
        raise NotFound(f"user {owner_id} not found", "owner_id")
    if caller.role == "recruiter":
        raise Forbidden("recruiters create sequences for themselves only", "owner_id")
    return owner_id


def create_sequence(
    session: Session,
    caller: Caller,
    name: str,
    steps: list[StepInput],
    sync: dict[str, Any],
    owner_id: int | None = None,
    create_token: str | None = None,
) -> Sequence:
    """Unchecked: callers that take a job/project from a person use ``save_new_sequence``.

    ``create_token`` is the form's one-time key: a second submit of the same form (a
    double-click, a resend) returns the sequence the first one created instead of another."""
    if create_token:
        earlier = created_with(session, caller, create_token)
        if earlier is not None:
            return earlier
    owner = _owner_for_new(session, caller, owner_id)
    _check_steps(steps)
    seq = Sequence(team_id=caller.team_id, owner_id=owner, name=name, create_token=create_token)
    _apply_sync(seq, sync)
    seq.steps = [
        SequenceStep(position=i, subject=s.subject, body=s.body, delay_days=s.delay_days)
        for i, s in enumerate(steps)
    ]
    try:
        with session.begin_nested():  # PostgreSQL: two submits at once meet on the unique key
            session.add(seq)
            session.flush()
    except IntegrityError:
        earlier = created_with(session, caller, create_token) if create_token else None
        if earlier is None:
            raise
        return earlier
    return seq


def created_with(session: Session, caller: Caller, create_token: str) -> Sequence | None:
    return session.scalar(
        select(Sequence).where(
            Sequence.create_token == create_token, Sequence.team_id == caller.team_id
        )
    )


def update_sequence(
    session: Session,
    caller: Caller,
    sequence_id: int,
    name: str | None,
    steps: list[StepInput] | None,
    sync: dict[str, Any],
) -> Sequence:
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    if name is not None:
        seq.name = name
    _apply_sync(seq, sync)
    if steps is not None:
        replace_steps(session, seq, steps)
    session.flush()
    return seq


def replace_steps(session: Session, seq: Sequence, steps: list[StepInput]) -> None:
    """Edit the steps in place (contacts keep their position); steps past the new end are
    deleted by the rule of ``delete_step``, so contacts waiting for them finish."""
    _check_steps(steps)
    for step, new in zip(seq.steps, steps, strict=False):
        step.subject, step.body, step.delay_days = new.subject, new.body, new.delay_days
    for position in range(len(seq.steps) - 1, len(steps) - 1, -1):
        _remove_step(session, seq, position)
    seq.steps.extend(
        SequenceStep(position=i, subject=s.subject, body=s.body, delay_days=s.delay_days)
        for i, s in enumerate(steps)
        if i >= len(seq.steps)
    )
    session.flush()


@dataclass(frozen=True)
class AtsAccess:
    """What asking the ATS needs: where it is (settings) and the key to the credentials."""

    settings: Settings
    box: SecretBox


def _job_check_error(provider: str, exc: AtsError) -> ServiceError:
    """A failure to list the jobs/projects, as an error on the job field."""
    title = PROVIDER_TITLES[provider]
    word = spec_of(provider).job_word.lower()
    if isinstance(exc, AuthError):
        return AtsRejected(
            f"{title} rejected the saved credentials ({exc.status_code}), so the {word} could "
            f"not be checked: reconnect {title}, then save again.",
            JOB_FIELD,
        )
    if isinstance(exc, PermissionDenied):
        return AtsRejected(
            f"{title} does not allow this API key to list {word}s ({exc.call}, 403), so the "
            f"{word} could not be checked. Ask your {title} administrator for that permission.",
            JOB_FIELD,
        )
    return ServiceError(
        f"{title} could not be reached to check the {word} ({exc.message}): try again.",
        JOB_FIELD,
    )


def _list_jobs(provider: str, credentials: dict[str, Any], settings: Settings) -> list[AtsJob]:
    """The ATS's jobs/projects, with every failure turned into an error on the job field."""
    return call_ats(
        provider,
        credentials,
        settings,
        lambda c: c.list_jobs(),
        timeout=ATS_TIMEOUT,
        explain=_job_check_error,
    )


def check_sync_job(
    db: Database,
    caller: Caller,
    ats: AtsAccess,
    sync: dict[str, Any],
    *,
    sequence_id: int | None = None,
    owner_id: int | None = None,
) -> str | None:
    """Check the job/project being saved on a sequence against its owner's ATS.

    Returns the job id as the ATS spells it, or None when there is nothing to check (no job
    chosen, or the sequence keeps the one it has). Raises an error on ``sync.job_id`` for a job
    the ATS does not have, no ATS connected, or an ATS that cannot be asked. The ATS is called
    with no database session open.
    """
    job_id = sync.get("job_id")
    if not job_id:
        return None
    with db.session() as session:
        if sequence_id is not None:
            seq = get_sequence(session, caller, sequence_id)
            _check_can_edit(caller, seq)
            if seq.job_id == job_id:
                return None  # unchanged: checked when it was chosen
            owner = seq.owner_id
        else:
            owner = _owner_for_new(session, caller, owner_id)
        conn = session.scalar(select(AtsConnection).where(AtsConnection.user_id == owner))
        if conn is None or conn.disconnected_at is not None:
            whose = "you have" if owner == caller.user_id else "the sequence's owner has"
            raise Invalid(
                f"{whose} no ATS connected: a job or project is checked against the ATS, "
                "so connect Crelate or Clockwork first",
                JOB_FIELD,
            )
        provider, credentials = conn.provider, ats.box.open(conn.credentials_encrypted)
    # The session is closed: the ATS is asked outside any database transaction.
    jobs = _list_jobs(provider, credentials, ats.settings)
    match = next((j for j in jobs if j.id.lower() == str(job_id).strip().lower()), None)
    if match is None:
        title = PROVIDER_TITLES[provider]
        word = spec_of(provider).job_word.lower()
        raise Invalid(
            f'{title} has no {word} "{job_id}" (deleted, or not visible to your API key): '
            f"choose one of the {word}s {title} lists",
            JOB_FIELD,
        )
    return match.id


def save_new_sequence(
    db: Database,
    caller: Caller,
    ats: AtsAccess,
    name: str,
    steps: list[StepInput],
    sync: dict[str, Any],
    owner_id: int | None = None,
) -> Sequence:
    """Create a sequence whose job/project is checked against the ATS first."""
    job_id = check_sync_job(db, caller, ats, sync, owner_id=owner_id)
    if job_id is not None:
        sync = {**sync, "job_id": job_id}
    with db.session() as session:
        return create_sequence(session, caller, name, steps, sync, owner_id)


def save_sequence(
    db: Database,
    caller: Caller,
    ats: AtsAccess,
    sequence_id: int,
    name: str | None,
    steps: list[StepInput] | None,
    sync: dict[str, Any],
) -> Sequence:
    """Update a sequence; a new job/project is checked against the ATS first."""
    job_id = check_sync_job(db, caller, ats, sync, sequence_id=sequence_id)
    if job_id is not None:
        sync = {**sync, "job_id": job_id}
    with db.session() as session:
        return update_sequence(session, caller, sequence_id, name, steps, sync)


def delete_sequence(session: Session, caller: Caller, sequence_id: int) -> None:
    """Its contacts, their mail not yet sent and their pending syncs go with it (the database
    cascades); what already reached the ATS stays there."""
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    session.delete(seq)


# -- rename and archive ------------------------------------------------------------------
def rename_sequence(session: Session, caller: Caller, sequence_id: int, name: str) -> Sequence:
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    if not name.strip():
        raise Invalid("give the sequence a name", "name")
    seq.name = name.strip()
    session.flush()
    return seq


def set_archived(session: Session, caller: Caller, sequence_id: int, archived: bool) -> Sequence:
    """Archived: hidden from the list and nothing more sent (emails waiting to go out are
    cancelled). Unarchived: its active contacts are due again, each at its next step."""
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    if archived == (seq.archived_at is not None):
        return seq
    if archived:
        seq.archived_at = utcnow()
        # Written, unsent emails are cancelled and their contacts keep the moment they were
        # due; the planner plans nothing for an archived sequence. Unarchived, each contact's
        # next step goes when it was due (no sooner: the step delays hold).
        _replan(session, seq, list(range(len(seq.steps))))
    else:
        seq.archived_at = None
    session.flush()
    return seq


def _ids(seq: Sequence) -> Any:
    return select(Enrollment.id).where(Enrollment.sequence_id == seq.id).scalar_subquery()


# -- reordering and deleting steps, and what they do to contacts mid-sequence --------------
# A contact holds the position of its next step (Enrollment.next_step). The rules:
# - deleting step p: contacts past it move back one (they keep their place); contacts waiting
#   for it get the step after it, when it was due; what was sent is not unsent.
# - swapping steps p and p+1: contacts before p get the new order; contacts who had step p but
#   not p+1 would get step p again, so they skip to p+2 (never the same email twice).
# Emails written but not yet handed to the mail server for the steps that move are cancelled and
# their contacts made due again when they were: the planner writes them anew from the new order.


@dataclass(frozen=True)
class StepImpact:
    """Per step position: how many contacts had it, how many are waiting for it."""

    received: int
    waiting: int


def step_impacts(session: Session, seq: Sequence) -> list[StepImpact]:
    """One grouped query: contacts by the position of their next step."""
    waiting = case((Enrollment.state.in_(("active", "paused")), 1), else_=0)
    rows = session.execute(
        select(Enrollment.next_step, func.count(), func.sum(waiting))
        .where(Enrollment.sequence_id == seq.id)
        .group_by(Enrollment.next_step)
    ).all()
    at = {int(pos): (int(total), int(wait or 0)) for pos, total, wait in rows}
    return [
        StepImpact(
            received=sum(total for pos, (total, _) in at.items() if pos > p),
            waiting=at.get(p, (0, 0))[1],
        )
        for p in range(len(seq.steps))
    ]


def _step(seq: Sequence, position: int) -> SequenceStep:
    if not 0 <= position < len(seq.steps):
        raise NotFound(f"step {position + 1} not found", "position")
    return seq.steps[position]


def _replan(session: Session, seq: Sequence, positions: list[int]) -> None:
    """Cancel the written, unsent emails of these steps; their contacts fall due again when
    those emails were to go."""
    queued = (
        select(func.min(OutboundEmail.run_after))
        .where(
            OutboundEmail.enrollment_id == Enrollment.id,
            OutboundEmail.status == "queued",
            OutboundEmail.step_position.in_(positions),
        )
        .scalar_subquery()
    )
    session.execute(
        update(Enrollment)
        .where(Enrollment.sequence_id == seq.id, queued.is_not(None))
        .values(next_send_at=queued)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboundEmail)
        .where(
            OutboundEmail.status == "queued",
            OutboundEmail.step_position.in_(positions),
            OutboundEmail.enrollment_id.in_(_ids(seq)),
        )
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def _check_step(seq: Sequence, position: int, step_id: int | None) -> None:
    """The step the person confirmed is still at this position (a resent form, a teammate's
    change meanwhile, a client's retry would otherwise act on another step)."""
    step = _step(seq, position)
    if step_id is not None and step.id != step_id:
        raise Conflict(
            "the steps changed since this page was opened: nothing was changed; reload it",
            "position",
        )


def _check_not_sending(session: Session, seq: Sequence, positions: list[int]) -> None:
    """An email of these steps being handed to the mail server (or unsure whether it went)
    moves its contact on when it settles: shifting positions under it could send a step twice."""
    busy = session.scalar(
        select(OutboundEmail.id)
        .where(
            OutboundEmail.enrollment_id.in_(_ids(seq)),
            OutboundEmail.status.in_(("sending", "uncertain")),
            OutboundEmail.step_position.in_(positions),
        )
        .limit(1)
    )
    if busy is not None:
        raise Conflict(
            "an email of these steps is being sent or waits for a look (unsure whether it "
            "went): try again in a minute, or resolve it on the contact first",
            "position",
        )


def _remove_step(session: Session, seq: Sequence, position: int) -> None:
    _replan(session, seq, list(range(position, len(seq.steps))))
    session.execute(
        update(Enrollment)
        .where(Enrollment.sequence_id == seq.id, Enrollment.next_step > position)
        .values(next_step=Enrollment.next_step - 1)
        .execution_options(synchronize_session=False)
    )
    step = seq.steps.pop(position)
    session.delete(step)
    session.flush()
    for later in seq.steps[position:]:
        later.position -= 1
        session.flush()  # one at a time: (sequence_id, position) is unique


def delete_step(
    session: Session,
    caller: Caller,
    sequence_id: int,
    position: int,
    step_id: int | None = None,
) -> Sequence:
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    _check_step(seq, position, step_id)
    _check_not_sending(session, seq, list(range(position, len(seq.steps))))
    if position == 0 and len(seq.steps) > 1 and not seq.steps[1].subject.strip():
        raise Invalid(
            "step 2 would become the first step and has no subject: give it one first",
            "position",
        )
    _remove_step(session, seq, position)
    session.expire_all()
    return get_sequence(session, caller, sequence_id)


def move_step(
    session: Session,
    caller: Caller,
    sequence_id: int,
    position: int,
    direction: str,
    step_id: int | None = None,
) -> Sequence:
    """Swap a step with the one before ("up") or after ("down") it."""
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    if direction not in ("up", "down"):
        raise Invalid('direction must be "up" or "down"', "direction")
    first = position - 1 if direction == "up" else position
    _check_step(seq, position, step_id)
    if first < 0 or first + 1 >= len(seq.steps):
        raise Invalid(f"step {position + 1} cannot move {direction}", "direction")
    _check_not_sending(session, seq, [first, first + 1])
    a, b = seq.steps[first], seq.steps[first + 1]
    if first == 0 and not b.subject.strip():
        raise Invalid(
            f"step {first + 2} has no subject and cannot become the first step: give it one",
            "direction",
        )
    _replan(session, seq, [first, first + 1])
    session.execute(
        update(Enrollment)
        .where(Enrollment.sequence_id == seq.id, Enrollment.next_step == first + 1)
        .values(next_step=first + 2)
        .execution_options(synchronize_session=False)
    )
    a.position = -1
    session.flush()
    b.position = first
    session.flush()
    a.position = first + 1
    session.flush()
    session.expire_all()
    return get_sequence(session, caller, sequence_id)


def _apply_sync(seq: Sequence, sync: dict[str, Any]) -> None:
    # Only fields the caller sent; an explicit null clears an override.
    flags = ("sync_enabled", "tracking_enabled", "unsubscribe_link")
    for key in ("record_type", "job_id", *flags):
        if key in sync:
            value = sync[key]
            if key in flags and value is None:
                continue
            setattr(seq, key, value)
