"""Return dates as out-of-office messages write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outbound.mail.out_of_office import return_date

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back in the office on Monday, December 7, 2026.", "2026-12-07"),
        ("Out of office until 2026-12-02. For urgent matters call 555-0100.", "2026-12-02"),
        ("I'm away, returning on 1 December.", "2026-12-01"),
        ("On leave until December 3rd, limited access to email.", "2026-12-03"),
        ("Back on Thursday.", "2026-11-26"),
        ("Back tomorrow", "2026-11-24"),
        ("I am out until 12/04/2026", "2026-12-04"),
        ("Away till Jan 5 - happy holidays!", "2027-01-05"),
    ],
)
def test_return_dates_are_found(text: str, expected: str) -> None:
    found = return_date(text, NOW)
    assert found is not None and f"{found:%Y-%m-%d}" == expected


@pytest.mark.parametrize(
    "text",
    [
        "I am out of the office with limited access to email.",
        "Back on 2019-01-01.",  # in the past
        "Returning 2029-06-01.",  # implausibly far: treat as unknown
        "Call me at 555 0100 ext 12.",
    ],
)
def test_no_usable_date(text: str) -> None:
    assert return_date(text, NOW) is None
