"""The status tabs of a sequence's contacts list: which tab a contact is in, as an ordered list
of rules over the enrollment's columns (the first rule that matches wins), so that every contact
is in exactly one tab and the tabs' counts add up to the sequence's contacts.

Pure: the service turns the same rules into SQL (a CASE for the counts, a WHERE for a tab)."""

from __future__ import annotations

from dataclasses import dataclass

# A rule's test: (column, values). values=None means "is set" (not null).
Test = tuple[str, tuple[str, ...] | None]


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    test: Test | None  # None: the tab that takes what no rule before it took


# In the order they are tested (and shown). An error wins over everything (it needs a person);
# a sentiment the recruiter gave wins over where the mail stands.
TABS: tuple[Tab, ...] = (
    Tab("needs_attention", "Needs attention", ("error_code", None)),
    Tab("interested", "Interested", ("sentiment", ("interested",))),
    Tab("not_interested", "Not interested", ("sentiment", ("not_interested",))),
    Tab("replied", "Replied", ("state", ("replied",))),
    Tab("bounced", "Bounced", ("state", ("bounced",))),
    Tab("unsubscribed", "Unsubscribed", ("state", ("unsubscribed", "do_not_contact"))),
    Tab("paused", "Paused", ("state", ("paused",))),
    Tab("finished", "Finished", ("state", ("finished",))),
    Tab("messaged", "Messaged", ("engagement", None)),
    Tab("scheduled", "Scheduled", None),
)
TAB_KEYS: tuple[str, ...] = tuple(t.key for t in TABS)
ALL = "all"  # not a tab of its own: every contact
LABELS = {ALL: "All", **{t.key: t.label for t in TABS}}


def _matches(test: Test, values: dict[str, str | None]) -> bool:
    column, wanted = test
    value = values.get(column)
    return value is not None if wanted is None else value in wanted


def tab_of(
    state: str, engagement: str | None, error_code: str | None, sentiment: str | None
) -> str:
    """The one tab a contact is in (the same answer the SQL gives)."""
    values = {
        "state": state,
        "engagement": engagement,
        "error_code": error_code,
        "sentiment": sentiment,
    }
    for tab in TABS:
        if tab.test is None or _matches(tab.test, values):
            return tab.key
    raise AssertionError("the last tab takes every contact")


def rules_before(key: str) -> tuple[tuple[Test, ...], Test | None]:
    """For the tab ``key``: the tests of the tabs before it (a contact must fail them all) and
    its own test (None: nothing more)."""
    index = TAB_KEYS.index(key)
    earlier = tuple(t.test for t in TABS[:index] if t.test is not None)
    return earlier, TABS[index].test
