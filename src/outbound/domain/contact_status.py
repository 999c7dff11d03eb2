"""What a recruiter sees per contact in a sequence: one status word, derived, never stored twice."""

from __future__ import annotations

# Ended or waiting states win over how far the contact engaged.
STATE_STATUSES = ("replied", "bounced", "unsubscribed", "paused", "finished", "do_not_contact")
ENGAGEMENT_ORDER = ("messaged", "opened", "clicked")


def contact_status(state: str, engagement: str | None, error_code: str | None) -> str:
    if error_code is not None:
        return "needs_attention"
    if state in STATE_STATUSES:
        return state
    return engagement or "scheduled"


def raise_engagement(current: str | None, event_kind: str) -> str | None:
    """messaged < opened < clicked: an open after a click does not lower it."""
    new = {"sent": "messaged", "opened": "opened", "clicked": "clicked"}.get(event_kind)
    if new is None:
        return current
    if current is None or ENGAGEMENT_ORDER.index(new) > ENGAGEMENT_ORDER.index(current):
        return new
    return current


# Errors that hold a contact's mail until a person has looked (sync trouble does not: an ATS
# outage must not stop outreach). "Exists in ..." is the dedup warning the guides ask for.
BLOCKS_SENDING = (
    "missing_variable",
    "send_failed",
    "send_uncertain",
    "exists_in_ats",
    "do_not_contact",
)
