"""Issue 3: the CLI as an operator uses it, in a subprocess with its own environment."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from outbound.settings import Settings

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("OUTBOUND_TEST_DATABASE_URL")),
    reason="CLI runs on its default embedded SQLite",
)


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTBOUND_DATA_DIR": str(tmp_path / "data")}
    env.pop("OUTBOUND_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "outbound.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_upgrade_team_and_user_create_print_a_working_token(tmp_path: Path) -> None:
    assert cli(tmp_path, "db", "upgrade").returncode == 0
    team = cli(tmp_path, "team", "create", "Acme Talent")
    assert team.returncode == 0 and "team 1 created" in team.stdout
    user = cli(
        tmp_path,
        "user",
        "create",
        "--team",
        "1",
        "--email",
        "boss@acme.example.com",
        "--role",
        "owner",
    )
    assert user.returncode == 0
    token = user.stdout.split("API token (shown once):")[1].split()[0]
    from fastapi.testclient import TestClient

    from outbound.api.app import create_app

    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "boss@acme.example.com" and me.json()["role"] == "owner"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "create", "--team", "1", "--email", "not-an-email"), "--email"),
        (("user", "create", "--team", "99", "--email", "a@b.example.com"), "team 99 not found"),
        (("user", "create", "--team", "1", "--email", "a@b.example.com", "--role", "king"), "role"),
        (("team", "create", "  "), "team name is required"),
    ],
)
def test_bad_input_is_a_message_and_nonzero_exit(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    cli(tmp_path, "db", "upgrade")
    cli(tmp_path, "team", "create", "Acme")
    result = cli(tmp_path, *args)
    assert result.returncode != 0
    assert message in (result.stdout + result.stderr)
    assert "Traceback" not in result.stderr


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).fernet_key
    second = Settings(data_dir=tmp_path).fernet_key
    assert first == second
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600
