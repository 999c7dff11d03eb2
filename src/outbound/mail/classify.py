"""Classify an inbound message: a real reply, an automatic reply, or a bounce (and which kind).

Pure functions over `email.message.Message`; no I/O. Standard DSNs (RFC 3464, status codes of
RFC 3463) are read structurally; the many MTAs that do not send them are recognised by sender,
subject and the status or SMTP codes in their text, and by the detectors of `flufl.bounce`
(Mailman's). A delivery report of any kind is never a reply: a message that comes from the mail
system (a null or MAILER-DAEMON/postmaster sender, a report subject) and is not recognised as a
failure is still a report, classified by its text.

Bounce types: ``hard`` (delivery failed for good: the address is suppressed), ``soft`` (failed for
a cause that clears by itself: a full mailbox, a timeout, a 4.x.x status; counted), ``delayed``
(the MTA is still trying: "Action: delayed", a warning; nothing is done) and ``not_failure``
(relayed / delivered reports, feedback reports, read receipts; nothing is done).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from typing import Literal

from flufl.bounce import all_failures

Kind = Literal["reply", "auto_reply", "bounce"]
BounceType = Literal["hard", "soft", "delayed", "not_failure"]

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
    r"delivery status|^\s*fail(ed|ure)|unable to deliver|error sending|"
    r"mail delivery (warning|delayed)|delayed mail|message delayed|not yet (been )?delivered|"
    r"could not send|loop alert|mail loop",
    re.I,
)
# Who only a mail system writes from: a reply from one of these is a report, whatever it says.
SYSTEM_SENDERS = re.compile(
    r"mailer[-_ ]?daemon|postmaster|mail delivery (sub)?system|\bmdaemon\b|\bndr\b|"
    r"\bno[-_.]?reply@|\bdo[-_.]?not[-_.]?reply@|double-bounce",
    re.I,
)
# The MTA says it is still trying: a warning, not a failure.
DELAY_WORDS = re.compile(
    r"not yet been delivered|has not yet been delivered|(has been|is|was) (postponed|delayed)|"
    r"delivery (is |has been )?delayed|message (is )?delayed|warning message only|"
    r"this is (just |only )?a warning|only a temporary failure report|"
    r"will (continue to (try|attempt)|be retried|retry)|(attempts|retries) will continue|"
    r"delivery attempts will continue|still (being )?(trying|retried)|will keep trying|"
    r"you do not need to (re-?send|take any action)|no action is required on your part",
    re.I,
)
GAVE_UP = re.compile(
    r"given up|giving up|gave up|(?<!will )give up|failed permanently|"
    r"permanent (fatal )?(error|failure)|"
    r"not going to try again|could not be delivered|was not delivered|has been returned|"
    r"returning message to sender|returned to sender|aborted",
    re.I,
)
# Causes that clear by themselves: the address is good (a full mailbox, a timeout, a rate limit).
SOFT_CAUSES = re.compile(
    r"mailbox (is )?full|mail ?box full|mailfolder is full|over ?quota|quota (exceeded|violation)|"
    r"exceed(s|ed|ing)? (the |their |its |allowed )*(quota|storage|size|local limit)|"
    r"disk quota|storage quota|insufficient (storage|space)|too much mail|box space|"
    r"timed? ?out|retry timeout|envelope expired|message expired|queue too long|"
    r"(in|for) the last \d+ seconds|failed \d+ attempts|maximum delivery attempts|"
    r"have been failing for a long time|temporar(il)?y|try again later|too many (recipients|"
    r"messages|connections)|rate limit|relay quota|not responding|(is|was) not reachable|"
    r"unreachable|connection refused|(could not|unable to|wasn't able to) (connect|establish)|"
    r"socket error|aborted after|allowed queue period",
    re.I,
)
PERMANENT_WORDS = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|address|recipient)|does not exist|"
    r"not exist|invalid (recipient|address|mailbox)|address rejected|mailbox unavailable|"
    r"recipient (address )?rejected|account (has been )?(disabled|suspended)|"
    r"mailbox not found|unknown (local part|recipient)|host not found|domain not found|"
    r"no mx|permanent|no valid recipients?|not a valid (user|recipient|address)",
    re.I,
)
TEMPORARY_WORDS = re.compile(
    r"temporar|try again|deferred|delayed|will retry|still trying|mailbox (is )?full|"
    r"over ?quota|quota exceeded|insufficient (storage|space)|timed? ?out",
    re.I,
)

ADDRESS_GONE = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|address|recipient)|does not exist|"
    r"invalid (recipient|address|mailbox)|mailbox not found|unknown (local part|recipient)|"
    r"account (has been )?(disabled|suspended|discontinued)|recipient not found|"
    r"no valid recipients?|not a valid (user|recipient|address)",
    re.I,
)
FAILED_ACTIONS = ("fail", "error", "expired")  # opensmtpd says "error", SendGrid "expired"
REPLY_PREFIX = re.compile(r"\s*(re|aw|sv|vs|antw|rif|odp|r)\s*(\[\d+\])?\s*:", re.I)
SES_DELIVERY = re.compile(r'"notificationType"\s*:\s*"Delivery"')

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


def _decode(payload: bytes, charset: str | None) -> str:
    """Bytes as text; a charset Python does not know (e.g. ``ansi_x3.110-1983``) is read as
    UTF-8, never an error."""
    try:
        return payload.decode(charset or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _text(msg: Message) -> str:
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(_decode(payload, part.get_content_charset()))
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
    # A gateway that answers the message it could not deliver, threaded to it.
    threaded = re.search(r"<[^<>\s]+>", _header(msg, "In-Reply-To"))
    return threaded.group(0) if threaded else None


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
    """Hard or soft, from an RFC 3463 status if there is one, else the SMTP code or the words.

    A full mailbox (X.2.2 or said in words), a timeout or a rate limit is soft whatever the class
    of the code: the address is good and the condition clears by itself."""
    text = " ".join(text.split())  # causes are often folded over lines
    soft_cause = bool(SOFT_CAUSES.search(text)) and not _permanent(text)
    if status is not None:
        if status.startswith("4") or soft_cause:
            return "soft"
        return "soft" if status.endswith(".2.2") and not _permanent(text) else "hard"
    if soft_cause:
        return "soft"
    code = SMTP_CODE.search(text)
    if code is not None:
        return "hard" if code.group(1).startswith("5") else "soft"
    if TEMPORARY_WORDS.search(text) and not PERMANENT_WORDS.search(text):
        return "soft"
    return "hard"


def _permanent(text: str) -> bool:
    """Words that name a bad address, which outweigh a soft cause said in the same report."""
    return bool(ADDRESS_GONE.search(text))


def _is_delay_warning(subject: str, text: str) -> bool:
    """An MTA's warning that it is still trying (no DSN part): delayed, not failed."""
    said = " ".join((subject + "\n" + text[:3000]).split())
    warned = bool(DELAY_WORDS.search(said)) or subject.strip().lower().startswith("warning")
    return warned and not GAVE_UP.search(said) and not _permanent(said)


