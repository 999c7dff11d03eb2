"""The demo's outgoing mail server: a real SMTP server (aiosmtpd) that delivers nothing and
keeps every message it accepts in a Maildir, where the prospect simulator and the web app's
"Sent mail" page read it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

from outbound.mailclients.inbox import open_maildir
from outbound.simulators.mail.xoauth2 import Introspection, XOAuth2Mixin

# aiosmtpd logs a warning about its own internals on every login; not ours to act on.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class _KeepEverything:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        box = open_maildir(self.maildir)
        box.add(envelope.original_content or b"")
        return "250 Kept by the Outbound demo (nothing is delivered)"


class _KeepEverythingOAuth(XOAuth2Mixin, _KeepEverything):
    """Also XOAUTH2, for tokens the OAuth simulator issued (passwords still: any login)."""

    def __init__(self, maildir: Path, xoauth2: Introspection) -> None:
        super().__init__(maildir)
        self.xoauth2 = xoauth2


def _any_login(*_: Any) -> AuthResult:
    return AuthResult(success=True)


class SmtpSink:
    def __init__(
        self,
        maildir: Path,
        port: int,
        host: str = "127.0.0.1",
        xoauth2: Introspection | None = None,
    ) -> None:
        self.maildir = maildir
        self.port = port
        handler = (
            _KeepEverything(maildir) if xoauth2 is None else _KeepEverythingOAuth(maildir, xoauth2)
        )
        self.controller = Controller(
            handler,
            hostname=host,
            port=port,
            authenticator=_any_login,
            auth_require_tls=False,
        )

    def start(self) -> SmtpSink:
        open_maildir(self.maildir)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
