"""Sending over SMTP with aiosmtplib, telling apart what a retry may do.

The send is split into its SMTP phases so that a failure is classified by *when* it happened:
anything before DATA is safe to retry (the server has not got the message); a reply code to DATA
is definite (4xx: retry, 5xx: rejected); a connection lost or timed out during DATA is
*uncertain*: the server may have accepted it, and resending could email the person twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str
    timeout: float = 30.0
    # An OAuth 2.0 access token: the login is XOAUTH2 with it instead of the password.
    oauth_token: str | None = None


class SmtpFailure(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Rejected(SmtpFailure):
    """Permanent (5xx): the message will never go; the contact is marked."""


class Transient(SmtpFailure):
    """Not delivered, may work later (4xx, connection refused, timeout before DATA)."""


class Uncertain(SmtpFailure):
    """The connection broke during DATA: the server may have accepted the message."""


class AuthFailed(SmtpFailure):
    """The mailbox's saved username/password no longer work."""


def _client(config: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        use_tls=config.security == "ssl",
        start_tls=config.security == "starttls",
        timeout=config.timeout,
    )


async def _open(config: SmtpConfig) -> aiosmtplib.SMTP:
    client = _client(config)
    try:
        await client.connect()
        if config.oauth_token is not None:
            await client.auth_xoauth2(config.username, config.oauth_token)
        elif config.username:
            await client.login(config.username, config.password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        client.close()
        raise AuthFailed(f"the SMTP server refused the login ({exc.code})", exc.code) from exc
    except aiosmtplib.SMTPResponseException as exc:
        client.close()
        raise Transient(f"SMTP {exc.code}: {exc.message}", exc.code) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        client.close()
        raise Transient(f"cannot reach the SMTP server: {exc}") from exc
    return client


async def verify(config: SmtpConfig) -> None:
    """Connect and log in (raises AuthFailed or Transient with a plain message)."""
    client = await _open(config)
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


def _classify_response(exc: aiosmtplib.SMTPResponseException, what: str) -> SmtpFailure:
    text = f"{what} refused: SMTP {exc.code} {exc.message}"
    return Rejected(text, exc.code) if 500 <= exc.code < 600 else Transient(text, exc.code)


async def send(config: SmtpConfig, message: EmailMessage, sender: str, recipient: str) -> None:
    client = await _open(config)
    try:
        try:
            await client.mail(sender)
            await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise _classify_response(exc, f"recipient {recipient}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify_response(exc, f"sender {sender}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Transient(f"SMTP connection lost before sending: {exc}") from exc
        try:
            await client.data(message.as_bytes())
        except aiosmtplib.SMTPResponseException as exc:  # a definite answer to DATA
            raise _classify_response(exc, "message") from exc
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise Uncertain(f"SMTP connection lost while the message was sent: {exc}") from exc
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
