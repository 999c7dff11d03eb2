"""The design pass (issue 16) in Chromium: every page at 1280 and 390 px holds together (no
sideways scrolling of the page), every button has an accessible name, banners carry the role
their kind needs (an error is an alert; success and retrying are a status), and a screenshot of
each page at each width lands in tests/artifacts."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import CRELATE_KEYS
from tests.web.conftest import LiveTeam, Shots, overflows_horizontally, sign_in_with_keyboard

STEP = [{"subject": "Hi {{first_name}}", "body": "A role for you?", "delay_days": 0}]
WIDTHS = ((1280, 900), (390, 844))


def unnamed_buttons(page: Page) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('button, [role=button], a.button, summary')]
                .filter(b => b.offsetParent !== null)
                .filter(b => !((b.innerText || b.textContent || '').trim()
                               || b.getAttribute('aria-label')
                               || b.getAttribute('aria-labelledby') || b.title))
                .map(b => b.outerHTML.slice(0, 120))"""
        )
    )


def misplaced_banner_roles(page: Page) -> list[str]:
    """Error banners must be alerts; the others a status or a note (or sit inside one)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('.banner')].filter(b => {
                const role = b.getAttribute('role');
                const inLive = b.parentElement.closest('[role=status],[role=alert]');
                if (b.classList.contains('error')) return role !== 'alert' && !inLive;
                return !['status', 'note'].includes(role) && !inLive;
            }).map(b => b.className + ' role=' + b.getAttribute('role'))"""
        )
    )


def wider_than_the_screen(page: Page) -> list[str]:
    """Elements sticking out of the viewport on the right (what makes a page scroll)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.closest('.table-wrap') === null)
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
        )
    )


def check(page: Page, shots: Shots, name: str) -> None:
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        assert not overflows_horizontally(page), (name, width, wider_than_the_screen(page))
        assert unnamed_buttons(page) == [], (name, width)
        assert misplaced_banner_roles(page) == [], (name, width)
        shots(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_every_page_holds_together_at_desktop_and_phone_widths(
    page: Page, live: LiveTeam, crelate: object, shots: Shots
) -> None:
    r = live.api(
        "PUT",
        "/connection",
        "owner",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    seq = live.api(
        "POST",
        "/sequences",
        json={"name": "Principal platform engineers, EMEA and North America", "steps": STEP},
    ).json()
    people = [
        {
            "email": f"someone.with.a.long.address.{i}@a-rather-long-company-domain.example.com",
            "first_name": "Maximiliana",
            "last_name": f"Featherstonehaugh-{i}",
            "company": "Globex International Holdings",
        }
        for i in range(4)
    ]
    added = live.api("POST", f"/sequences/{seq['id']}/contacts", json={"contacts": people})
    assert added.status_code == 201, added.text

    page.goto(live.url + "/login")
    check(page, shots, "login")
    sign_in_with_keyboard(page, live, "owner")
    # The owner has no mailbox: the dashboard shows stuck work as an alert banner.
    expect(page.locator(".banner.error").first).to_have_attribute("role", "alert")
    check(page, shots, "dashboard")

    for path, name in (
        ("/sequences", "sequences"),
        ("/sequences/new", "sequence-new"),
        (f"/sequences/{seq['id']}", "sequence-contacts"),
        (f"/sequences/{seq['id']}/steps", "sequence-steps"),
        (f"/sequences/{seq['id']}/syncing", "sequence-syncing"),
        ("/integrations", "integrations"),
        ("/mailbox", "mailbox"),
        ("/account", "account"),
    ):
        answer = page.goto(live.url + path)
        assert answer is not None and answer.status == 200, path
        check(page, shots, name)

    # A success banner after an action is a status, with its own look.
    page.goto(live.url + "/integrations")
    page.get_by_role("button", name="Save settings").click()
    done = page.locator(".banner.success")
    expect(done).to_have_attribute("role", "status")
    expect(done).to_contain_text("Settings saved")
    check(page, shots, "integrations-saved")
    # And a refused one is an alert, not dressed as a success.
    page.goto(live.url + "/integrations?problem=Pick at least one teammate.")
    expect(page.locator(".banner.error")).to_have_attribute("role", "alert")