def _flufl(msg: Message) -> tuple[bool, bool]:
    """(temporary, permanent) failures found by flufl.bounce's detectors (Mailman's)."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripping over a malformed message is not our failure
        return False, False
    return bool(temporary), bool(permanent)


def _from_mail_system(msg: Message, subject: str) -> bool:
    """Sent by a mail system rather than a person: a null return path, a From with no address,
    a MAILER-DAEMON, postmaster or no-reply sender, or a report subject."""
    sender = _header(msg, "From") + " " + str(msg.get("Sender", ""))
    return (
        str(msg.get("Return-Path", "")).strip() == "<>"
        or (msg.get("From") is not None and not parseaddr(_header(msg, "From"))[1])
        or bool(SYSTEM_SENDERS.search(sender))
        # "Re: Not delivered yet?" answers a step of ours with such a subject: a person's reply
        or bool(BOUNCE_SUBJECTS.search(subject) and not REPLY_PREFIX.match(subject))
    )


def _responder(msg: Message) -> bool:
    """Said to be a person's automatic responder (RFC 3834 and the common headers), as opposed
    to the weaker signs (Precedence: bulk, auto-generated) that MTAs' reports carry too."""
    if _header(msg, "Auto-Submitted").strip().lower().startswith("auto-replied"):
        return True
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Vacation")):
        return True
    return bool(AUTO_SUBJECTS.search(_header(msg, "Subject")))


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


