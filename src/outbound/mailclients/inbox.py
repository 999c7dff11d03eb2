"""Reading a mailbox: IMAP (incremental by UID) or a local Maildir, behind one small Protocol.

Both are synchronous (stdlib imaplib / mailbox) and run in a worker thread. The position is
the caller's to keep: IMAP hands back UIDs, which the caller stores in the same transaction as
what the messages caused; a Maildir message is moved to cur/ once its effects are committed.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class InboxError(Exception):
    def __init__(self, message: str, auth: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.auth = auth


@dataclass
class InboundItem:
    raw: bytes
    uid: int | None = None  # IMAP UID
    key: str | None = None  # Maildir key


@dataclass
class Batch:
    uidvalidity: int | None
    items: list[InboundItem] = field(default_factory=list)


class Inbox(Protocol):
    def verify(self) -> None: ...

    def fetch_new(self, uidvalidity: int | None, last_uid: int, limit: int) -> Batch: ...

    def acknowledge(self, item: InboundItem) -> None: ...

    def sent_contains(self, message_id: str) -> bool | None:
        """Whether the Sent folder holds this Message-ID; None when it cannot tell."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str
    folder: str = "INBOX"
    sent_folder: str | None = None
    timeout: float = 30.0
    oauth_token: str | None = None  # XOAUTH2 with this access token instead of the password


class ImapInbox:
    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._conn: imaplib.IMAP4 | None = None

    def _connect(self) -> imaplib.IMAP4:
        if self._conn is not None:
            return self._conn
        c = self.config
        try:
            if c.security == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    c.host, c.port, ssl_context=ssl.create_default_context(), timeout=c.timeout
                )
            else:
                conn = imaplib.IMAP4(c.host, c.port, timeout=c.timeout)
                if c.security == "starttls":
                    conn.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise InboxError(f"cannot reach the IMAP server {c.host}:{c.port}: {exc}") from exc
        try:
            if c.oauth_token is not None:
                conn.authenticate("XOAUTH2", _xoauth2_answer(c.username, c.oauth_token))
            else:
                conn.login(c.username, c.password)
        except imaplib.IMAP4.error as exc:
            conn.shutdown()
            raise InboxError("the IMAP server refused the login", auth=True) from exc
        self._conn = conn
        return conn

    def _select(self, folder: str) -> int | None:
        conn = self._connect()
        status, _ = conn.select(_quote(folder), readonly=True)  # readonly: never mark \Seen
        if status != "OK":
            raise InboxError(f"the IMAP folder {folder!r} does not exist")
        _, data = conn.response("UIDVALIDITY")
        return int(data[0]) if data and data[0] else None

    def verify(self) -> None:
        try:
            self._select(self.config.folder)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise InboxError(f"IMAP error: {exc}") from exc

    def fetch_new(self, uidvalidity: int | None, last_uid: int, limit: int) -> Batch:
        try:
            current = self._select(self.config.folder)
            if uidvalidity is not None and current != uidvalidity:
                last_uid = 0  # the folder was rebuilt: re-read; already-handled ones are deduped
            conn = self._connect()
            _, data = conn.uid("SEARCH", None, f"UID {last_uid + 1}:*")  # type: ignore[arg-type]
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last_uid)
            batch = Batch(current)
            for uid in uids[:limit]:
                _, parts = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
                if raw is not None:
                    batch.items.append(InboundItem(raw=raw, uid=uid))
            return batch
        except (TimeoutError, OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise InboxError(f"IMAP error: {exc}") from exc

    def acknowledge(self, item: InboundItem) -> None:
        return None  # the UID is stored with the message's effects

    def sent_contains(self, message_id: str) -> bool | None:
        if not self.config.sent_folder:
            return None
        try:
            self._select(self.config.sent_folder)
            _, data = self._connect().uid(
                "SEARCH",
                None,  # type: ignore[arg-type]
                "HEADER",
                "Message-ID",
                _quote(message_id),
            )
            return bool((data[0] or b"").split())
        except (OSError, imaplib.IMAP4.error, InboxError):
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self._conn.logout()
            self._conn = None


def _quote(value: str) -> str:
    return '"' + re.sub(r'(["\\])', r"\\\1", value) + '"'


def open_maildir(path: Path) -> mailbox.Maildir:
    """A Maildir at path, created with its parent folders if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, create=True)


class MaildirInbox:
    """A local Maildir: new/ holds what has not been handled; handled messages move to cur/."""

    def __init__(self, path: str | Path, sent_path: str | Path | None = None) -> None:
        self.path = Path(path)
        self.sent_path = Path(sent_path) if sent_path else None

    def _box(self) -> mailbox.Maildir:
        return open_maildir(self.path)

    def verify(self) -> None:
        try:
            self._box()
        except OSError as exc:
            raise InboxError(f"cannot open the Maildir {self.path}: {exc}") from exc

    def fetch_new(self, uidvalidity: int | None, last_uid: int, limit: int) -> Batch:
        box = self._box()
        new_dir = self.path / "new"
        names = sorted(p.name for p in new_dir.iterdir()) if new_dir.exists() else []
        batch = Batch(None)
        for name in names[:limit]:
            key = name.split(":", 1)[0]
            try:
                batch.items.append(InboundItem(raw=box.get_bytes(key), key=key))
            except KeyError:
                continue  # moved by a concurrent reader
        return batch

    def acknowledge(self, item: InboundItem) -> None:
        if item.key is None:
            return
        box = self._box()
        try:
            msg = box[item.key]
            msg.set_subdir("cur")
            msg.add_flag("S")
            box[item.key] = msg
        except KeyError:
            pass

    def sent_contains(self, message_id: str) -> bool | None:
        if self.sent_path is None:
            return None
        box = open_maildir(self.sent_path)
        return any(str(m.get("Message-ID", "")).strip() == message_id for m in box)

    def close(self) -> None:
        return None


def _xoauth2_answer(user: str, token: str) -> Callable[[bytes], bytes]:
    """imaplib's AUTHENTICATE callback: the XOAUTH2 string first; to the error challenge a
    refused token gets, an empty line, after which the server answers NO."""
    sent: list[bool] = []

    def answer(_challenge: bytes) -> bytes:
        if sent:
            return b""
        sent.append(True)
        return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()

    return answer
