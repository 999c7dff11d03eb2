"""Which database errors are an outage (the database is away or busy: wait and retry, nobody's
fault) and which are a bug in the work itself (count it, and show it where it belongs)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# PostgreSQL SQLSTATEs of a database that is away or busy, not of a wrong statement.
OUTAGE_SQLSTATE_CLASSES = ("08",)  # connection exception
OUTAGE_SQLSTATES = {
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "53300",  # too_many_connections
    "55P03",  # lock_not_available (lock timeout)
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
}
# What drivers say in words when the database is away or busy (SQLite has no SQLSTATE at all).
OUTAGE_WORDS = (
    "database is locked",
    "unable to open database",
    "disk i/o error",
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection is closed",
    "connection has been closed",
)


def is_outage(exc: DBAPIError) -> bool:
    """A lost connection or a lock timeout: retry without counting. Anything else (integrity,
    data, programming errors) is a bug in the job."""
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in OUTAGE_SQLSTATES or sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES
    text = str(exc.orig).lower()
    if any(words in text for words in OUTAGE_WORDS):
        return True
    # psycopg carries no SQLSTATE for a dropped socket (sqlite3's OperationalError also means
    # "no such table", a bug, so only psycopg's counts here).
    driver = type(exc.orig).__module__.split(".")[0]
    return driver == "psycopg" and type(exc.orig).__name__ in ("OperationalError", "InterfaceError")
