"""The web address of an ATS record ("Open in Crelate"), made from a pattern: the one an
administrator configured (OUTBOUND_<ATS>_RECORD_URL), else the connector's unverified one.

A pattern holds ``{id}`` and may hold ``{firm}`` (Clockwork's subdomain) and ``{host}`` (the
host the connection's API calls go to, when it is one of the ATS's own: Crelate's web app and
API share it). Every value is checked before it goes in (ids are GUIDs or whole numbers, a
firm is a subdomain, a host one of the ATS's own): a link is never made of unchecked data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from outbound.connectors.clockwork import unverified as clockwork_facts
from outbound.connectors.crelate import unverified as crelate_facts

PLACEHOLDERS = ("{id}", "{firm}", "{host}")
_GUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_NUMBER = re.compile(r"^[0-9]{1,20}$")
_FIRM = re.compile(r"^[A-Za-z0-9-]{1,100}$")
_BRACES = re.compile(r"\{[^}]*\}")

# (pattern, API hosts it applies to): the connector's unverified address of a record's page.
# Only for a connection to the ATS itself: a simulator (or a proxy) has no such pages.
UNVERIFIED: dict[str, tuple[str, tuple[str, ...]]] = {
    "crelate": (crelate_facts.RECORD_URL, crelate_facts.RECORD_URL_HOSTS),
    "clockwork": (clockwork_facts.RECORD_URL, clockwork_facts.RECORD_URL_HOSTS),
}


@dataclass(frozen=True)
class RecordLink:
    url: str
    confirmed: bool  # False: the connector's unverified pattern, not one an administrator set


def pattern_problem(pattern: str) -> str | None:
    """Why a configured pattern cannot be used, or None."""
    if urlsplit(pattern).scheme not in ("http", "https") or not urlsplit(pattern).netloc:
        return "must be an http(s) address"
    if "{id}" not in pattern:
        return "must contain {id}"
    unknown = [p for p in _BRACES.findall(pattern) if p not in PLACEHOLDERS]
    if unknown or pattern.count("{") != len(_BRACES.findall(pattern)):
        return "may only contain {id}, {firm} and {host} in braces"
    return None


def record_link(
    provider: str, record_id: str, org: str, api_base_url: str, configured: str | None
) -> RecordLink | None:
    """The record's web address, or None when no pattern applies or a value fails its check.

    ``org`` is what the connection stored as its organisation (Crelate: its API URL; Clockwork:
    the firm); ``api_base_url`` is where the connection's calls go."""
    if not (_GUID.match(record_id) or _NUMBER.match(record_id)):
        return None
    host = urlsplit(api_base_url).hostname or ""
    values = {"{id}": record_id, "{firm}": org if _FIRM.match(org) else None, "{host}": None}
    if configured:
        pattern, confirmed = configured, True
    elif provider in UNVERIFIED and host in UNVERIFIED[provider][1]:
        pattern, confirmed = UNVERIFIED[provider][0], False
    else:
        return None
    if host in UNVERIFIED.get(provider, ("", ()))[1]:
        values["{host}"] = host  # one of the ATS's own hosts, never one read from a record
    url = pattern
    for placeholder, value in values.items():
        if placeholder in url:
            if value is None:
                return None
            url = url.replace(placeholder, quote(value, safe=""))
    return RecordLink(url, confirmed)


def self_links(record: Any, record_id: str) -> Iterator[tuple[str, str]]:
    """(field, address) of each web address in an ATS record that names the record's own id:
    what ``outbound doctor`` looks for to learn whether the ATS hands out record links."""
    if not record_id:
        return
    if isinstance(record, dict):
        for key, value in record.items():
            if isinstance(value, str):
                if _web_address(value) and record_id.lower() in value.lower():
                    yield str(key), value
            else:
                for inner, address in self_links(value, record_id):
                    yield f"{key}.{inner}", address
    elif isinstance(record, list):
        for item in record:
            yield from self_links(item, record_id)


def _web_address(value: str) -> bool:
    # An API address (an echoed request URL, which may carry the key) is not a web page.
    api = ("/api3/", "/v3.0/", "api_key=", "api.clockworkrecruiting.com")
    return value.startswith(("http://", "https://")) and not any(a in value for a in api)
