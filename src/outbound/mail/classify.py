"""Classify an inbound message: a real reply, an automatic reply, or a bounce (and which kind).

Pure functions over `email.message.Message`; no I/O. Standard DSNs (RFC 3464, status codes of
RFC 3463) are read structurally; the many MTAs that do not send them are recognised by sender,
subject and the status or SMTP codes in their text.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

Kind = Literal["reply", "auto_reply", "bounce"]
BounceType = Literal["hard", "soft", "not_failure"]

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
SMTP_CODE = re.compile(r"(?:^|[\s:(\[\"])([45][0-5]\d)(?:[\s\-)]|$)", re.M)
MESSAGE_ID = re.compile(r"^Message-Id:\s*(<[^>\s]+>)", re.I | re.M)

BOUNCE_SENDERS = re.compile(
    r"mailer[-_ ]?daemon|postmaster|mail delivery (sub)?system|mail administrator|"
    r"\bmdaemon\b|\bdaemon@|amazonses\.com|bounce",
    re.I,
)
BOUNCE_SUBJECTS = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem|"
    r"notification|report|incomplete)|returned mail|returned to sender|failure notice|"
    r"mail delivery failed|non[- ]?delivery|could not be delivered|not delivered|"
    r"mail system error|delivery (error|fail)|rejected|nicht zustellbar|unzustellbar|"
    r"warning: could not send|message you sent|permanent error|mail failure|"
    r"delivery status|^\s*fail(ed|ure)|unable to deliver|error sending",
    re.I,
)
PERMANENT_WORDS = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|address|recipient)|does not exist|"
    r"not exist|invalid (recipient|address|mailbox)|address rejected|mailbox unavailable|"
    r"recipient (address )?rejected|account (has been )?(disabled|suspended)|"
    r"mailbox not found|unknown (local part|recipient)|host not found|domain not found|"
    r"no mx|permanent",
    re.I,
)
TEMPORARY_WORDS = re.compile(
    r"temporar|try again|deferred|delayed|will retry|still trying|mailbox (is )?full|"
    r"over ?quota|quota exceeded|insufficient (storage|space)|timed? ?out",
    re.I,
)

AUTO_SUBJECTS = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto:|away from|"
    r"on vacation|vacation reply|abwesenheit|absence|i am away|currently away|away until|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica",
    re.I,
)


@dataclass(frozen=True)
class Classification:
    kind: Kind
    bounce_type: BounceType | None = None
    status: str | None = None  # RFC 3463 code, e.g. "5.1.1"
    original_message_id: str | None = None
    out_of_office: bool = False


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _text(msg: Message) -> str:
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        elif isinstance(part.get_payload(), str):
            parts.append(str(part.get_payload()))
    return "\n".join(parts)


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        decoded = email.header.decode_header(str(value))
        return "".join(
            t.decode(c or "utf-8", "replace") if isinstance(t, bytes) else t for t, c in decoded
        )
    except (LookupError, ValueError):
        return str(value)


def _original_message_id(msg: Message, own_id: str) -> str | None:
    """The Message-ID of the message that bounced: from the returned headers, never our own."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                mid = inner[0].get("Message-ID")
                if mid:
                    return str(mid).strip()
            found = MESSAGE_ID.search(_text(part) if not isinstance(inner, list) else "")
            if found:
                return found.group(1)
    for match in MESSAGE_ID.finditer(_text(msg)):
        if match.group(1) != own_id:
            return match.group(1)
    return None


def _dsn_fields(msg: Message) -> list[dict[str, str]]:
    """Per-recipient fields of a message/delivery-status part (RFC 3464)."""
    out: list[dict[str, str]] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
        if not blocks:
            text = _text(part) or str(payload)
            blocks = [email.message_from_string(b) for b in re.split(r"\n\s*\n", text) if b]
        for block in blocks:
            fields = {k.lower(): str(v).strip() for k, v in block.items()}
            if "action" in fields or "status" in fields:
                out.append(fields)
    return out


def _bounce_type_from_status(status: str | None, text: str) -> BounceType:
    if status is not None:
        return "hard" if status.startswith("5") else "soft"
    code = SMTP_CODE.search(text)
    if code is not None:
        return "hard" if code.group(1).startswith("5") else "soft"
    if TEMPORARY_WORDS.search(text) and not PERMANENT_WORDS.search(text):
        return "soft"
    return "hard"


def is_auto_reply(msg: Message) -> bool:
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if any(
        msg.get(h)
        for h in (
            "X-Autoreply",
            "X-Autorespond",
            "X-Auto-Response-Suppress",
            "X-Autogenerated",
            "X-Vacation",
        )
    ):
        return True
    if _header(msg, "Precedence").strip().lower() in ("auto_reply", "bulk", "junk", "list"):
        return True
    return bool(AUTO_SUBJECTS.search(_header(msg, "Subject")))


def classify(msg: Message) -> Classification:
    own_id = str(msg.get("Message-ID", "")).strip()
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type") or "").lower()
    if ctype == "multipart/report" and report_type == "delivery-status":
        fields = _dsn_fields(msg)
        actions = [f.get("action", "").lower() for f in fields]
        statuses = [m.group(0) for f in fields if (m := STATUS.search(f.get("status", "")))]
        original = _original_message_id(msg, own_id)
        if fields and all(a in ("delayed", "delivered", "relayed", "expanded") for a in actions):
            return Classification(
                "bounce", "not_failure", statuses[0] if statuses else None, original
            )
        status = next((s for s in statuses if s.startswith("5")), None) or (
            statuses[0] if statuses else None
        )
        if status is None and (m := STATUS.search(_text(msg))):
            status = m.group(0)
        return Classification(
            "bounce", _bounce_type_from_status(status, _text(msg)), status, original
        )
    if ctype == "multipart/report" and report_type == "feedback-report":
        return Classification("bounce", "not_failure", None, _original_message_id(msg, own_id))

    sender = _header(msg, "From") + " " + str(msg.get("Return-Path", ""))
    subject = _header(msg, "Subject")
    empty_return_path = str(msg.get("Return-Path", "")).strip() in ("<>", "")
    looks_like_bounce = bool(BOUNCE_SENDERS.search(sender)) and (
        bool(BOUNCE_SUBJECTS.search(subject))
        or empty_return_path
        or bool(PERMANENT_WORDS.search(_text(msg)))
    )
    looks_like_bounce = looks_like_bounce or bool(
        BOUNCE_SUBJECTS.search(subject)
        and (STATUS.search(_text(msg)) or PERMANENT_WORDS.search(_text(msg)))
    )
    # Checked before auto-replies: Exim and others stamp their DSNs "Auto-Submitted" too. But
    # an auto-replied notice with no status or SMTP code at all is a responder, not an MTA.
    text = _text(msg)
    if (
        looks_like_bounce
        and _header(msg, "Auto-Submitted").lower().startswith("auto-replied")
        and not STATUS.search(text)
        and not SMTP_CODE.search(text)
        and not msg.get("X-Failed-Recipients")
    ):
        looks_like_bounce = False
    if msg.get("X-Failed-Recipients"):  # Exim, Google: only MTAs write this header
        looks_like_bounce = True
    if looks_like_bounce:
        match = STATUS.search(text)
        status = match.group(0) if match and not match.group(0).startswith("2") else None
        return Classification(
            "bounce",
            _bounce_type_from_status(status, text),
            status,
            _original_message_id(msg, own_id),
        )
    if is_auto_reply(msg):
        return Classification("auto_reply", out_of_office=True)
    return Classification("reply")
