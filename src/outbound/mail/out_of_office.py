"""When an out-of-office sender says they are back: "back on Monday, December 1", "returning
12/01/2026", "out until 2026-12-01". Pure; None when no usable date is found (the caller then
pauses for a week)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dateutil import parser as date_parser

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
DATE = re.compile(
    rf"(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})"
    rf"|(?P<numeric>\b\d{{1,2}}[/.]\d{{1,2}}(?:[/.]\d{{2,4}})?\b)"
    rf"|(?P<named>(?:{WEEKDAY},?\s+)?(?:(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}\.?"
    rf"|{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?)(?:,?\s+\d{{4}})?)"
    rf"|(?P<weekday>(?:next\s+)?{WEEKDAY})"
    rf"|(?P<tomorrow>tomorrow)",
    re.I,
)
# Words after which a date means "back then"; the date must follow within a short span.
RETURN_CUE = re.compile(
    r"\b(?:back|return(?:ing|s)?|until|till|til|through|thru|in the office|at my desk|"
    r"reachable|available)\b",
    re.I,
)
MAX_AHEAD = timedelta(days=120)


def _parse_match(match: re.Match[str], now: datetime) -> datetime | None:
    text = match.group(0)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if match.group("tomorrow"):
        return today + timedelta(days=1)
    if match.group("weekday"):
        name = text.lower().split()[-1]
        ahead = (WEEKDAYS.index(name) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text, flags=re.I)
    cleaned = re.sub(r"\b(the|of)\b", " ", cleaned, flags=re.I)
    try:
        parsed = date_parser.parse(cleaned, default=today.replace(tzinfo=None), fuzzy=True)
    except (ValueError, OverflowError):
        return None
    parsed = parsed.replace(tzinfo=now.tzinfo)
    has_year = bool(re.search(r"\d{4}|[/.]\d{2,4}\b", text))
    if parsed < today and not has_year:  # "December 1" said in late November of last year
        parsed = parsed.replace(year=parsed.year + 1)
    return parsed


def return_date(text: str, now: datetime) -> datetime | None:
    """The first plausible return date after a return cue, between today and four months out."""
    text = " ".join(text.split())[:4000]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for cue in RETURN_CUE.finditer(text):
        window = text[cue.end() : cue.end() + 60]
        match = DATE.search(window)
        if match is None:
            continue
        found = _parse_match(match, now)
        if found is not None and today <= found <= now + MAX_AHEAD:
            return found
    return None
