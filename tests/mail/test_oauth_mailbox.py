"""Issue 18: a mailbox connected with Google by OAuth 2.0 (the provider simulator), sending over
SMTP and reading replies over IMAP with XOAUTH2 (aiosmtpd and Dovecot asking the simulator
whether each token is live). Tokens that expire early are refreshed without a failed send; a
revoked grant holds the mail with "reconnect your mailbox" until the person connects again, and
nothing is sent twice."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update

from outbound.crypto import SecretBox
from outbound.mail.worker import MailWorker
from outbound.service.caller import Caller
from outbound.service.contact_problems import problems_of
from outbound.service.step_preview import send_test
from outbound.settings import Settings
from outbound.simulators.oauth import create_oauth_app
from outbound.simulators.oauth.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from outbound.simulators.oauth.browser import consent
from outbound.simulators.server import ServerThread
from outbound.store.db import Database
from outbound.store.models import Enrollment, Mailbox, OutboundEmail, User
from outbound.web.session import hash_password
from tests.conftest import Team
from tests.mail import dovecot
from tests.mail.conftest import (
    OAuthProvider,
    SmtpSink,
    imap_xoauth2,
    reply_to,
    run_until,
    xoauth2_sink,
)
from tests.mail.test_sequence_e2e import ada, sequence
from tests.test_sync_crelate import add, enrollment
from tests.test_web_sessions import try_sign_in

REDIRECT = "http://127.0.0.1:8000/mailbox/oauth/callback"  # registered with the simulator
STEPS = [
    {"subject": "Hello {{first_name}}", "body": "Hi {{first_name}}, a role at {{company}}?"},
    {"subject": "", "body": "Following up, {{first_name}}.", "delay_days": 1},
    {"subject": "", "body": "Last note from me.", "delay_days": 1},
]


PASSWORD = "correct horse battery"


def sign_in_web(client: TestClient, db: Database, user_id: int, email: str) -> None:
    """The browser the provider sends back to is signed in to Outbound as this user."""
    with db.session() as s:
        s.execute(
            update(User).where(User.id == user_id).values(password_hash=hash_password(PASSWORD))
        )
    assert try_sign_in(client, email, PASSWORD)[0] == 303


@pytest.fixture
def owner_signed_in(team: Team, db: Database) -> Team:
    sign_in_web(team.client, db, team.user_ids["owner"], "owner@acme.test")
    return team


@pytest.fixture
def google(
    owner_signed_in: Team,
    mail_settings: Settings,
    oauth_provider: OAuthProvider,
    xoauth2_smtp_sink: SmtpSink,
    oauth_imap_server: dovecot.Dovecot,
) -> Iterator[OAuthProvider]:
    """This server registered with "Google" (the simulator), its OAuth mailboxes pointed at the
    local SMTP and IMAP servers that take the simulator's tokens."""
    mail_settings.google_client_id = DEFAULT_CLIENT_ID
    mail_settings.google_client_secret = SecretStr(DEFAULT_CLIENT_SECRET)
    mail_settings.google_discovery_url = oauth_provider.url + "/.well-known/openid-configuration"
    mail_settings.oauth_redirect_url = REDIRECT
    mail_settings.oauth_smtp_server = f"127.0.0.1:{xoauth2_smtp_sink.port}:none"
    mail_settings.oauth_imap_server = f"127.0.0.1:{oauth_imap_server.port}:none"
    yield oauth_provider
    # The simulator lives for the session: give later tests their usual lifetimes back.
    oauth_provider.admin("PUT", "/token-lifetime", json={"access_token_seconds": 3599})


def connect_with_google(team: Team, account: str) -> httpx.Response:
    """What the person does: Connect with Google, consent as ``account``, come back."""
    started = team.call("POST", "/mailbox/oauth/google")
    assert started.status_code == 201, started.text
    url = started.json()["authorization_url"]
    with httpx.Client(timeout=10) as browser:
        back = consent(browser, url, account=account)
    assert back.startswith(REDIRECT), back
    callback = "/mailbox/oauth/callback?" + urlsplit(back).query
    answer = team.client.get(callback, follow_redirects=False)
    if answer.status_code == 303:  # every day, all day: the tests do not wait for Monday 9:00
        always = {"window_start": "00:00", "window_end": "00:00", "send_days": list(range(7))}
        patched = team.call("PATCH", "/mailbox", json={**always, "daily_limit": 5000})
        assert patched.status_code == 200, patched.text
    return answer


