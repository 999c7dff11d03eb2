"""Logging for `outbound serve` and `outbound worker`: one JSON object per line (the default
for servers) or plain text, with the ids of the job, contact, enrollment or email a line is
about as fields of their own. Secrets never reach a log call: credentials are only ever held
decrypted inside a connector, and request paths are logged without their query strings."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Fields a log call may attach with `extra=`; anything else passed that way is dropped.
CONTEXT_FIELDS = (
    "job_id",
    "job_kind",
    "contact_id",
    "enrollment_id",
    "email_id",
    "mailbox_id",
    "connection_id",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
