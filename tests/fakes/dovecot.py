"""A real IMAP server for the tests: Dovecot (Debian's ``dovecot-imapd``), started on 127.0.0.1 with
a throwaway configuration in a temporary folder — one user, plain authentication over loopback,
Maildir storage — and stopped afterwards. Mail arrives as a mail client would put it there: an
IMAP APPEND from another connection.

As root, Dovecot refuses to run its login process or a mailbox as root: they run as the
``dovenull`` and ``dovecot`` users the package made. As anyone else, everything runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "fte", "imap-secret"


def available() -> bool:
    return os.path.exists(DOVECOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    def client(self):
        import imapclient

        c = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        c.login(self.user, self.password)
        return c

    def folder(self, name: str) -> str:
        """The folder ``name``, made if it is not there yet; returns its name."""
        c = self.client()
        try:
            if not c.folder_exists(name):
                c.create_folder(name)
        finally:
            c.logout()
        return name

    def deliver(self, n: int, folder: str = "INBOX", subject: str | None = None, **headers: str) -> str:
        """A mail in ``folder`` (as another client appends it); returns its Message-ID."""
        msg = EmailMessage()
        msg["From"] = f"Customer {n} <c{n}@example.com>"
        msg["To"] = "me@example.com"
        msg["Subject"] = subject or f"Question {n}"
        msg["Message-ID"] = f"<imap-{n}@example.com>"
        for key, value in headers.items():
            msg[key.replace("_", "-")] = value
        msg.set_content(f"Hello, this is question {n}.\n")
        c = self.client()
        try:
            if folder != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, bytes(msg))
        finally:
            c.logout()
        return str(msg["Message-ID"])

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        c = self.client()
        try:
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            return {uid: data[b"FLAGS"] for uid, data in c.fetch(uids, ["FLAGS"]).items()} if uids else {}
        finally:
            c.logout()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(root: Path) -> Dovecot:
    """Dovecot on a free loopback port, with its configuration, state and mail under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(exist_ok=True)
    if os.geteuid() == 0:
        login, internal = "dovenull", "dovecot"
        mail = pwd.getpwnam("dovecot")
        uid, gid = mail.pw_uid, mail.pw_gid
        for sub in ("mail", "home"):
            os.chown(root / sub, uid, gid)
        os.chmod(root, 0o755)
    else:
        me = pwd.getpwuid(os.geteuid())
        login = internal = me.pw_name
        uid, gid = me.pw_uid, me.pw_gid
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = _free_port()
    (root / "dovecot.conf").write_text(f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {internal}
first_valid_uid = {min(uid, 100)}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
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
service stats {{
  chroot =
}}
""")
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    server = Dovecot(root, port, process)
    deadline = time.monotonic() + 20
    while True:
        try:
            server.client().logout()
            return server
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                server.stop()
                raise RuntimeError(f"dovecot did not start: {log[-2000:]}") from None
            time.sleep(0.1)
