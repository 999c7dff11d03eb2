"""A real IMAP server for the mail tests: Debian's dovecot with a throw-away config.

Works as root (mail is stored as `nobody`) and as a normal user (stored as that user).

With ``oauth2_introspection_url`` it also takes XOAUTH2 and OAUTHBEARER logins, checked by
Dovecot's ``oauth2`` passdb against the OAuth simulator's RFC 7662 endpoint (Dovecot 2.3 settings:
doc.dovecot.org/2.3/configuration_manual/authentication/oauth2); passwords still log in.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    base: Path
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def available() -> bool:
    return Path(DOVECOT).exists()


def _oauth2_args(introspection_url: str) -> str:
    """The oauth2 passdb's args file: POST ``token=…`` to the introspection URL (client
    credentials in its userinfo part, sent as Basic auth); the token must be active and issued
    to the user named in the XOAUTH2 ``user=`` field."""
    return (
        "introspection_mode = post\n"
        f"introspection_url = {introspection_url}\n"
        "username_attribute = email\n"
        "active_attribute = active\n"
        "active_value = true\n"
        "force_introspection = yes\n"
    )


def start(base: Path, oauth2_introspection_url: str | None = None) -> Dovecot:
    """Any user name logs in with PASSWORD: each test uses a mailbox of its own. With
    ``oauth2_introspection_url``, XOAUTH2 / OAUTHBEARER tokens too (see the module's doc)."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if os.geteuid() == 0:
        mail_user = pwd.getpwnam("nobody")
        login_user = "dovenull"
        internal_user = internal_group = "dovecot"
    else:  # a normal user can only hand its sockets to itself
        mail_user = pwd.getpwuid(os.getuid())
        login_user = internal_user = mail_user.pw_name
        internal_group = grp.getgrgid(os.getgid()).gr_name
    mail_dir = base / "mail"
    mail_dir.mkdir(exist_ok=True)
    (base / "run").mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(mail_dir, mail_user.pw_uid, mail_user.pw_gid)
        os.chmod(base, 0o755)
    mechanisms, static_mechanisms, oauth2_passdb = "plain login", "", ""
    if oauth2_introspection_url is not None:
        args = base / "dovecot-oauth2.conf.ext"
        args.write_text(_oauth2_args(oauth2_introspection_url))
        args.chmod(0o644)
        mechanisms = "plain login xoauth2 oauthbearer"
        static_mechanisms = "\n  mechanisms = plain login"
        # Refused tokens are tested on purpose: no failure delay, no growing per-IP penalty.
        oauth2_passdb = (
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {args}\n}}\n"
            "auth_failure_delay = 0\n"
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
        )
    config = f"""
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/run
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_location = maildir:{mail_dir}/%u
mail_uid = {mail_user.pw_uid}
mail_gid = {mail_user.pw_gid}
passdb {{
  driver = static
  args = password={PASSWORD}{static_mechanisms}
}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={mail_dir}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    auto = create
    special_use = \\Sent
  }}
}}
"""
    conf = base / "dovecot.conf"
    conf.write_text(config)
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            log = (base / "dovecot.log").read_text() if (base / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {out}\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(100).startswith(b"* OK"):
                    return Dovecot(base, port, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("dovecot did not start")
