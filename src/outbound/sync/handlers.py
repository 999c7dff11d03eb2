"""What each kind of job does against the ATS. Exactly-once rules live here:

- look up before creating; write an intent before a create so a retry knows the record may be
  ours; save the remote id the moment a create succeeds;
- attachments and logged events are remembered on the link; after an uncertain failure the
  ATS is asked (is the contact on the job? is our marker in its activity?) before writing again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from outbound.connectors.base import (
    ActivityInput,
    AtsPerson,
    AtsStage,
    Connector,
    DuplicateRecord,
    NotFoundError,
    PermanentError,
)
from outbound.connectors.registry import spec_of
from outbound.domain.field_mapping import mapped_values, values_to_write
from outbound.domain.sync_rules import exists_error, off_limits_reason
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.service.ats_records import full_name, person_input, tag_titles
from outbound.service.contact_state import CREATE_EFFECT, ContactState, load_state
from outbound.store.db import Database
from outbound.store.group_commit import GroupCommit
from outbound.sync import state as st
from outbound.sync.claims import ClaimedJob

Fact = Callable[[Session], None]


@dataclass
class Preload:
    """What the worker read for a job with its claimed batch: the contact's state and, for a
    log-activity job, its event (each a list of at most one, taken by the first look)."""

    state: list[ContactState | None] = field(default_factory=list)
    event: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass
class JobRun:
    """One job's run. Facts it learns (a write done, a link learnt, a contact marked) wait in
    ``pending`` and commit with the next transaction the job opens anyway: the next write's
    intent, or the job's settle (sync/worker.py). A job commits once per ATS write plus once
    at the end, not once per fact. Should that transaction fail, its facts are dropped, not
    retried: each write's intent is still in the ledger, so the retry asks the ATS before
    writing again (never a second write)."""

    db: Database
    job: ClaimedJob
    connector: Connector
    # Shared by the worker's jobs: their writes commit together (store/group_commit.py).
    commits: GroupCommit | None = None
    pending: list[Fact] = field(default_factory=list)
    # What was read with the claimed batch (sync/worker.py): the job's first look takes it,
    # any later look reads afresh.
    preload: Preload = field(default_factory=Preload)

    async def db_call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.db.in_thread(fn, self.db, *args, **kwargs)

    async def contact_state(self) -> ContactState | None:
        """What Outbound knows of the job's contact (None: the contact or its enrollment is
        gone). No other job for this person and organisation runs meanwhile (the claim
        serialises them), so the batch's read is as fresh as one made now."""
        if self.preload.state:
            return self.preload.state.pop()
        job = self.job
        assert job.contact_id is not None
        return await self.db_call(load_state, job.connection_id, job.contact_id, job.enrollment_id)

    async def event(self) -> dict[str, Any] | None:
        """The event this log-activity job writes (None: it is gone)."""
        if self.preload.event:
            return self.preload.event.pop()
        return await self.db_call(
            st.load_event, self.job.payload["event_id"], self.job.connection_id
        )

    def later(self, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """A fact to commit with the job's next transaction."""
        self.pending.append(lambda session: fn(session, *args, **kwargs))

    def take_pending(self) -> list[Fact]:
        facts, self.pending = self.pending, []
        return facts

    async def in_transaction(self, fn: Callable[[Session], Any]) -> Any:
        """``fn`` in one transaction, after the pending facts (which it takes, come what may)."""
        facts = self.take_pending()

        def unit(session: Session) -> Any:
            for fact in facts:
                fact(session)
            return fn(session)

        if self.commits is not None:
            return await self.commits.run(unit)

        def alone() -> Any:
            with self.db.session() as session:
                return unit(session)

        return await self.db.in_thread(alone)

    def effect(self, cs: ContactState, name: str) -> st.EffectKey:
        assert self.job.contact_id is not None
        return st.EffectKey(cs.provider, cs.org, self.job.contact_id, name)

    async def begin(self, key: st.EffectKey) -> str:
        """The ledger's intent, committed before the ATS call (see AtsEffect)."""
        job_id = self.job.id
        return str(await self.in_transaction(lambda s: st.begin_effect(s, key, job_id)))

    def done(self, key: st.EffectKey, **link_changes: Any) -> None:
        """The write is done; the link learns what it changed with it (one fact)."""
        # Looked up at commit time, not now: tests stand in for st.finish_effect to fail it.
        self.later(
            lambda s: st.finish_effect(s, key, self.job.id, self.job.connection_id, **link_changes)
        )

    def save_link(self, cs: ContactState, **changes: Any) -> None:
        """Update this contact's link row for the ATS organisation the job writes to."""
        job = self.job
        assert job.contact_id is not None
        self.later(st.save_link, job.contact_id, cs.provider, cs.org, job.connection_id, **changes)

    def mark(self, **changes: Any) -> None:
        """Change the job's enrollment (its state, the error a recruiter sees)."""
        self.later(st.change_enrollment, self.job.enrollment_id, **changes)


async def ensure_record(run: JobRun, cs: ContactState) -> tuple[str, bool]:
    """The ATS record for this contact: linked if the email exists, created once otherwise.

    Returns the record's id, and whether Outbound made it (this job, or an earlier try of it).
    The create is an intent in the effect ledger, committed before the call: if the process,
    the network or the database goes away before the new id is recorded, the retry knows a
    record found for this email (or one made since the intent) is ours, never a second one."""
    job, conn = run.job, run.connector
    assert job.contact_id is not None and cs.snapshot is not None
    person = person_input(cs.contact, cs.snapshot)
    if cs.link is not None and cs.link.remote_id:
        if cs.link.state == "created":  # id recorded, details may be half-written
            await complete_details(run, cs, cs.link.remote_id, fresh=False)
        return cs.link.remote_id, cs.link.created_by_us

    create = run.effect(cs, CREATE_EFFECT)
    found = await conn.find_person_by_email(cs.contact["email"], full_name(cs.contact))
    if found is not None:
        if cs.create_intent_at is not None:  # our own create landed; its answer was lost
            run.done(create, remote_id=found.id, state=state_after_create(conn), created_by_us=True)
            await complete_details(run, cs, found.id, fresh=False)
            return found.id, True
        run.save_link(cs, remote_id=found.id, state="linked", created_by_us=False)
        if not mark_if_off_limits(run, cs, found):
            await update_existing(run, cs, found.id, found.fields)
            if job.kind == "check_and_sync" and cs.snapshot["dedup_enabled"]:
                # This lookup is also the add's duplicate check (one question, one call).
                mark_exists(run, cs)
        return found.id, False

    remote_id = None
    if cs.create_intent_at is not None:
        remote_id = await conn.recover_create(person, cs.create_intent_at)
    fresh = remote_id is None
    if remote_id is None:
        await run.begin(create)
        try:
            remote_id = await conn.create_person(person)
        except DuplicateRecord as duplicate:
            # Refused: nothing of ours landed. Committed now: a retry must not take the
            # record the ATS names for one of ours.
            await run.in_transaction(lambda s: st.drop_effect(s, create))
            return await link_duplicate(run, cs, duplicate.existing_id), False
    run.done(create, remote_id=remote_id, state=state_after_create(conn), created_by_us=True)
    await complete_details(run, cs, remote_id, fresh=fresh)
    if fresh and not cs.owner_known:
        await learn_owner(run, remote_id)
    return remote_id, True


def state_after_create(conn: Connector) -> str:
    """The link's state once the create is recorded: "created" while details are still to
    be written after it, "linked" where the create wrote the whole record."""
    return "created" if conn.separate_details else "linked"


async def complete_details(run: JobRun, cs: ContactState, remote_id: str, fresh: bool) -> None:
    """The writes a create needs after it (an email, a phone: one call each in some ATSs).
    A retry (``fresh`` False, or an unfinished intent) checks what the record has first."""
    assert cs.snapshot is not None
    if not run.connector.separate_details:
        # Nothing to write after the create: no intent, no ledger row (one transaction
        # fewer per new contact). A link left "created" by an older version is finished.
        if cs.link is not None and cs.link.state == "created":
            run.save_link(cs, state="linked")
        return
    key = run.effect(cs, "details")
    prior = await run.begin(key)
    if prior != "done":
        person = person_input(cs.contact, cs.snapshot)
        await run.connector.complete_person(remote_id, person, fresh=fresh and prior == "new")
    run.done(key, state="linked")


async def link_duplicate(run: JobRun, cs: ContactState, existing_id: str) -> str:
    """The ATS's own duplicate check refused the create and named its match: that record is
    this person (a found match, like a lookup by email), never a second one."""
    assert cs.snapshot is not None
    found = await run.connector.get_person(existing_id)
    run.save_link(cs, remote_id=found.id, state="linked", created_by_us=False)
    if mark_if_off_limits(run, cs, found):
        return found.id
    await update_existing(run, cs, found.id, found.fields)
    if cs.snapshot["dedup_enabled"]:
        mark_exists(run, cs)
    return found.id


def mark_exists(run: JobRun, cs: ContactState) -> None:
    """Deduplication: the ATS had this email before Outbound wrote it ("Exists in …")."""
    run.mark(error_code="exists_in_ats", error_message=exists_error(cs.provider))


async def learn_owner(run: JobRun, remote_id: str) -> None:
    """The key's owner could not be read when connecting: our first record names it."""
    created = await run.connector.get_person(remote_id)
    if created.created_by_id:
        run.later(
            st.learn_owner,
            run.job.connection_id,
            created.created_by_id,
            created.created_by_name or "",
        )


async def update_existing(
    run: JobRun, cs: ContactState, remote_id: str, existing: dict[str, Any]
) -> None:
    """Linking to a record someone else made: apply the mapping under its write policies.
    Setting a field twice is harmless: the ledger records the update, it never blocks one."""
    assert cs.snapshot is not None
    values = mapped_values(cs.contact, cs.snapshot.get("field_mapping") or [])
    changes = values_to_write(values, existing, is_new_record=False)
    if changes:
        key = run.effect(cs, f"update:{run.job.id}")
        await run.begin(key)
        await run.connector.update_person(remote_id, changes)
        run.done(key)


async def ensure_attached(
    run: JobRun, cs: ContactState, remote_id: str, job_id: str, known_new: bool
) -> None:
    if cs.link is not None and job_id in cs.link.attached_jobs:
        return
    key = run.effect(cs, f"attach:{job_id}")
    prior = await run.begin(key)
    # A record Outbound made that no try ever attached cannot be on the job yet; anything else
    # (someone else's record, or an earlier try that may have landed) is asked about first.
    if prior != "done" and (
        (known_new and prior == "new") or not await run.connector.is_attached(remote_id, job_id)
    ):
        await run.connector.attach(remote_id, job_id)
    run.done(key, add_attached_job=job_id)


async def attach_to_job(
    run: JobRun, cs: ContactState, remote_id: str, job_id: str, known_new: bool
) -> None:
    """Put the record on the job/project; one that no longer exists in the ATS (deleted since
    the sequence was saved) is said plainly, with the record it concerns shown on the contact."""
    try:
        await ensure_attached(run, cs, remote_id, job_id, known_new)
    except NotFoundError as exc:
        jobs = await run.connector.list_jobs()
        if any(j.id.lower() == job_id.lower() for j in jobs):
            raise  # the job is there: the 404 was about something else
        run.mark(ats_record_id=remote_id)
        title = PROVIDER_TITLES[cs.provider]
        word = spec_of(cs.provider).job_word.lower()
        raise PermanentError(
            f'The {word} "{job_id}" was not found in {title} (deleted, or not visible to this '
            f"API key): the contact is in {title} but not on that {word}. Choose another "
            f"{word} for the sequence, then resync the contact.",
            exc.status_code,
        ) from exc


async def sync_contact(run: JobRun) -> None:
    job = run.job
    assert job.contact_id is not None
    cs = await run.contact_state()
    if cs is None or cs.snapshot is None or held_after_switch(run, cs):
        return
    had_record = cs.link is not None and cs.link.remote_id is not None
    if had_record and job.kind == "check_and_sync":
        # Already linked (added before, elsewhere): no look-up happens below, so the add's
        # duplicate and do-not-contact check asks on its own, as a lone check would.
        await check_duplicate(run)
    remote_id, made_by_us = await ensure_record(run, cs)
    if had_record and job.payload.get("refresh"):
        # An explicit re-sync after a settings or mapping change: update, never re-create.
        existing = await run.connector.get_person(remote_id)
        await update_existing(run, cs, remote_id, existing.fields)
    job_id = cs.snapshot.get("job_id")
    if job_id:
        # No need to read the link back: one this job made holds no job yet, and an earlier
        # link's jobs were read above. A record made by us just now cannot be on the job.
        await attach_to_job(run, cs, remote_id, job_id, known_new=not had_record and made_by_us)
    run.later(st.mark_contact_synced, job.enrollment_id, remote_id)


async def check_duplicate(run: JobRun) -> None:
    """Deduplication: warn when the ATS had this email before Outbound wrote it."""
    job = run.job
    assert job.contact_id is not None
    cs = await run.contact_state()
    if cs is None or held_after_switch(run, cs):
        return
    found = await run.connector.find_person_by_email(cs.contact["email"], full_name(cs.contact))
    if found is None or cs.snapshot is None:
        return
    if mark_if_off_limits(run, cs, found):
        return
    if not cs.snapshot["dedup_enabled"]:
        return
    ours = cs.link is not None and cs.link.created_by_us and cs.link.remote_id == found.id
    if ours or cs.create_intent_at is not None:
        return  # a record Outbound itself created (or is creating) is never "Exists in …"
    mark_exists(run, cs)


def mark_if_off_limits(run: JobRun, cs: ContactState, found: AtsPerson) -> bool:
    """Read-back: a person the ATS marks do-not-contact is never emailed; the contact says why."""
    assert cs.snapshot is not None
    reason = off_limits_reason(
        cs.provider, found.do_not_contact, tag_titles(found.fields), cs.snapshot
    )
    if reason is None:
        return False
    run.mark(state="do_not_contact", error_code="do_not_contact", error_message=reason)
    return True


def held_after_switch(run: JobRun, cs: ContactState) -> bool:
    """A contact added while another ATS (or organisation) was connected is never synced into
    the one connected now without being asked: it waits, and says so, until a resync with the
    current settings moves it."""
    if not cs.moved:
        return False
    then, now = PROVIDER_TITLES.get(cs.provider, cs.provider), PROVIDER_TITLES[cs.connected[0]]
    where = now if then != now else f"another {now} organisation"
    run.mark(
        sync_state="not_synced",
        error_code="ats_changed",
        error_message=(
            f"Added while {then} was connected; you are now connected to {where}. Nothing was "
            f"written there: resync the sequence to sync this contact with your current settings."
        ),
    )
    return True


async def _linked_record(run: JobRun) -> tuple[ContactState, str] | None:
    job = run.job
    assert job.contact_id is not None
    cs = await run.contact_state()
    if cs is None or held_after_switch(run, cs):
        return None
    if cs.link is None or not cs.link.remote_id:
        raise PermanentError("the contact is not in the ATS yet (its sync did not succeed)")
    return cs, cs.link.remote_id


async def log_activity(run: JobRun) -> None:
    linked = await _linked_record(run)
    if linked is None:
        return
    cs, remote_id = linked
    event = await run.event()
    if event is None or event["id"] in cs.link.logged_events:  # type: ignore[union-attr]
        return
    marker = f"outbound-event-{event['id']}"
    key = run.effect(cs, f"activity:{event['id']}")
    prior = await run.begin(key)
    # Only where a try began this write without recording its end is it worth asking the ATS
    # for our marker (the write may have landed before the database or the process went away).
    if prior == "new" or (
        prior == "intent" and not await run.connector.has_activity(remote_id, marker)
    ):
        await run.connector.log_activity(
            remote_id,
            ActivityInput(
                event["kind"],
                event["subject"],
                event["body"],
                event["occurred_at"],
                marker,
                activity_type_id=event["activity_type_id"],
            ),
        )
    run.done(key, add_logged_event=event["id"])


async def set_stage(run: JobRun) -> None:
    linked = await _linked_record(run)
    if linked is None:
        return
    cs, remote_id = linked
    assert cs.snapshot is not None
    job_id = cs.snapshot.get("job_id")
    if not job_id:
        return
    wanted = run.job.payload["stage"]
    stage = await find_stage(run.connector, job_id, wanted)
    if stage is None:
        title = PROVIDER_TITLES[cs.provider]
        run.mark(
            error_code="stage_missing",
            error_message=(
                f'Status not advanced: {title} has no stage named exactly "{wanted}". '
                f"Create it in {title} to have Outbound move contacts there."
            ),
        )
        return
    await attach_to_job(run, cs, remote_id, job_id, known_new=False)
    key = run.effect(cs, f"stage:{run.job.id}")
    prior = await run.begin(key)
    if prior == "done":
        return
    # A try that began this move and never recorded it may have landed: ask where the person
    # stands before moving again (an ATS that cannot say gets the same move once more).
    if prior == "new" or (await run.connector.stage_of(remote_id, job_id) or "").lower() != (
        stage.id.lower()
    ):
        await run.connector.set_stage(remote_id, job_id, stage)
    run.done(key)


async def find_stage(connector: Connector, job_id: str, wanted: str) -> AtsStage | None:
    """The stage spelled exactly as the guides ask; a miss asks the ATS again, so a stage
    created after the error works on the next try."""
    for fresh in (False, True):
        stages = await connector.list_stages(job_id, fresh=fresh)
        stage = next((s for s in stages if s.name == wanted), None)
        if stage is not None:
            return stage
    return None


# Every one begins by reading the contact's state (JobRun.contact_state).
HANDLERS = {
    "sync_contact": sync_contact,
    # A sync whose look-up before creating is also the add's duplicate check (one call).
    "check_and_sync": sync_contact,
    "check_duplicate": check_duplicate,
    "log_activity": log_activity,
    "set_stage": set_stage,
}