def first_step_sent(
    team: Team, google: OAuthProvider, sink: SmtpSink, worker: MailWorker
) -> tuple[str, int]:
    """A Google mailbox connected and a three-step sequence's first email out: the account
    and the contact's enrollment."""
    account = google.new_account()
    assert connect_with_google(team, account).status_code == 303
    seq = sequence(team, STEPS)
    (eid,) = add(team, seq, ada(1))
    run_until(worker, lambda: len(sink.messages) >= 1)
    return account, eid


def mailbox(team: Team) -> dict[str, Any]:
    return dict(team.call("GET", "/mailbox").json())


def deliver(imap_port: int, account: str, token: str, msg: Message) -> None:
    conn = imap_xoauth2(imap_port, account, token)
    try:
        conn.append("INBOX", "", None, msg.as_bytes())  # type: ignore[arg-type]
    finally:
        conn.logout()


def stored_refresh_token(db: Database, settings: Settings) -> str:
    with db.session() as s:
        sealed = s.scalar(select(Mailbox.secrets_encrypted))
    assert sealed is not None
    return str(SecretBox(settings.fernet_key).open(sealed)["refresh_token"])


def test_connect_with_google_then_send_and_read_a_reply_over_xoauth2(
    team: Team,
    google: OAuthProvider,
    xoauth2_smtp_sink: SmtpSink,
    oauth_imap_server: dovecot.Dovecot,
    mail_worker: MailWorker,
    mail_settings: Settings,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    providers = team.call("GET", "/mailbox/oauth/providers").json()
    assert providers == [{"name": "google", "title": "Google"}]
    account = google.new_account()

    back = connect_with_google(team, account)
    assert back.status_code == 303
    assert unquote(back.headers["location"]).startswith("/mailbox?done=Connected with Google as")
    mb = mailbox(team)
    # The address is the one Google vouched for; no form asked for it.
    assert (mb["email"], mb["auth_kind"], mb["oauth_provider"]) == (account, "oauth", "google")
    assert mb["status"] == "active"

    seq = sequence(team, STEPS)
    (eid,) = add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(xoauth2_smtp_sink.messages) >= 2)
    first, second = xoauth2_smtp_sink.messages[:2]
    assert first["From"].addresses[0].addr_spec == account
    assert first["Subject"] == "Hello Ada1"

    token = google.tokens(account)["access_token"]
    deliver(oauth_imap_server.port, account, token, reply_to(second, "Yes, let's talk."))
    run_until(mail_worker, lambda: enrollment(team, eid)["status"] == "replied")

    # The refresh token is in no answer, page or log line.
    refresh = stored_refresh_token(db, mail_settings)
    assert refresh
    answers = [
        team.call("GET", "/mailbox").text,
        team.client.get("/api/v1/openapi.json").text,
        str(back.headers),
    ]
    assert all(refresh not in text for text in answers)
    assert refresh not in caplog.text
    with db.session() as s:
        assert refresh.encode() not in bytes(s.scalar(select(Mailbox.secrets_encrypted)) or b"")


def test_a_token_that_expires_mid_sequence_is_refreshed_without_a_failed_send(
    team: Team,
    google: OAuthProvider,
    xoauth2_smtp_sink: SmtpSink,
    mail_worker: MailWorker,
    db: Database,
) -> None:
    _, eid = first_step_sent(team, google, xoauth2_smtp_sink, mail_worker)

    # Every token issued so far expires now (ours still looks live to us): the next step's
    # login is refused, and the worker gets a new token and sends.
    google.admin("PUT", "/token-lifetime", json={"access_token_seconds": 0})
    google.admin("PUT", "/token-lifetime", json={"access_token_seconds": 3599})
    run_until(mail_worker, lambda: len(xoauth2_smtp_sink.messages) == 3)

    assert [m["Subject"] for m in xoauth2_smtp_sink.messages] == [
        "Hello Ada1",
        "Re: Hello Ada1",
        "Re: Hello Ada1",
    ]
    with db.session() as s:
        statuses = list(s.scalars(select(OutboundEmail.status)))
    assert statuses == ["sent", "sent", "sent"]
    assert mailbox(team)["status"] == "active"
    assert enrollment(team, eid)["error_code"] is None


