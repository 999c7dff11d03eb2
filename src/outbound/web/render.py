"""Jinja2 templates and the plain-language words the pages use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from outbound.connectors.registry import ATS
from outbound.domain.vocabulary import PROVIDER_TITLES
from outbound.web.session import csrf_token

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

# What each contact error means and what to do, in the words a recruiter uses.
ERROR_HELP = {
    "exists_in_ats": (
        "This email address was already in {ats} before the contact was added. Outbound "
        "linked to that record (no duplicate) and holds emails so you can check with whoever "
        "owns the person. Clear the error to start sending."
    ),
    "do_not_contact": "{ats} says this person must not be contacted; Outbound will not email them.",
    "missing_variable": (
        "A step uses a variable this contact has no value for. Add it to the contact or give "
        "the variable a fallback, then resume."
    ),
    "send_failed": "The mail server refused the email. Fix the cause, then resume.",
    "send_uncertain": (
        "Outbound could not tell whether an email went out. Check your Sent folder: resume "
        "if it is there, or resume and resend if it is not."
    ),
    "sync_error": (
        "{ats} refused what Outbound sent (often a custom field mapping). Fix it, then resync."
    ),
    "ats_changed": (
        "This contact was added under another ATS connection than yours now. Resync the "
        "sequence to sync it with your current settings."
    ),
    "ats_permission": (
        "{ats} accepted your API key but does not let it make this call. Ask your {ats} "
        "administrator for the permission named above, then resync."
    ),
    "ats_unreachable": "{ats} could not be reached after many tries. Resync when it is back.",
    "stage_missing": (
        'The pipeline stage does not exist in {ats}. Create it, spelled exactly ("Messaged", '
        '"Replied", "Interested", "Not Interested"), then resync.'
    ),
}

STATUS_WORDS = {
    "scheduled": "Scheduled",
    "messaged": "Messaged",
    "opened": "Opened",
    "clicked": "Clicked",
    "replied": "Replied",
    "bounced": "Bounced",
    "paused": "Paused",
    "finished": "Finished",
    "unsubscribed": "Unsubscribed",
    "do_not_contact": "Do not contact",
    "needs_attention": "Needs attention",
}


def error_help(code: str | None, provider: str | None) -> str:
    if not code:
        return ""
    text = ERROR_HELP.get(code, "")
    return text.format(ats=PROVIDER_TITLES.get(provider or "", "the ATS"))


templates.env.globals.update(
    ats=ATS, provider_titles=PROVIDER_TITLES, status_words=STATUS_WORDS, error_help=error_help
)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    context["csrf"] = csrf_token(request)
    return templates.TemplateResponse(request, name, context, status_code=status_code)
