"""The worker reads a claimed batch's contact states together (issue 15: a worker that does
little per job). What each job then sees must be what it would have read alone: the record
its contact is linked to, the jobs and events already written, an unfinished create (so a
retry never creates twice), and nothing for a contact removed from its sequence. The read
costs the same few statements for 5 jobs as for 50."""

from __future__ import annotations

from datetime import timedelta

from outbound.service.contact_state import StateKey, load_state, load_states
from outbound.store.db import Database
from outbound.store.models import AtsEffect, AtsLink, Enrollment, utcnow
from tests.seeding import Seat, add_seat, add_team, enrol_many
from tests.statements import statements_sent

ORG = "https://app.crelate.com"


def snapshot(org: str = ORG) -> dict[str, object]:
    return {"provider": "crelate", "ats_org": org, "job_id": "job-1", "dedup_enabled": True}


def seat_with(db: Database, emails: list[str]) -> tuple[Seat, list[tuple[int, int]]]:
    with db.session() as s:
        team = add_team(s, "Acme")
        seat = add_seat(s, team, "owner@acme.test", "Owner", ats_user_id="u1", ats_org=ORG)
        enrolled = enrol_many(
            s, seat, emails, contact={"first_name": "Ada"}, sync_snapshot=snapshot()
        )
    return seat, enrolled


def test_each_job_sees_its_own_contact_as_it_would_alone(db: Database) -> None:
    seat, enrolled = seat_with(db, [f"p{i}@prospect.test" for i in range(5)])
    (linked, _), (creating, _), (_, removed_enrollment), (elsewhere, _), _ = enrolled
    began = utcnow() - timedelta(minutes=3)
    with db.session() as s:
        s.add(
            AtsLink(
                contact_id=linked,
                provider="crelate",
                ats_org=ORG,
                remote_id="rec-1",
                state="linked",
                created_by_us=True,
                attached_jobs=["job-1"],
                logged_events=[7],
            )
        )
        # A try began creating this one's record and never recorded the outcome.
        s.add(
            AtsEffect(
                provider="crelate",
                ats_org=ORG,
                contact_id=creating,
                effect="create",
                state="intent",
                began_at=began,
            )
        )
        # The same person's create in another organisation is not this one's.
        s.add(
            AtsEffect(
                provider="crelate",
                ats_org="https://other.crelate.com",
                contact_id=elsewhere,
                effect="create",
                state="intent",
            )
        )
        enrollment = s.get(Enrollment, removed_enrollment)
        assert enrollment is not None
        s.delete(enrollment)
    keys = [StateKey(seat.connection_id, contact, enrollment) for contact, enrollment in enrolled]

    together = load_states(db, keys)

    alone = [load_state(db, k.connection_id, k.contact_id, k.enrollment_id) for k in keys]
    assert together == alone
    linked_state, creating_state, removed_state, elsewhere_state, fresh_state = together
    assert linked_state is not None and linked_state.link is not None
    assert (linked_state.link.remote_id, linked_state.link.attached_jobs) == ("rec-1", ["job-1"])
    assert linked_state.link.logged_events == [7] and linked_state.create_intent_at is None
    assert creating_state is not None and creating_state.link is None
    assert creating_state.create_intent_at == began.isoformat()
    assert removed_state is None
    assert elsewhere_state is not None and elsewhere_state.create_intent_at is None
    assert fresh_state is not None and fresh_state.contact["email"] == "p4@prospect.test"
    assert fresh_state.contact["first_name"] == "Ada" and fresh_state.owner_known
    assert (fresh_state.provider, fresh_state.org, fresh_state.moved) == ("crelate", ORG, False)


def test_a_contact_added_under_another_organisation_keeps_its_own(db: Database) -> None:
    seat, ((contact, enrollment),) = seat_with(db, ["moved@prospect.test"])
    with db.session() as s:
        row = s.get(Enrollment, enrollment)
        assert row is not None
        row.sync_snapshot = snapshot("https://old.crelate.com")

    (state,) = load_states(db, [StateKey(seat.connection_id, contact, enrollment)])

    assert state is not None and state.moved
    assert (state.org, state.connected) == ("https://old.crelate.com", ("crelate", ORG))


def test_a_batch_of_50_reads_with_as_many_statements_as_a_batch_of_5(db: Database) -> None:
    seat, enrolled = seat_with(db, [f"p{i}@prospect.test" for i in range(50)])
    keys = [StateKey(seat.connection_id, contact, enrollment) for contact, enrollment in enrolled]

    with statements_sent(db) as five:
        load_states(db, keys[:5])
    with statements_sent(db) as fifty:
        states = load_states(db, keys)

    assert len(fifty) == len(five)
    assert [s.contact["email"] for s in states if s] == [f"p{i}@prospect.test" for i in range(50)]


def test_a_batch_reads_the_events_it_logs_with_what_the_account_files_them_as(
    db: Database,
) -> None:
    """A log-activity job's event, read with its batch: its words, its time, and the activity
    type the account files emails as now; None for an event that is gone."""
    from datetime import UTC, datetime

    from outbound.store.models import ActivityEvent, IntegrationSettings
    from outbound.sync.state import load_events

    seat, enrolled = seat_with(db, [f"p{i}@prospect.test" for i in range(50)])
    sent_at = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
    with db.session() as s:
        s.add(IntegrationSettings(user_id=seat.user_id, activity_type_id="type-email"))
        events = [
            ActivityEvent(
                team_id=seat.team_id,
                enrollment_id=enrollment,
                contact_id=contact,
                kind="sent",
                subject=f"Step 1 for {contact}",
                body=None,
                occurred_at=sent_at,
            )
            for contact, enrollment in enrolled
        ]
        s.add_all(events)
        s.flush()
        ids = [e.id for e in events]
    wanted = [(event_id, seat.connection_id) for event_id in ids]

    with statements_sent(db) as five:
        load_events(db, wanted[:5])
    with statements_sent(db) as fifty:
        found = load_events(db, [*wanted, (max(ids) + 1, seat.connection_id)])

    assert len(fifty) == len(five)
    *read, gone = found
    assert gone is None
    assert read[0] == {
        "activity_type_id": "type-email",
        "id": ids[0],
        "kind": "sent",
        "subject": f"Step 1 for {enrolled[0][0]}",
        "body": "",
        "occurred_at": "2026-11-29T09:30:00Z",
    }
    assert [e["id"] for e in read if e] == ids