def test_a_revoked_grant_holds_mail_until_reconnected_and_nothing_is_sent_twice(
    team: Team,
    google: OAuthProvider,
    xoauth2_smtp_sink: SmtpSink,
    mail_worker: MailWorker,
    db: Database,
) -> None:
    account, eid = first_step_sent(team, google, xoauth2_smtp_sink, mail_worker)

    google.admin("POST", f"/accounts/{account}/revoke")  # a Workspace admin removes access
    run_until(mail_worker, lambda: mailbox(team)["status"] == "reconnect_needed")
    mb = mailbox(team)
    assert "Reconnect your mailbox" in (mb["status_reason"] or "")
    sent_before = len(xoauth2_smtp_sink.messages)
    for _ in range(5):  # nothing goes out, nothing fails, while it waits
        run_until(mail_worker, lambda: True)
    assert len(xoauth2_smtp_sink.messages) == sent_before
    with db.session() as s:
        assert "failed" not in set(s.scalars(select(OutboundEmail.status)))
    # The contact says why its mail waits, and what to do.
    with db.session() as s:
        waiting = s.get(Enrollment, eid)
        assert waiting is not None
        titles = [p.title for p in problems_of(s, waiting)]
    assert "Reconnect your mailbox" in titles

    assert connect_with_google(team, account).status_code == 303  # Reconnect with Google
    assert mailbox(team)["status"] == "active"
    run_until(mail_worker, lambda: len(xoauth2_smtp_sink.messages) == 3)
    subjects = [m["Subject"] for m in xoauth2_smtp_sink.messages]
    assert subjects == ["Hello Ada1", "Re: Hello Ada1", "Re: Hello Ada1"]  # each step once
    assert enrollment(team, eid)["status"] == "finished"


def test_a_cancelled_or_replayed_callback_connects_nothing(
    team: Team, google: OAuthProvider
) -> None:
    account = google.new_account()
    started = team.call("POST", "/mailbox/oauth/google").json()["authorization_url"]
    with httpx.Client(timeout=10) as browser:
        back = consent(browser, started, account=account, allow=False)
    answer = team.client.get("/mailbox/oauth/callback?" + urlsplit(back).query)
    assert answer.status_code == 422
    assert "you cancelled" in answer.text
    assert team.call("GET", "/mailbox").status_code == 404

    ok = connect_with_google(team, account)
    assert ok.status_code == 303
    replay = team.client.get(ok.request.url)  # the same code and state again
    assert replay.status_code == 422 and "already used or has expired" in replay.text


def test_an_unconfigured_provider_is_a_clear_error(team: Team, mail_settings: Settings) -> None:
    answer = team.call("POST", "/mailbox/oauth/microsoft")
    assert answer.status_code == 422
    assert "not set up to connect microsoft mailboxes" in answer.text
    assert team.call("GET", "/mailbox/oauth/providers").json() == []


# -- Microsoft 365: its own simulator, whose refresh tokens rotate on every refresh ---------
@pytest.fixture(scope="module")
def microsoft_servers() -> Iterator[tuple[OAuthProvider, SmtpSink, dovecot.Dovecot]]:
    server = ServerThread(create_oauth_app("microsoft")).start()
    provider = OAuthProvider(server.url)
    with xoauth2_sink(provider) as sink:
        yield from _with_imap(server.url, provider, sink)
    server.stop()


def _with_imap(
    url: str, provider: OAuthProvider, sink: SmtpSink
) -> Iterator[tuple[OAuthProvider, SmtpSink, dovecot.Dovecot]]:
    credentials = f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}@"
    imap = dovecot.start(
        Path(tempfile.mkdtemp(prefix="outbound-dovecot-ms-")),
        oauth2_introspection_url=url.replace("://", "://" + credentials) + "/introspect",
    )
    yield provider, sink, imap
    imap.stop()
    shutil.rmtree(imap.base, ignore_errors=True)


