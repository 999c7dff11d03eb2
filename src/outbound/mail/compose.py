"""Build the MIME message for one step: threading headers, tracking, unsubscribe headers.

Follow-ups go out in the same thread: ``In-Reply-To`` names the previous step's Message-ID and
``References`` all of them (RFC 5322 3.6.4). Every message carries ``List-Unsubscribe`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058). With tracking on, links go
through the click redirect and an invisible pixel reports opens.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from outbound.store.models import utcnow

URL = re.compile(r"https?://[^\s<>\"')]+[^\s<>\"').,;:!?]")


@dataclass(frozen=True)
class Draft:
    """Everything the message needs, copied off the stored OutboundEmail row."""

    from_name: str
    from_address: str
    to_address: str
    subject: str
    body_text: str
    message_id: str
    token: str
    in_reply_to: str | None
    references: str | None
    links: list[str]
    tracking: bool
    unsubscribe_link: bool


def new_message_id(from_address: str) -> str:
    domain = from_address.rsplit("@", 1)[-1] or "outbound.local"
    return f"<{uuid.uuid4().hex}@{domain}>"


def links_in(text: str) -> list[str]:
    return list(dict.fromkeys(URL.findall(text)))


def _html_body(draft: Draft, base_url: str) -> str:
    escaped = html.escape(draft.body_text)

    def link(match: re.Match[str]) -> str:
        url = html.unescape(match.group(0))
        target = url
        if draft.tracking and url in draft.links:
            target = f"{base_url}/t/c/{draft.token}/{draft.links.index(url)}"
        return f'<a href="{html.escape(target)}">{html.escape(url)}</a>'

    body = URL.sub(link, escaped).replace("\n", "<br>\n")
    if draft.unsubscribe_link:
        body += f'<br>\n<br>\n<small><a href="{base_url}/u/{draft.token}">Unsubscribe</a></small>'
    if draft.tracking:
        body += f'<img src="{base_url}/t/o/{draft.token}.gif" width="1" height="1" alt="">'
    return f"<html><body>{body}</body></html>"


def build(draft: Draft, base_url: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((draft.from_name, draft.from_address))
    msg["To"] = draft.to_address
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = draft.message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = draft.references
    msg["List-Unsubscribe"] = (
        f"<{base_url}/u/{draft.token}>, <mailto:{draft.from_address}?subject=unsubscribe>"
    )
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = draft.body_text
    if draft.unsubscribe_link:
        text += f"\n\n--\nUnsubscribe: {base_url}/u/{draft.token}"
    msg.set_content(text)
    if draft.tracking or draft.unsubscribe_link:
        msg.add_alternative(_html_body(draft, base_url), subtype="html")
    return msg


def thread_subject(first_subject: str, step_subject: str) -> str:
    """A follow-up with no subject of its own replies in the first step's thread."""
    if step_subject.strip():
        return step_subject
    return first_subject if first_subject.lower().startswith("re:") else f"Re: {first_subject}"
