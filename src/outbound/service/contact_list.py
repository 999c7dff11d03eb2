"""One sequence's contacts a page at a time: a status tab, a search, a sort, and an opaque
keyset cursor (no OFFSET: a page costs the same at contact 50 or 100,000, and contacts added
while someone pages appear at their place without shifting or repeating the others).

The tabs come from outbound.domain.contact_tabs; the counts of all tabs are one grouped query
(or, without a search, worked out from the sequence's groups the page reads anyway)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from outbound.domain.contact_tabs import ALL, TAB_KEYS, TABS, Test, rules_before, tab_of
from outbound.domain.text import text_problem
from outbound.service.caller import Caller
from outbound.service.errors import Invalid
from outbound.service.sequence_figures import Group
from outbound.service.sequences import get_sequence
from outbound.store.models import Contact, Enrollment

PAGE_SIZE = 50
# The REST API has always allowed pages of 1000; the web app asks for at most WEB_MAX_PAGE.
MAX_PAGE_SIZE = 1000
WEB_MAX_PAGE = 200
MAX_QUERY = 200  # characters of a search
SORTS = ("added", "-added", "name", "-name", "status", "-status")
DEFAULT_SORT = "added"  # the order contacts were added in, as the planner sends


@dataclass(frozen=True)
class ContactFilter:
    tab: str = ALL
    q: str = ""


@dataclass
class ContactPage:
    rows: list[tuple[Enrollment, Contact]]
    next_cursor: str | None
    prev_cursor: str | None


# -- the tabs in SQL --------------------------------------------------------------------
def _column(name: str) -> Any:
    return getattr(Enrollment, name)


def _test(test: Test) -> ColumnElement[bool]:
    column, values = test
    col = _column(column)
    return col.is_not(None) if values is None else col.in_(values)


def _fails(test: Test) -> ColumnElement[bool]:
    """NOT test, with NULL counted as "does not match" (a bare NOT IN is NULL on NULL)."""
    column, values = test
    col = _column(column)
    return col.is_(None) if values is None else or_(col.is_(None), col.not_in(values))


def tab_condition(tab: str) -> ColumnElement[bool] | None:
    """The WHERE of one tab: its own test and none of the tests before it (None: all)."""
    if tab == ALL:
        return None
    if tab not in TAB_KEYS:
        raise Invalid(
            f"unknown status tab {tab[:40]!r}; one of: all, {', '.join(TAB_KEYS)}", "status"
        )
    earlier, own = rules_before(tab)
    parts = [_fails(t) for t in earlier] + ([_test(own)] if own is not None else [])
    return and_(*parts)


def _tab_case() -> ColumnElement[str]:
    whens = [(_test(t.test), t.key) for t in TABS if t.test is not None]
    return case(*whens, else_=TABS[-1].key)


def _status_rank() -> ColumnElement[int]:
    whens = [(_test(t.test), n) for n, t in enumerate(TABS) if t.test is not None]
    return case(*whens, else_=len(TABS) - 1)


def _like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _full_name() -> ColumnElement[str]:
    return func.coalesce(Contact.first_name, "") + " " + func.coalesce(Contact.last_name, "")


def search_condition(q: str) -> ColumnElement[bool] | None:
    """Name, email or company containing ``q``, case-insensitive."""
    q = q.strip().lower()
    if not q:
        return None
    if len(q) > MAX_QUERY:
        raise Invalid(f"a search has at most {MAX_QUERY} characters", "q")
    problem = text_problem(q)
    if problem:  # PostgreSQL refuses NUL even in a parameter
        raise Invalid(f"the search {problem}", "q")
    pattern = _like_pattern(q)
    return or_(
        *(
            func.lower(col).like(pattern, escape="\\")
            for col in (_full_name(), Contact.email, Contact.company)
        )
    )


def _where(query: Select[Any], caller: Caller, sequence_id: int, flt: ContactFilter) -> Select[Any]:
    query = query.where(Enrollment.sequence_id == sequence_id, Enrollment.team_id == caller.team_id)
    tab = tab_condition(flt.tab)
    if tab is not None:
        query = query.where(tab)
    search = search_condition(flt.q)
    if search is not None:
        query = query.where(search)
    return query


# -- counts -------------------------------------------------------------------------------
def count_tabs(session: Session, caller: Caller, sequence_id: int, q: str = "") -> dict[str, int]:
    """Contacts per tab (and "all"), among those the search matches: one grouped query."""
    get_sequence(session, caller, sequence_id)
    inner = select(_tab_case().label("tab")).select_from(Enrollment)
    if q.strip():
        inner = inner.join(Contact, Contact.id == Enrollment.contact_id)
    sub = _where(inner, caller, sequence_id, ContactFilter(ALL, q)).subquery()
    counts = {key: 0 for key in TAB_KEYS}
    for tab, n in session.execute(select(sub.c.tab, func.count()).group_by(sub.c.tab)):
        counts[tab] = int(n)
    return {ALL: sum(counts.values()), **counts}


def tab_counts_of(groups: Iterable[Group]) -> dict[str, int]:
    """`count_tabs` without a search, from `sequence_figures.sequence_groups` (the domain's
    rules in Python are the same rules count_tabs runs in SQL)."""
    counts = dict.fromkeys(TAB_KEYS, 0)
    for g in groups:
        counts[tab_of(g.state, g.engagement, g.error_code, g.sentiment)] += g.contacts
    return {ALL: sum(counts.values()), **counts}


# -- the cursor ---------------------------------------------------------------------------
def _encode(sort: str, direction: str, key: Any, row_id: int) -> str:
    raw = json.dumps([sort, direction, key, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> tuple[str, Any, int]:
    """(direction, key, id) of a cursor made by this module for this sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        c_sort, direction, key, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise Invalid("the cursor is not one this list gave", "cursor") from None
    # The key's type is the sort's (name: text, status: a rank, added: none): PostgreSQL
    # refuses to compare text with a number, which a forged cursor would otherwise make a 500.
    field = str(c_sort).lstrip("-")
    wanted: type | None = {"name": str, "status": int}.get(field)
    valid_key = key is None or (
        (wanted is str and isinstance(key, str))
        or (
            wanted is int
            and isinstance(key, int)
            and not isinstance(key, bool)
            and abs(int(key)) < 2**31
        )
    )
    if c_sort != sort or direction not in ("n", "p") or not valid_key:
        raise Invalid("the cursor belongs to another sort or list", "cursor")
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id < 2**63:
        raise Invalid("the cursor is not one this list gave", "cursor")
    return direction, key, row_id


