"""A default install keeps its data to the service user (issue 17): the data folder 0700, the
database and the secret key 0600, whatever the umask lets other local users read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from outbound.settings import Settings
from outbound.store.db import Database
from outbound.store.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_its_database_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual default: files 0644, folders 0755
    try:
        settings = Settings(data_dir=tmp_path / "outbound-data", database_url=None)
        assert settings.fernet_key  # generates secret.key, creating the folder
        upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        with db.session() as s:  # a write: the WAL files appear
            s.connection().exec_driver_sql("CREATE TABLE probe (x)")
        data = tmp_path / "outbound-data"
        assert mode(data) == 0o700
        assert mode(data / "secret.key") == 0o600
        assert mode(data / "outbound.db") == 0o600
        for extra in ("outbound.db-wal", "outbound.db-shm"):
            if (data / extra).exists():
                assert mode(data / extra) == 0o600, extra
        db.dispose()
    finally:
        os.umask(old)


def test_a_database_folder_created_for_the_database_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "elsewhere" / "outbound.db"
        Database(f"sqlite:///{path}").dispose()
        assert mode(path.parent) == 0o700 and mode(path) == 0o600
    finally:
        os.umask(old)