def test_microsoft_mailbox_keeps_each_rotated_refresh_token(
    owner_signed_in: Team,
    team: Team,
    mail_settings: Settings,
    microsoft_servers: tuple[OAuthProvider, SmtpSink, dovecot.Dovecot],
    mail_worker: MailWorker,
    db: Database,
) -> None:
    microsoft, sink, imap = microsoft_servers
    mail_settings.microsoft_client_id = DEFAULT_CLIENT_ID
    mail_settings.microsoft_client_secret = SecretStr(DEFAULT_CLIENT_SECRET)
    mail_settings.microsoft_discovery_url = (
        microsoft.url + "/common/v2.0/.well-known/openid-configuration"
    )
    mail_settings.oauth_redirect_url = REDIRECT
    mail_settings.oauth_smtp_server = f"127.0.0.1:{sink.port}:none"
    mail_settings.oauth_imap_server = f"127.0.0.1:{imap.port}:none"
    account = microsoft.new_account()

    started = team.call("POST", "/mailbox/oauth/microsoft")
    assert started.status_code == 201, started.text
    assert "offline_access" in started.json()["authorization_url"]
    with httpx.Client(timeout=10) as browser:
        back = consent(browser, started.json()["authorization_url"], account=account)
    answer = team.client.get(
        "/mailbox/oauth/callback?" + urlsplit(back).query, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    always = {"window_start": "00:00", "window_end": "00:00", "send_days": list(range(7))}
    assert team.call("PATCH", "/mailbox", json=always).status_code == 200
    assert mailbox(team)["oauth_provider"] == "microsoft"
    seq = sequence(team, STEPS)
    add(team, seq, ada(1))
    run_until(mail_worker, lambda: len(sink.messages) >= 1)

    # Twice over: every token issued so far expires; each refresh answers a new refresh token
    # (the old one then stops working), which Outbound must keep to refresh again.
    for sent in (2, 3):
        before = stored_refresh_token(db, mail_settings)
        microsoft.admin("PUT", "/token-lifetime", json={"access_token_seconds": 0})
        microsoft.admin("PUT", "/token-lifetime", json={"access_token_seconds": 3599})
        run_until(mail_worker, lambda n=sent: len(sink.messages) == n)  # type: ignore[misc]
        assert stored_refresh_token(db, mail_settings) != before
    assert mailbox(team)["status"] == "active"
    assert sink.messages[0]["From"].addresses[0].addr_spec == account


def test_a_test_send_to_yourself_goes_through_the_google_mailbox(
    team: Team,
    google: OAuthProvider,
    xoauth2_smtp_sink: SmtpSink,
    mail_settings: Settings,
    db: Database,
) -> None:
    account = google.new_account()
    assert connect_with_google(team, account).status_code == 303
    seq = sequence(team, STEPS)
    owner = Caller(team.user_ids["owner"], team.team_id, "owner")
    box = SecretBox(mail_settings.fernet_key)
    sent = send_test(db, box, owner, seq, 0, None, mail_settings)
    (test,) = xoauth2_smtp_sink.messages
    assert test["Subject"] == sent.subject and str(test["Subject"]).startswith("[Test]")
    assert test["From"].addresses[0].addr_spec == account


def test_the_callback_connects_only_for_the_person_who_began(
    team: Team, google: OAuthProvider, db: Database
) -> None:
    account = google.new_account()

    def consented() -> str:
        url = team.call("POST", "/mailbox/oauth/google").json()["authorization_url"]
        with httpx.Client(timeout=10) as browser:
            back = consent(browser, url, account=account)
        return "/mailbox/oauth/callback?" + urlsplit(back).query

    # The owner began it and forwarded the link: the manager's browser connects nothing.
    manager = TestClient(team.client.app)
    sign_in_web(manager, db, team.user_ids["manager"], "manager@acme.test")
    refused = manager.get(consented())
    assert refused.status_code == 403 and "begun by another Outbound account" in refused.text
    # A browser signed in to nobody connects nothing either.
    nobody = TestClient(team.client.app).get(consented())
    assert nobody.status_code == 401 and "Sign in to Outbound in this browser" in nobody.text
    assert team.call("GET", "/mailbox").status_code == 404
    assert team.call("GET", "/mailbox", "manager").status_code == 404