def _sort_key(field: str) -> ColumnElement[Any] | None:
    if field == "name":
        return func.lower(_full_name())
    if field == "status":
        return _status_rank()
    return None  # "added": the id alone (ids grow as contacts are added)


def _after(
    key: ColumnElement[Any] | None, value: Any, row_id: int, ascending: bool
) -> ColumnElement[bool]:
    ident = Enrollment.id
    if key is None:
        return ident > row_id if ascending else ident < row_id
    beyond = key > value if ascending else key < value
    tie = ident > row_id if ascending else ident < row_id
    return or_(beyond, and_(key == value, tie))


# -- a page -------------------------------------------------------------------------------
def list_page(
    session: Session,
    caller: Caller,
    sequence_id: int,
    flt: ContactFilter = ContactFilter(),
    sort: str = DEFAULT_SORT,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> ContactPage:
    """One page of the sequence's contacts in the tab, matching the search, in ``sort``
    ("-" first: descending), after (or, for a "previous" cursor, before) ``cursor``.
    ``offset`` (rows skipped, after the cursor if any) serves API clients from before
    cursors."""
    get_sequence(session, caller, sequence_id)
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}", "sort")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE_SIZE}", "limit")
    descending = sort.startswith("-")
    key = _sort_key(sort.lstrip("-"))
    direction, value, row_id = _decode(cursor, sort) if cursor else ("n", None, 0)
    backwards = direction == "p"
    ascending = descending == backwards  # a "previous" page reads the other way, then flips

    columns: list[Any] = [Enrollment, Contact]
    if key is not None:
        columns.append(key.label("sort_key"))
    query = _where(
        select(*columns).join(Contact, Contact.id == Enrollment.contact_id),
        caller,
        sequence_id,
        flt,
    )
    if cursor:
        query = query.where(_after(key, value, row_id, ascending))
    order = [] if key is None else [key.asc() if ascending else key.desc()]
    order.append(Enrollment.id.asc() if ascending else Enrollment.id.desc())
    query = query.order_by(*order).limit(limit + 1)
    if offset:
        query = query.offset(offset)
    found = list(session.execute(query).all())
    more = len(found) > limit
    found = found[:limit]
    if backwards:
        found.reverse()

    def mark(row: Any, to: str) -> str:
        return _encode(sort, to, None if key is None else row.sort_key, row[0].id)

    next_cursor = prev_cursor = None
    if found:
        first, last = found[0], found[-1]
        if backwards:
            next_cursor = mark(last, "n")
            prev_cursor = mark(first, "p") if more else None
        else:
            next_cursor = mark(last, "n") if more else None
            prev_cursor = mark(first, "p") if cursor or offset else None
    return ContactPage([(r[0], r[1]) for r in found], next_cursor, prev_cursor)


def matching_ids(
    session: Session,
    caller: Caller,
    sequence_id: int,
    flt: ContactFilter,
    after: int,
    size: int,
) -> list[int]:
    """The next ``size`` ids (above ``after``, in id order) of contacts in the tab and search:
    bulk work over "all matching" goes through them a chunk at a time."""
    query = select(Enrollment.id)
    if flt.q.strip():
        query = query.join(Contact, Contact.id == Enrollment.contact_id)
    query = _where(query, caller, sequence_id, flt)
    rows = session.scalars(query.where(Enrollment.id > after).order_by(Enrollment.id).limit(size))
    return list(rows)
