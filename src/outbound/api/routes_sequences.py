"""Sequences, their steps and their Syncing tab."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import MISSING

from outbound.api.deps import BoxDep, CallerDep, DbDep, SessionDep, SettingsDep
from outbound.api.schemas import (
    MAX_ID,
    DbId,
    SequenceIn,
    SequenceLifecyclePatch,
    SequenceStateOut,
    StepMoveIn,
)
from outbound.service import sequences
from outbound.service.sequences import AtsAccess, StepInput

router = APIRouter(tags=["sequences"])


@router.get("/sequences", response_model=list[SequenceStateOut])
def list_sequences(
    session: SessionDep, caller: CallerDep, include_archived: bool = False
) -> object:
    """Archived sequences are left out unless `include_archived=true`."""
    return sequences.list_sequences(session, caller, include_archived)


@router.post("/sequences", response_model=SequenceStateOut, status_code=201)
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


@router.get("/sequences/{sequence_id}", response_model=SequenceStateOut)
def get_sequence(sequence_id: DbId, session: SessionDep, caller: CallerDep) -> object:
    return sequences.get_sequence(session, caller, sequence_id)


@router.patch("/sequences/{sequence_id}", response_model=SequenceStateOut)
def patch_sequence(
    sequence_id: DbId,
    body: SequenceLifecyclePatch,
    db: DbDep,
    caller: CallerDep,
    settings: SettingsDep,
    box: BoxDep,
) -> object:
    """A new job/project in `sync.job_id` is checked against the owner's ATS first. Only the
    fields sent change; `null` is refused for all but `sync.record_type` and `sync.job_id`,
    which it clears. `steps` edits the steps in place: contacts keep their position, and
    those waiting for a step past the new end finish. `archived` hides the sequence and
    stops its mail (true) or lets it carry on (false)."""
    steps = (
        None
        if body.steps is MISSING
        else [StepInput(s.subject, s.body, s.delay_days) for s in body.steps]
    )
    seq = sequences.save_sequence(
        db,
        caller,
        AtsAccess(settings, box),
        sequence_id,
        None if body.name is MISSING else body.name,
        steps,
        {} if body.sync is MISSING else body.sync.model_dump(exclude_unset=True),
    )
    if body.archived is not MISSING:
        with db.session() as session:
            seq = sequences.set_archived(session, caller, sequence_id, body.archived)
    return seq


@router.delete("/sequences/{sequence_id}", status_code=204)
def delete_sequence(sequence_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    """Its contacts and their unsent mail go with it; what reached the ATS stays there."""
    sequences.delete_sequence(session, caller, sequence_id)


# The step a client means, so that a retry or a stale page never acts on another one.
StepIdQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="The step's id: refused (409) if another is there"),
]


@router.post("/sequences/{sequence_id}/steps/{position}/move", response_model=SequenceStateOut)
def move_step(
    sequence_id: DbId,
    position: int,
    body: StepMoveIn,
    session: SessionDep,
    caller: CallerDep,
    step_id: StepIdQuery = None,
) -> object:
    """`position` counts from 0. 409 while an email of the two steps is being sent."""
    return sequences.move_step(session, caller, sequence_id, position, body.direction, step_id)


@router.delete("/sequences/{sequence_id}/steps/{position}", response_model=SequenceStateOut)
def delete_step(
    sequence_id: DbId,
    position: int,
    session: SessionDep,
    caller: CallerDep,
    step_id: StepIdQuery = None,
) -> object:
    """`position` counts from 0. Contacts who had it keep their place; contacts waiting for it
    get the step after it; nothing sent is unsent. A retry should send `step_id`."""
    return sequences.delete_step(session, caller, sequence_id, position, step_id)
