"""Sequences, their steps and their Syncing tab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.service.caller import Caller
from outbound.service.errors import Forbidden, Invalid, NotFound
from outbound.store.models import Sequence, SequenceStep, User


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


def list_sequences(session: Session, caller: Caller) -> list[Sequence]:
    return list(
        session.scalars(
            select(Sequence).where(Sequence.team_id == caller.team_id).order_by(Sequence.id)
        )
    )


def create_sequence(
    session: Session,
    caller: Caller,
    name: str,
    steps: list[StepInput],
    sync: dict[str, Any],
    owner_id: int | None = None,
) -> Sequence:
    owner = caller.user_id
    if owner_id is not None and owner_id != caller.user_id:
        target = session.get(User, owner_id)
        if target is None or target.team_id != caller.team_id:
            raise NotFound(f"user {owner_id} not found", "owner_id")
        if caller.role == "recruiter":
            raise Forbidden("recruiters create sequences for themselves only", "owner_id")
        owner = owner_id
    _check_steps(steps)
    seq = Sequence(team_id=caller.team_id, owner_id=owner, name=name)
    _apply_sync(seq, sync)
    seq.steps = [
        SequenceStep(position=i, subject=s.subject, body=s.body, delay_days=s.delay_days)
        for i, s in enumerate(steps)
    ]
    session.add(seq)
    session.flush()
    return seq


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
        _check_steps(steps)
        seq.steps.clear()
        session.flush()
        seq.steps.extend(
            SequenceStep(position=i, subject=s.subject, body=s.body, delay_days=s.delay_days)
            for i, s in enumerate(steps)
        )
    session.flush()
    return seq


def delete_sequence(session: Session, caller: Caller, sequence_id: int) -> None:
    seq = get_sequence(session, caller, sequence_id)
    _check_can_edit(caller, seq)
    session.delete(seq)


def _apply_sync(seq: Sequence, sync: dict[str, Any]) -> None:
    # Only fields the caller sent; an explicit null clears an override.
    flags = ("sync_enabled", "tracking_enabled", "unsubscribe_link")
    for key in ("record_type", "job_id", *flags):
        if key in sync:
            value = sync[key]
            if key in flags and value is None:
                continue
            setattr(seq, key, value)
