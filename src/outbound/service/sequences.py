"""Sequences, their steps and their Syncing tab.

The Syncing tab's job/project is checked against the sequence owner's ATS when it is saved
(``check_sync_job``): read what the call needs, close the session, ask the ATS, then write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.connectors.base import AtsError, AtsJob, AuthError, PermissionDenied
from outbound.connectors.registry import spec_of
from outbound.crypto import SecretBox
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service.ats_calls import call_ats
from outbound.service.caller import Caller
from outbound.service.errors import AtsRejected, Forbidden, Invalid, NotFound, ServiceError
from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.models import AtsConnection, Sequence, SequenceStep, User

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


def list_sequences(session: Session, caller: Caller) -> list[Sequence]:
    return list(
        session.scalars(
            select(Sequence).where(Sequence.team_id == caller.team_id).order_by(Sequence.id)
        )
    )


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
) -> Sequence:
    """Unchecked: callers that take a job/project from a person use ``save_new_sequence``."""
    owner = _owner_for_new(session, caller, owner_id)
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
