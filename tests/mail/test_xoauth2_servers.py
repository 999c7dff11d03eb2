"""The test mail servers take XOAUTH2 tokens the OAuth simulator issued, and only those (issue 18):
aiosmtpd through the simulator's introspection, Dovecot through its oauth2 passdb."""

from __future__ import annotations

import asyncio
import imaplib
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from outbound.simulators.mail.sink import SmtpSink as DemoSink
from outbound.simulators.mail.xoauth2 import decode_xoauth2
from tests.mail import dovecot
from tests.mail.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    OAuthProvider,
    SmtpSink,
    imap_xoauth2,
    xoauth2_string,
)


def _message(sender: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "prospect@talent.example.com"
    msg["Subject"] = subject
    msg.set_content("Hello over XOAUTH2")
    return msg


async def _send_xoauth2(port: int, user: str, token: str, subject: str) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        await smtp.auth_xoauth2(user, token)
        await smtp.send_message(_message(user, subject))


def test_decode_xoauth2() -> None:
    assert decode_xoauth2(xoauth2_string("a@b.test", "tok")) == ("a@b.test", "tok")
    assert decode_xoauth2(b"user=a@b.test\x01auth=Basic tok\x01\x01") is None
    assert decode_xoauth2(b"\xff") is None


# -- SMTP (aiosmtpd) ------------------------------------------------------------------------


def test_smtp_accepts_a_token_the_simulator_issued(
    oauth_provider: OAuthProvider, xoauth2_smtp_sink: SmtpSink
) -> None:
    user = oauth_provider.new_account()
    token = oauth_provider.tokens(user)["access_token"]
    asyncio.run(_send_xoauth2(xoauth2_smtp_sink.port, user, token, "by token"))
    assert [str(m["Subject"]) for m in xoauth2_smtp_sink.messages] == ["by token"]


def test_smtp_token_generator_hook(
    oauth_provider: OAuthProvider, xoauth2_smtp_sink: SmtpSink
) -> None:
    """aiosmtplib asks an async callable for the token at login: where a refresh can go."""
    user = oauth_provider.new_account()
    token = oauth_provider.tokens(user)["access_token"]

    async def current_token() -> str:
        return token

    async def send() -> None:
        smtp = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=xoauth2_smtp_sink.port,
            username=user,
            oauth_token_generator=current_token,
        )
        async with smtp:
            await smtp.send_message(_message(user, "by generator"))

    asyncio.run(send())
    assert len(xoauth2_smtp_sink.messages) == 1


@pytest.mark.parametrize("case", ["revoked", "expired", "other_user", "unknown"])
def test_smtp_refuses_a_dead_or_foreign_token(
    oauth_provider: OAuthProvider, xoauth2_smtp_sink: SmtpSink, case: str
) -> None:
    user = oauth_provider.new_account()
    token = oauth_provider.tokens(user)["access_token"]
    login_as = user
    if case == "revoked":
        assert oauth_provider.admin("POST", f"/accounts/{user}/revoke") == {"revoked_grants": 1}
    elif case == "expired":
        lifetimes = oauth_provider.admin("GET", "/token-lifetime")
        oauth_provider.admin("PUT", "/token-lifetime", json={"access_token_seconds": 0})
        oauth_provider.admin("PUT", "/token-lifetime", json=lifetimes)  # new tokens: as before
    elif case == "other_user":
        login_as = oauth_provider.new_account()
    else:
        token = "ya29.not-issued-by-the-simulator"
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        asyncio.run(_send_xoauth2(xoauth2_smtp_sink.port, login_as, token, "refused"))
    assert refused.value.code == 535
    assert xoauth2_smtp_sink.messages == []


def test_smtp_password_login_still_works(xoauth2_smtp_sink: SmtpSink) -> None:
    async def send() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=xoauth2_smtp_sink.port) as smtp:
            await smtp.login(SMTP_USER, SMTP_PASSWORD)
            await smtp.send_message(_message(SMTP_USER, "by password"))

    asyncio.run(send())
    assert len(xoauth2_smtp_sink.messages) == 1


def test_the_demo_sink_takes_xoauth2_when_given_the_introspection(
    oauth_provider: OAuthProvider, tmp_path: Path
) -> None:
    user = oauth_provider.new_account()
    token = oauth_provider.tokens(user)["access_token"]
    demo = DemoSink(
        tmp_path / "sent", dovecot.free_port(), xoauth2=oauth_provider.introspection
    ).start()
    try:
        asyncio.run(_send_xoauth2(demo.port, user, token, "demo"))
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            asyncio.run(_send_xoauth2(demo.port, user, "ya29.forged", "forged"))
    finally:
        demo.stop()
    assert len(list((tmp_path / "sent" / "new").iterdir())) == 1


# -- IMAP (Dovecot's oauth2 passdb) ---------------------------------------------------------


def test_imap_accepts_a_token_the_simulator_issued(
    oauth_provider: OAuthProvider, oauth_imap_server: dovecot.Dovecot
) -> None:
    user = oauth_provider.new_account()
    token = oauth_provider.tokens(user)["access_token"]
    conn = imap_xoauth2(oauth_imap_server.port, user, token)
    try:
        status, _ = conn.select("INBOX")
        assert status == "OK"
    finally:
        conn.logout()


@pytest.mark.parametrize("case", ["revoked", "expired", "other_user", "unknown"])
def test_imap_refuses_a_dead_or_foreign_token(
    oauth_provider: OAuthProvider, oauth_imap_server: dovecot.Dovecot, case: str
) -> None:
    user = oauth_provider.new_account()
    tokens = oauth_provider.tokens(user)
    token, login_as = tokens["access_token"], user
    imap_xoauth2(oauth_imap_server.port, user, token).logout()  # live until now
    if case == "revoked":
        oauth_provider.admin("POST", f"/accounts/{user}/revoke")
    elif case == "expired":
        lifetimes = oauth_provider.admin("GET", "/token-lifetime")
        oauth_provider.admin("PUT", "/token-lifetime", json={"access_token_seconds": 0})
        oauth_provider.admin("PUT", "/token-lifetime", json=lifetimes)
    elif case == "other_user":
        login_as = oauth_provider.new_account()
    else:
        token = tokens["refresh_token"]  # a real token of the simulator's, but not for access
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap_xoauth2(oauth_imap_server.port, login_as, token)


def test_imap_password_login_still_works_beside_oauth(
    oauth_imap_server: dovecot.Dovecot,
) -> None:
    conn = imaplib.IMAP4("127.0.0.1", oauth_imap_server.port)
    try:
        assert conn.login("anyone@acme.example.com", dovecot.PASSWORD)[0] == "OK"
    finally:
        conn.logout()
