"""The mail providers a mailbox can connect to by OAuth 2.0 (issue 18): where each one's
OpenID Connect discovery document is, what Outbound asks for, and its SMTP and IMAP servers.

The scopes are the ones each provider documents for SMTP and IMAP with XOAUTH2:
- Google: ``https://mail.google.com/`` (the only scope Gmail's SMTP and IMAP accept); a refresh
  token comes with ``access_type=offline``, and a second one (on reconnect) only with
  ``prompt=consent``.
- Microsoft 365: ``https://outlook.office.com/SMTP.Send`` and ``…/IMAP.AccessAsUser.All``, with
  ``offline_access`` for a refresh token (Microsoft rotates it on every refresh).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    security: str  # ssl | starttls | none


@dataclass(frozen=True)
class OAuthMailProvider:
    name: str
    title: str
    discovery_url: str
    scopes: tuple[str, ...]
    smtp: MailServer
    imap: MailServer
    sent_folder: str
    authorize_params: dict[str, str] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


GOOGLE = OAuthMailProvider(
    name="google",
    title="Google",
    discovery_url="https://accounts.google.com/.well-known/openid-configuration",
    scopes=("openid", "email", "profile", "https://mail.google.com/"),
    smtp=MailServer("smtp.gmail.com", 587, "starttls"),
    imap=MailServer("imap.gmail.com", 993, "ssl"),
    sent_folder="[Gmail]/Sent Mail",
    authorize_params={"access_type": "offline", "prompt": "consent"},
)

MICROSOFT = OAuthMailProvider(
    name="microsoft",
    title="Microsoft",
    discovery_url="https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
    scopes=(
        "openid",
        "email",
        "profile",
        "offline_access",
        "https://outlook.office.com/SMTP.Send",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
    ),
    smtp=MailServer("smtp.office365.com", 587, "starttls"),
    imap=MailServer("outlook.office365.com", 993, "ssl"),
    sent_folder="Sent Items",
    authorize_params={"prompt": "select_account"},
)

MAIL_PROVIDERS = {p.name: p for p in (GOOGLE, MICROSOFT)}


def parse_server(text: str) -> MailServer:
    """``host:port:security`` (a setting that points every OAuth mailbox at local servers)."""
    host, port, security = text.rsplit(":", 2)
    if security not in ("ssl", "starttls", "none"):
        raise ValueError(f"security must be ssl, starttls or none, not {security!r}")
    return MailServer(host, int(port), security)
