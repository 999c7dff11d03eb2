"""Recruiter actions on a contact's outreach, and what recipients do from an email (open, click,
unsubscribe). Each is one transaction that also hands its event to the sync engine."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbound.domain.template_values import template_values
from outbound.domain.templates import MissingVariables, render
from outbound.service.caller import Caller
from outbound.service.contacts import normalise_email
from outbound.service.enrollments import after_sent, get_enrollment, record_event
from outbound.service.errors import Invalid, NotFound
from outbound.store.models import (
    ActivityEvent,
    Contact,
    Enrollment,
    OutboundEmail,
    Sequence,
    Suppression,
    User,
    utcnow,
)

# Errors that `resume` clears: the ones about the contact's mail, fixed by a person.
RESUMABLE = ("missing_variable", "send_failed", "send_uncertain")


def emails_of(session: Session, caller: Caller, enrollment_id: int) -> list[OutboundEmail]:
    enrollment = get_enrollment(session, caller, enrollment_id)
    return list(
        session.scalars(
            select(OutboundEmail)
            .where(OutboundEmail.enrollment_id == enrollment.id)
            .order_by(OutboundEmail.id)
        )
    )


def resume(
    session: Session, caller: Caller, enrollment_id: int, resend: bool, day_seconds: float = 0
) -> Enrollment:
    enrollment = get_enrollment(session, caller, enrollment_id)
    now = utcnow()
    if enrollment.state == "paused":
        enrollment.state = "active"
        enrollment.paused_until = None
    elif enrollment.state != "active" and enrollment.error_code not in RESUMABLE:
        raise Invalid(f"a contact that is {enrollment.state} cannot be resumed", "enrollment_id")
    uncertain = session.scalar(
        select(OutboundEmail).where(
            OutboundEmail.enrollment_id == enrollment.id, OutboundEmail.status == "uncertain"
        )
    )
    if uncertain is None and recheck_step(session, enrollment):
        return enrollment  # still missing a value: the error names it, nothing is sent
    if enrollment.error_code in RESUMABLE:
        enrollment.error_code = None
        enrollment.error_message = None
    if uncertain is not None:
        if resend:
            uncertain.status = "queued"  # same Message-ID: clients that got it drop the copy
            uncertain.run_after = now
            uncertain.last_error = None
            return enrollment
        # The recruiter found it in the Sent folder: count it and go on.
        uncertain.status = "sent"
        uncertain.sent_at = uncertain.sent_at or now
        record_event(
            session,
            enrollment,
            "sent",
            subject=uncertain.subject,
            body=uncertain.body_text,
            email_id=uncertain.id,
        )
        after_sent(session, enrollment, now, day_seconds)  # the next step waits its delay
        return enrollment
    if enrollment.state == "active":
        enrollment.next_send_at = now
    return enrollment


def recheck_step(session: Session, enrollment: Enrollment) -> bool:
    """Render the contact's next step now, as the planner will: True (and the contact's error
    names the variables) when a value is still missing, so resume does not send the contact
    back to the planner only to fail the same way."""
    seq = session.get(Sequence, enrollment.sequence_id)
    contact = session.get(Contact, enrollment.contact_id)
    if seq is None or contact is None or enrollment.next_step >= len(seq.steps):
        return False
    sender = session.get(User, seq.owner_id)
    step = seq.steps[enrollment.next_step]
    values = template_values(contact, sender.name if sender else "")
    try:
        for template in (seq.steps[0].subject, step.subject, step.body):
            render(template, values)
    except MissingVariables as exc:
        enrollment.error_code = "missing_variable"
        enrollment.error_message = missing_message(step.position, exc.names, contact.email)
        return True
    return False


def missing_message(position: int, names: list[str], email: str) -> str:
    """The planner's wording (mail/planner.py prepare), so both read the same."""
    listed = ", ".join(f"{{{{{n}}}}}" for n in names)
    return (
        f"Step {position + 1} uses {listed}, which {email} has no value for. "
        "Add the value to the contact (or give the variable a fallback such as "
        "{{company|your team}}), then resume the contact."
    )


# -- what recipients do ------------------------------------------------------------------
def _by_token(session: Session, token: str) -> tuple[OutboundEmail, Enrollment]:
    email = session.scalar(select(OutboundEmail).where(OutboundEmail.token == token))
    enrollment = session.get(Enrollment, email.enrollment_id) if email is not None else None
    if email is None or enrollment is None:
        raise NotFound("unknown link", "token")
    return email, enrollment


def _once(session: Session, email: OutboundEmail, kind: str, body: str | None = None) -> bool:
    """Opens and clicks are recorded once per email (and per link): pixels are refetched."""
    q = select(ActivityEvent.id).where(
        ActivityEvent.email_id == email.id, ActivityEvent.kind == kind
    )
    if body is not None:
        q = q.where(ActivityEvent.body == body)
    return session.scalar(q.limit(1)) is None


def opened(session: Session, token: str) -> None:
    email, enrollment = _by_token(session, token)
    if email.tracking and _once(session, email, "opened"):
        record_event(session, enrollment, "opened", subject=email.subject, email_id=email.id)


def clicked(session: Session, token: str, index: int) -> str:
    """Record the click; returns where to send the browser (only a link of that email)."""
    email, enrollment = _by_token(session, token)
    links = list(email.links or [])
    if not 0 <= index < len(links):
        raise NotFound("unknown link", "index")
    url = str(links[index])
    if email.tracking and _once(session, email, "clicked", url):
        record_event(
            session, enrollment, "clicked", subject=email.subject, body=url, email_id=email.id
        )
    return url


def unsubscribe(session: Session, token: str) -> str:
    """The recipient asked to hear no more: no one on the team emails this address again."""
    email, enrollment = _by_token(session, token)
    suppress(session, email.team_id, email.to_address, "unsubscribed")
    if enrollment.state not in ("unsubscribed", "do_not_contact"):
        record_event(session, enrollment, "unsubscribed", subject=email.subject, email_id=email.id)
    return email.to_address


# -- the team's suppression list ----------------------------------------------------------
def suppress(session: Session, team_id: int, address: str, reason: str) -> None:
    """No one on the team emails this address again (unsubscribed, or a hard bounce)."""
    address = address.lower()
    exists = session.scalar(
        select(Suppression.id).where(Suppression.team_id == team_id, Suppression.email == address)
    )
    if exists is None:
        session.add(Suppression(team_id=team_id, email=address, reason=reason))


def list_suppressions(session: Session, caller: Caller) -> list[Suppression]:
    return list(
        session.scalars(
            select(Suppression)
            .where(Suppression.team_id == caller.team_id)
            .order_by(Suppression.id)
        )
    )


def add_suppression(session: Session, caller: Caller, address: str) -> Suppression:
    address = normalise_email(address)
    suppress(session, caller.team_id, address, "unsubscribed")
    session.flush()
    row = session.scalar(
        select(Suppression).where(
            Suppression.team_id == caller.team_id, Suppression.email == address
        )
    )
    assert row is not None
    return row
