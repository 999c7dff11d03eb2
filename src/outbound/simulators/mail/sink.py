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

# aiosmtpd logs a warning about its own internals on every login; not ours to act on.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class _KeepEverything:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        box = open_maildir(self.maildir)
        box.add(envelope.original_content or b"")
        return "250 Kept by the Outbound demo (nothing is delivered)"


def _any_login(*_: Any) -> AuthResult:
    return AuthResult(success=True)


class SmtpSink:
    def __init__(self, maildir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.maildir = maildir
        self.port = port
        self.controller = Controller(
            _KeepEverything(maildir),
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
