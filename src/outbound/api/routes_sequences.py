"""Sequences, their steps and their Syncing tab."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import MISSING

from outbound.api.deps import BoxDep, CallerDep, DbDep, SessionDep, SettingsDep
from outbound.api.schemas import DbId, SequenceIn, SequenceOut, SequencePatch
from outbound.service import sequences
from outbound.service.sequences import AtsAccess, StepInput

router = APIRouter(tags=["sequences"])


@router.get("/sequences", response_model=list[SequenceOut])
def list_sequences(session: SessionDep, caller: CallerDep) -> object:
    return sequences.list_sequences(session, caller)


@router.post("/sequences", response_model=SequenceOut, status_code=201)
def create_sequence(
    body: SequenceIn, db: DbDep, caller: CallerDep, settings: SettingsDep, box: BoxDep
) -> object:
    """A job/project in `sync.job_id` is checked against the owner's ATS first."""
    steps = [StepInput(s.subject, s.body, s.delay_days) for s in body.steps]
    return sequences.save_new_sequence(
        db,
        caller,
        AtsAccess(settings, box),
        body.name,
        steps,
        body.sync.model_dump(exclude_unset=True),
        body.owner_id,
    )


@router.get("/sequences/{sequence_id}", response_model=SequenceOut)
def get_sequence(sequence_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    return sequences.get_sequence(session, caller, sequence_id)


@router.patch("/sequences/{sequence_id}", response_model=SequenceOut)
def patch_sequence(
    sequence_id: DbId,
    body: SequencePatch,
    db: DbDep,
    caller: CallerDep,
    settings: SettingsDep,
    box: BoxDep,
) -> object:
    """A new job/project in `sync.job_id` is checked against the owner's ATS first. Only the
    fields sent change; `null` is refused for all but `sync.record_type` and `sync.job_id`,
    which it clears."""
    steps = (
        None
        if body.steps is MISSING
        else [StepInput(s.subject, s.body, s.delay_days) for s in body.steps]
    )
    return sequences.save_sequence(
        db,
        caller,
        AtsAccess(settings, box),
        sequence_id,
        None if body.name is MISSING else body.name,
        steps,
        {} if body.sync is MISSING else body.sync.model_dump(exclude_unset=True),
    )


@router.delete("/sequences/{sequence_id}", status_code=204)
def delete_sequence(sequence_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    sequences.delete_sequence(session, caller, sequence_id)
