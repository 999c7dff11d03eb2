"""Issue 18 in Chromium: a recruiter connects the mailbox with "Connect with Google" (the OAuth
simulator's real consent page), a sequence then sends over SMTP with XOAUTH2 and a reply is read
over IMAP with XOAUTH2; the mailbox page never shows a token."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from outbound.settings import Settings
from outbound.simulators.oauth.app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
)
from tests.mail import dovecot
from tests.mail.conftest import (  # noqa: F401 (fixtures)
    OAuthProvider,
    SmtpSink,
    imap_xoauth2,
    oauth_imap_server,
    oauth_provider,
    reply_to,
    xoauth2_smtp_sink,
)
from tests.web.conftest import LiveTeam, Shots, go, reload_until, sign_in_with_keyboard


@pytest.fixture
def google_live(
    settings: Settings,
    oauth_provider: OAuthProvider,  # noqa: F811
    xoauth2_smtp_sink: SmtpSink,  # noqa: F811
    oauth_imap_server: dovecot.Dovecot,  # noqa: F811
) -> Iterator[Settings]:
    settings.google_client_id = DEFAULT_CLIENT_ID
    settings.google_client_secret = SecretStr(DEFAULT_CLIENT_SECRET)
    settings.google_discovery_url = oauth_provider.url + "/.well-known/openid-configuration"
    settings.oauth_smtp_server = f"127.0.0.1:{xoauth2_smtp_sink.port}:none"
    settings.oauth_imap_server = f"127.0.0.1:{oauth_imap_server.port}:none"
    settings.mail_poll_seconds = 0
    yield settings


def test_connect_with_google_in_the_browser_then_send_and_read_a_reply(
    page: Page,
    google_live: Settings,
    live: LiveTeam,
    oauth_provider: OAuthProvider,  # noqa: F811
    xoauth2_smtp_sink: SmtpSink,  # noqa: F811
    oauth_imap_server: dovecot.Dovecot,  # noqa: F811
    shots: Shots,
) -> None:
    # The hosting engineer registered this server's callback with "Google".
    callback = live.url + "/mailbox/oauth/callback"
    google_live.oauth_redirect_url = callback
    oauth_provider.admin(
        "POST",
        "/clients",
        json={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "redirect_uris": [*DEFAULT_REDIRECT_URIS, callback],
        },
    )
    account = oauth_provider.new_account()

    sign_in_with_keyboard(page, live, "recruiter")
    go(page, "Mailbox")
    shots(page, "mailbox-connect-choices")
    page.get_by_role("button", name="Connect with Google").click()

    # Google's consent page (the simulator's): choose the account, allow.
    expect(
        page.get_by_role("heading", name=re.compile("wants to access your Google"))
    ).to_be_visible()
    page.locator(f"input[name=account][value='{account}']").check()
    shots(page, "google-consent")
    page.locator("button[value=allow]").click()

    expect(page).to_have_url(re.compile(r"/mailbox\?done="))
    expect(page.get_by_role("status")).to_contain_text(f"Connected with Google as {account}")
    expect(page.get_by_text("Outbound sends and reads replies with the access")).to_be_visible()
    shots(page, "mailbox-connected")
    page.set_viewport_size({"width": 390, "height": 844})
    shots(page, "mailbox-connected-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    html = page.content()
    grant = oauth_provider.admin("GET", "/tokens")
    assert all(str(t.get("token", "")) not in html for t in grant if t.get("token"))

    # Every day, all day: the form for a connected mailbox is the schedule alone.
    schedule = page.locator("form[action='/mailbox/schedule']")
    schedule.get_by_label("From", exact=True).fill("00:00")
    schedule.get_by_label("Until").fill("00:00")
    for day in ("Sat", "Sun"):
        schedule.get_by_label(day).check()
    schedule.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Sending schedule saved")

    # A sequence with one step and one contact: it goes out over SMTP with XOAUTH2.
    r = live.api(
        "POST",
        "/sequences",
        "recruiter",
        json={
            "name": "Google outreach",
            "steps": [{"subject": "Hi {{first_name}}", "body": "A role?"}],
        },
    )
    assert r.status_code == 201, r.text
    seq = r.json()["id"]
    r = live.api(
        "POST",
        f"/sequences/{seq}/contacts",
        "recruiter",
        json={
            "contacts": [{"email": "ada@talent.example.com", "first_name": "Ada", "last_name": "L"}]
        },
    )
    assert r.status_code == 201, r.text
    deadline_page = page  # the worker runs in the live server
    for _ in range(60):
        if xoauth2_smtp_sink.messages:
            break
        deadline_page.wait_for_timeout(500)
    (sent,) = xoauth2_smtp_sink.messages
    assert sent["From"].addresses[0].addr_spec == account

    # The reply lands in the IMAP inbox (Dovecot, XOAUTH2) and is read with XOAUTH2.
    token = oauth_provider.tokens(account)["access_token"]
    conn = imap_xoauth2(oauth_imap_server.port, account, token)
    try:
        conn.append("INBOX", "", None, reply_to(sent, "Happy to talk.").as_bytes())  # type: ignore[arg-type]
    finally:
        conn.logout()
    page.goto(f"{live.url}/sequences/{seq}")
    reload_until(page, page.get_by_text("Replied"), timeout=60)
    shots(page, "contact-replied")
