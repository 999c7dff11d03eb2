"""Issue 9: `outbound demo` as a subprocess, observed over HTTP only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from outbound.simulators.oauth.browser import consent
from outbound.simulators.server import free_port


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what} (last: {str(last)[:300]})")


@pytest.mark.skipif(
    bool(os.environ.get("OUTBOUND_TEST_DATABASE_URL")),
    reason="the demo is the embedded SQLite setup",
)
def test_demo_sends_mail_reads_replies_syncs_both_atss_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    port = free_port()
    while any(_busy(p) for p in (port + 1, port + 2, port + 3, port + 4)):
        port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "outbound.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "demo"),
            "--contacts",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(base + "/healthz").status_code == 200, 60, "the web app")
        signins = json.loads((tmp_path / "demo" / "demo-signins.json").read_text())
        owner = {"Authorization": f"Bearer {signins['owner']['api_token']}"}
        crelate = f"http://127.0.0.1:{port + 1}/_admin/records"
        clockwork = f"http://127.0.0.1:{port + 2}/_admin/records"

        def exists_error() -> bool:
            rows = httpx.get(
                base + "/api/v1/sequences/1/contacts",
                params={"needs_attention": True},
                headers=owner,
            ).json()
            return any(r["error_message"] == "Exists in Crelate" for r in rows)

        wait_for(exists_error, 90, '"Exists in Crelate" on a contact')
        wait_for(
            lambda: any(
                p["emails"] and p["createdUserId"]
                for p in httpx.get(clockwork + "/people").json()[3:]
            ),
            120,
            "a contact synced to Clockwork",
        )
        # Real mail: the step went over SMTP to the demo's sink, threaded follow-ups too.
        sent = wait_for(
            lambda: [m for m in httpx.get(base + "/demo/mail.json").json() if m["in_reply_to"]],
            120,
            "a follow-up email in the sink",
        )
        assert sent[0]["subject"].startswith("Re: Quick question")
        assert "Sent mail" in httpx.get(base + "/demo/mail").text
        # The web app: the owner signs in with the printed password and sees the team.
        with httpx.Client(base_url=base) as web:
            form = web.get("/login").text
            csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
            signed_in = web.post(
                "/login",
                data={
                    "email": signins["owner"]["email"],
                    "password": signins["owner"]["password"],
                    "csrf_token": csrf,
                },
                follow_redirects=True,
            )
            assert "Sync health" in signed_in.text and "Sent mail (demo)" in signed_in.text
            assert "Exists in Crelate" in web.get("/sequences/1").text
        _recruiter_connects_with_google(base, signins)
        wait_for(
            lambda: any(
                "Email sent" in a["Subject"] for a in httpx.get(crelate + "/activities").json()
            ),
            120,
            "a sent email logged as Crelate activity",
        )

        def statuses() -> set[str]:
            rows = httpx.get(base + "/api/v1/sequences/1/contacts", headers=owner).json()
            return {r["status"] for r in rows}

        # Prospects answered through the inbound path: a reply, an out-of-office, a bounce.
        wait_for(lambda: {"replied", "paused", "bounced"} <= statuses(), 120, "answers read")
        wait_for(
            lambda: any(
                "Email reply" in a["Subject"] for a in httpx.get(crelate + "/activities").json()
            ),
            180,
            "a reply logged as Crelate activity",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert b"Outbound demo stopped." in out


def _recruiter_connects_with_google(base: str, signins: dict[str, Any]) -> None:
    """The demo's "Connect with Google": the OAuth simulator's consent, then a mailbox that
    sends with XOAUTH2 through the demo's SMTP server."""
    with httpx.Client(base_url=base) as web:
        form = web.get("/login").text
        csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
        login = {
            "email": signins["recruiter"]["email"],
            "password": signins["recruiter"]["password"],
            "csrf_token": csrf,
        }
        web.post("/login", data=login)
        page = web.get("/mailbox").text
        assert "Connect with Google" in page
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        to_google = web.post("/mailbox/oauth/google", data={"csrf_token": csrf})
        assert to_google.status_code == 303, to_google.text
        with httpx.Client() as browser:
            back = consent(browser, to_google.headers["location"])
        connected = web.get(back)
        assert connected.status_code == 303, connected.text
    token = {"Authorization": f"Bearer {signins['recruiter']['api_token']}"}
    mailbox = httpx.get(base + "/api/v1/mailbox", headers=token).json()
    assert (mailbox["auth_kind"], mailbox["oauth_provider"]) == ("oauth", "google")
    assert mailbox["email"] == "riley.recruiter@acme-google.test"


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
