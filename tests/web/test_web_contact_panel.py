"""Issue 16 in Chromium: a contact whose step uses {{company}} without a company. While
Crelate is down the panel says the sync is retrying and when; once it is back the mail error
shows; the recruiter opens the contact, fills Company, saves and resumes, and the mail goes
out (the live server's own workers, a mailbox on the test SMTP sink). The prospect's reply
then shows in the thread. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from outbound.settings import Settings
from tests.conftest import CRELATE_KEYS, Sim
from tests.mail import conftest as mail_fixtures
from tests.mail.conftest import SMTP_PASSWORD, SMTP_USER, SmtpSink, reply_to
from tests.web.conftest import LiveTeam, Shots, overflows_horizontally, reload_until

smtp_sink = mail_fixtures.smtp_sink  # the mail tests' SMTP sink, used here by name
STEP = [{"subject": "A role at {{company}}", "body": "Hi {{first_name}}, how is {{company}}?"}]


@pytest.fixture
def mail_on(settings: Settings) -> Settings:
    """Before the live server starts: a fast mail clock and a local Maildir for replies."""
    settings.allow_maildir = True
    settings.mail_day_seconds = 0.2
    settings.mail_poll_seconds = 0.5
    settings.public_url = "http://127.0.0.1"
    return settings


def _mailbox(live: LiveTeam, sink: SmtpSink, inbox: Path) -> None:
    mailbox.Maildir(str(inbox), create=True)
    body: dict[str, Any] = {
        "email": live.emails["recruiter"],
        "from_name": "Riley Recruiter",
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_security": "none",
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "inbound_kind": "maildir",
        "maildir_path": str(inbox),
        "time_zone": "UTC",
        "window_start": "00:00",
        "window_end": "00:00",
        "send_days": [0, 1, 2, 3, 4, 5, 6],
        "daily_limit": 5000,
    }
    r = live.api("PUT", "/mailbox", "recruiter", json=body)
    assert r.status_code == 200, r.text


def _sign_in(page: Page, live: LiveTeam) -> None:
    page.goto(live.url + "/login")
    page.get_by_label("Email", exact=True).fill(live.emails["recruiter"])
    page.get_by_label("Password").fill(live.passwords["recruiter"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not url.endswith("/login"))


def _both_widths(page: Page, shots: Shots, name: str) -> None:
    shots(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows_horizontally(page), f"{name}: the page scrolls sideways at 390 px"
    shots(page, f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_fix_a_missing_company_from_the_panel_then_see_the_reply(
    mail_on: Settings,
    live: LiveTeam,
    crelate: Sim,
    smtp_sink: SmtpSink,
    page: Page,
    shots: Shots,
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "riley-inbox"
    _mailbox(live, smtp_sink, inbox)
    r = live.api(
        "PUT",
        "/connection",
        "recruiter",
        json={"provider": "crelate", "credentials": {"api_key": CRELATE_KEYS["alice"]}},
    )
    assert r.status_code == 200, r.text
    r = live.api("POST", "/sequences", "recruiter", json={"name": "Founders", "steps": STEP})
    assert r.status_code == 201, r.text
    seq_id = r.json()["id"]

    # Crelate goes down before the contact is added: its sync retries.
    crelate.faults(error_rate=1.0)
    person = {"email": "nia@talent.example.com", "first_name": "Nia", "last_name": "Okafor"}
    r = live.api("POST", f"/sequences/{seq_id}/contacts", "recruiter", json={"contacts": [person]})
    assert r.status_code == 201, r.text
    eid = r.json()["enrollment_ids"][0]

    _sign_in(page, live)
    page.goto(f"{live.url}/enrollments/{eid}")
    expect(page.get_by_role("heading", name="Nia Okafor")).to_be_visible()
    retrying = page.locator(".problem", has_text="Retrying: could not reach Crelate")
    reload_until(page, retrying)
    expect(retrying).to_contain_text("Trying again at")
    expect(page.locator(".history")).to_contain_text("Failed to reach Crelate")
    expect(page.locator(".history")).to_contain_text("trying again at")
    _both_widths(page, shots, "contact-ats-retrying")

    # Crelate is back: the sync goes through, then the step cannot be written.
    crelate.faults(error_rate=0.0)
    missing = page.locator(".problem", has_text="A step cannot be written")
    reload_until(page, missing, timeout=60)
    expect(missing).to_contain_text("{{company}}")
    expect(page.locator(".problem", has_text="Retrying")).to_have_count(0)
    expect(page.locator(".history")).to_contain_text("Created in Crelate as Nia Okafor")
    _both_widths(page, shots, "contact-missing-company")

    # Resume without the value: the error stays and names the variable.
    page.get_by_role("button", name="Save and resume").click()
    expect(page.get_by_role("status")).to_contain_text("Not resumed")
    expect(page.get_by_role("status")).to_contain_text("{{company}}")
    assert smtp_sink.messages == []

    # A bad email is refused beside its field, what was typed kept.
    page.get_by_label("Email", exact=True).fill("nia-at-talent")
    page.get_by_label("Company", exact=True).fill("Hooli")
    page.get_by_role("button", name="Save and resume").click()
    expect(page.locator("#e-cp-email")).to_contain_text("not an email address")
    expect(page.get_by_label("Company", exact=True)).to_have_value("Hooli")
    shots(page, "contact-field-error")

    page.get_by_label("Email", exact=True).fill("nia@talent.example.com")
    page.get_by_role("button", name="Save and resume").click()
    expect(page.get_by_role("status")).to_contain_text("Resumed")
    # Saved from the page, the panel stays the page's own (its heading, no "Open as a page").
    expect(page.get_by_role("heading", name="Nia Okafor", level=1)).to_be_visible()
    expect(page.locator(".problem", has_text="A step cannot be written")).to_have_count(0)
    sent = page.locator(".msg.out", has_text="A role at Hooli")
    reload_until(page, sent, timeout=60)
    expect(sent).to_contain_text("Hi Nia, how is Hooli?")
    assert [m["Subject"] for m in smtp_sink.messages] == ["A role at Hooli"]

    # The prospect answers: the reply's own text shows in the thread, after the email.
    mailbox.Maildir(str(inbox)).add(reply_to(smtp_sink.messages[0], "Tuesday works, call me."))
    reply = page.locator(".msg.in", has_text="Tuesday works, call me.")
    reload_until(page, reply, timeout=60)
    expect(reply).to_contain_text("Reply")
    expect(reply).not_to_contain_text("earlier text")  # the quoted original is left out
    expect(page.locator(".cp-head .badge").first).to_have_text("Replied")
    page.get_by_text("Technical details").click()
    expect(page.locator(".tech .calls")).to_contain_text("POST")
    _both_widths(page, shots, "contact-thread-with-reply")
