"""A contact's open problems in plain words, each with what to do about it. Pure: the service
(service/contact_problems.py) reads what is stored and hands the facts to these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Problem:
    """One thing that stops or slows the contact, shown all at once on the contact panel."""

    kind: str  # contact_error | sync_retrying | sync_failed | ats_connection | mailbox | paused
    severity: str  # error (needs a person) | warning (waiting, will clear by itself)
    title: str
    detail: str  # what happened, as stored
    fix: str  # what to do, in plain words ("" when the template fills in the error help)
    code: str | None = None  # the contact's error code, for the existing error help


def when(at: datetime) -> str:
    """A moment as the panel shows it: 2026-11-26 14:05 UTC."""
    return at.strftime("%Y-%m-%d %H:%M UTC")


def contact_error(code: str, message: str | None) -> Problem:
    """The error the contact holds (the mail's or the sync's): its help text is the existing
    one (web/render.py ERROR_HELP), filled in by the page."""
    title = {
        "missing_variable": "A step cannot be written for this contact",
        "send_failed": "The mail server refused the email",
        "send_uncertain": "Not sure the email went out",
        "exists_in_ats": "Already in the ATS",
        "do_not_contact": "Must not be contacted",
        "ats_changed": "Added under another ATS connection",
        "ats_permission": "The ATS refused a call",
        "ats_unreachable": "The ATS could not be reached",
        "stage_missing": "Pipeline stage missing",
        "sync_error": "The ATS refused the sync",
        "reconnect_needed": "The ATS connection needs a reconnect",
    }.get(code, "Needs attention")
    return Problem("contact_error", "error", title, message or "", "", code)


def sync_retrying(ats: str, error: str | None, attempts: int, next_try: datetime) -> Problem:
    tries = "1 try" if attempts == 1 else f"{attempts} tries"
    return Problem(
        "sync_retrying",
        "warning",
        f"Retrying: could not reach {ats}",
        f"{error or 'No answer'} ({tries} so far). Trying again at {when(next_try)}.",
        f"Nothing to do: Outbound keeps trying. If {ats} stays down, the contact shows an "
        "error and you can resync it once it is back.",
    )


def sync_failed(ats: str, error: str | None, attempts: int, at: datetime | None) -> Problem:
    tries = "1 try" if attempts == 1 else f"{attempts} tries"
    stamp = f" (last try {when(at)})" if at else ""
    return Problem(
        "sync_failed",
        "error",
        f"Not synced to {ats}",
        f"{error or 'The sync failed'} after {tries}{stamp}.",
        f"Fix what the message says, then use Resync to {ats}.",
    )


def ats_disconnected(ats: str) -> Problem:
    return Problem(
        "ats_connection",
        "error",
        f"{ats} is disconnected",
        f"The {ats} connection this contact syncs through was disconnected: nothing is "
        f"written to {ats} for it.",
        f"Connect {ats} again on the Integrations page, then resync the contact.",
    )


def ats_paused(ats: str, reason: str | None) -> Problem:
    return Problem(
        "ats_connection",
        "error",
        f"Syncing to {ats} is paused",
        reason or f"{ats} rejected the saved credentials.",
        f"Reconnect {ats} on the Integrations page: the waiting work then goes on by itself.",
    )


def no_mailbox(owner: str) -> Problem:
    return Problem(
        "mailbox",
        "error",
        "No mailbox to send from",
        f"The sequence's owner ({owner}) has no mailbox connected, so no email goes out.",
        "Connect a mailbox to send (Mailbox page), signed in as the sequence's owner.",
    )


def mailbox_failing(reason: str | None, reconnect: bool = False) -> Problem:
    """``reconnect``: the mailbox's Google or Microsoft access was removed or expired."""
    if reconnect:
        return Problem(
            "mailbox",
            "error",
            "Reconnect your mailbox",
            reason or "The mail provider no longer lets Outbound use the mailbox.",
            "Reconnect it on the Mailbox page; held emails then go out, each once.",
        )
    return Problem(
        "mailbox",
        "error",
        "The mailbox is failing",
        reason or "The mailbox could not send or read mail.",
        "Check the mailbox settings on the Mailbox page and save them again.",
    )


def out_of_office(until: datetime, subject: str | None, received: datetime | None) -> Problem:
    said = f' ("{subject}"' + (f", received {when(received)})" if received else ")")
    return Problem(
        "paused",
        "warning",
        f"Paused until {until:%Y-%m-%d}: out of office",
        f"The contact's automatic reply said they are away{said if subject else ''}. "
        f"Emails start again on {until:%Y-%m-%d}.",
        "Nothing to do. Resume now to send before then.",
    )


def paused(until: datetime | None) -> Problem:
    end = f" until {until:%Y-%m-%d}" if until else ""
    return Problem(
        "paused",
        "warning",
        f"Paused{end}",
        "No email goes out while the contact is paused.",
        "Resume the contact to send again.",
    )