def _from_dsn(msg: Message, own_id: str, text: str) -> Classification | None:
    """The verdict of a message/delivery-status part (RFC 3464), wherever it sits; None if there
    is none or it names no action."""
    fields = _dsn_fields(msg)
    actions = [f.get("action", "").lower().strip() for f in fields]
    if not any(actions):
        return None
    original = _original_message_id(msg, own_id)
    failed = [f for f, a in zip(fields, actions, strict=True) if a.startswith(FAILED_ACTIONS)]
    if not failed:
        delayed = [f for f, a in zip(fields, actions, strict=True) if a.startswith("delayed")]
        chosen = delayed or fields
        statuses = [m.group(0) for f in chosen if (m := STATUS.search(f.get("status", "")))]
        kind: BounceType = "delayed" if delayed else "not_failure"
        return Classification("bounce", kind, statuses[0] if statuses else None, original)
    statuses = [
        m.group(0)
        for f in failed
        if (m := STATUS.search(f.get("status", "")) or STATUS.search(f.get("diagnostic-code", "")))
    ]
    status = next((s for s in statuses if s.startswith("5")), None) or (
        statuses[0] if statuses else None
    )
    if status is None and (m := STATUS.search(text)) and not m.group(0).startswith("2"):
        status = m.group(0)
    diagnostics = "\n".join(f.get("diagnostic-code", "") for f in failed) or text
    return Classification("bounce", _bounce_type_from_status(status, diagnostics), status, original)


def classify(msg: Message, *, use_flufl: bool = True) -> Classification:
    """What the message is. ``use_flufl=False`` leaves out flufl.bounce's detectors (to measure
    the hand-written rules alone: bench/classify_corpus.py)."""
    own_id = str(msg.get("Message-ID", "")).strip()
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type") or "").lower()
    text = _text(msg)
    subject = _header(msg, "Subject")
    dsn = _from_dsn(msg, own_id, text)
    if dsn is not None:
        return dsn
    if ctype == "multipart/report" and report_type == "feedback-report":
        return Classification("bounce", "not_failure", None, _original_message_id(msg, own_id))
    if SES_DELIVERY.search(text):  # Amazon SES's notice that a message *was* delivered
        return Classification("bounce", "not_failure", None, _original_message_id(msg, own_id))

    temporary, permanent = _flufl(msg) if use_flufl else (False, False)
    sender = _header(msg, "From") + " " + str(msg.get("Return-Path", ""))
    empty_return_path = str(msg.get("Return-Path", "")).strip() in ("<>", "")
    looks_like_bounce = bool(BOUNCE_SENDERS.search(sender)) and (
        bool(BOUNCE_SUBJECTS.search(subject))
        or empty_return_path
        or bool(PERMANENT_WORDS.search(text))
    )
    looks_like_bounce = looks_like_bounce or bool(
        BOUNCE_SUBJECTS.search(subject) and (STATUS.search(text) or PERMANENT_WORDS.search(text))
    )
    # Checked before auto-replies: Exim and others stamp their DSNs "Auto-Submitted" too. But
    # an auto-replied notice with no status or SMTP code at all is a responder, not an MTA.
    if (
        looks_like_bounce
        and _header(msg, "Auto-Submitted").lower().startswith("auto-replied")
        and not STATUS.search(text)
        and not SMTP_CODE.search(text)
        and not msg.get("X-Failed-Recipients")
        and not (temporary or permanent)
        and not re.search(r"mailer[-_ ]?daemon", _header(msg, "From"), re.I)
    ):
        looks_like_bounce = False
    if msg.get("X-Failed-Recipients"):  # Exim, Google: only MTAs write this header
        looks_like_bounce = True
    if temporary or permanent:  # flufl.bounce found the failed recipients
        looks_like_bounce = True
    if not looks_like_bounce and not _responder(msg) and _from_mail_system(msg, subject):
        # A report nothing above recognised (no failed recipient found): never a reply. Soft
        # unless it says more: without a named failure, the address is not suppressed.
        looks_like_bounce = True
        if not STATUS.search(text) and not PERMANENT_WORDS.search(text):
            kind: BounceType = "delayed" if _is_delay_warning(subject, text) else "soft"
            return Classification("bounce", kind, None, _original_message_id(msg, own_id))
    if looks_like_bounce:
        if (temporary and not permanent) or _is_delay_warning(subject, text):
            return Classification("bounce", "delayed", None, _original_message_id(msg, own_id))
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
