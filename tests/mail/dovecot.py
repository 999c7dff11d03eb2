"""A real IMAP server for the mail tests: Debian's dovecot with a throw-away config.

Works as root (mail is stored as `nobody`) and as a normal user (stored as that user).
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


def start(base: Path) -> Dovecot:
    """Any user name logs in with PASSWORD: each test uses a mailbox of its own."""
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
    config = f"""
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/run
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_location = maildir:{mail_dir}/%u
mail_uid = {mail_user.pw_uid}
mail_gid = {mail_user.pw_gid}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
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
