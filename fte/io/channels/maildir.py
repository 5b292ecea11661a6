"""Mail in Maildir folders: the source (new messages in a folder that mbsync, offlineimap or a drop
fills) and the offline executor (sent mail delivered into a Maildir, the demo's transport).

The source never changes the Maildir (another program owns it). Its cursor is the newest file time it has
read; files at that exact time are read again and dropped by the dedupe on Message-ID, so nothing
is missed when two messages land in the same instant.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

from fte.io.channels.contract import ExecutionError, Performed, Polled
from fte.io.channels.mail import (
    IncomingMail,
    build_reply,
    message_id_for,
    parse_mail,
    sender_domain,
)
from fte.models.tables import Task
from fte.support.plaintext import visible

MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class MaildirSource:
    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = path

    def poll(self, cursor: str | None) -> Polled[IncomingMail]:
        """Messages whose files are at or after ``cursor`` (nanoseconds), oldest first."""
        since = int(cursor) if cursor else -1
        files: list[tuple[int, str, Path]] = []
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    mtime = entry.stat().st_mtime_ns
                    if mtime >= since:
                        files.append((mtime, entry.name, Path(entry.path)))
        files.sort()
        items: list[IncomingMail] = []
        skipped: list[tuple[str, str]] = []
        newest = since
        for mtime, name, path in files:
            newest = max(newest, mtime)
            try:
                if path.stat().st_size > MAX_MESSAGE_BYTES:
                    skipped.append((name, "larger than 25 MiB"))
                    continue
                mail = parse_mail(path.read_bytes())
            except FileNotFoundError:
                continue  # moved by its owner meanwhile; it will be seen at its new name
            except Exception as exc:  # a malformed message must not stop the others
                skipped.append((name, f"unreadable: {exc}"))
                continue
            if mail.is_no_reply:
                skipped.append((name, "no-reply sender"))
                continue
            items.append(mail)
        notices = [f"{visible(name)[:80]!r} not read: {why}" for name, why in skipped if why != "no-reply sender"]
        return Polled(items, str(newest if newest >= 0 else 0), skipped, notices)


def write_synced(path: Path, data: bytes) -> None:
    """``data`` in a new file at ``path``, on disk before this returns (a Maildir's ``tmp/`` step)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def maildir_name(key: str) -> str:
    """A Maildir file name made from an idempotency key: finding the key is finding the file."""
    return "fte-" + "".join(c if c.isalnum() or c in ".-_" else "_" for c in key.strip("<>"))


def mail_key(task: Task, domain: str) -> str:
    return message_id_for(task.id, domain)


class MaildirOutbox:
    """Sent mail delivered into a Maildir (the offline transport, and the demo's).

    Delivery follows the Maildir protocol (write in ``tmp/``, fsync, rename into ``new/``) under a
    file name made from the key, so a second delivery of the same key is seen and refused.
    """

    kinds = ("email.reply",)

    def __init__(self, path: Path, sender: str = "fte@localhost") -> None:
        self.path = path
        self.sender = sender
        self.domain = sender_domain(sender)

    def key_for(self, task: Task) -> str:
        return mail_key(task, self.domain)

    def lookup(self, key: str) -> str | None:
        name = maildir_name(key)
        for sub in ("new", "cur"):
            if (self.path / sub / name).exists():
                return key
        return key if name in self._cur_names() else None

    def _cur_names(self) -> set[str]:
        """Base names in ``cur/`` (a mail client renames ``new/x`` to ``cur/x:2,S``), cached until
        the folder changes — so a thousand lookups are not a thousand directory listings."""
        folder = self.path / "cur"
        try:
            stamp = folder.stat().st_mtime_ns
        except FileNotFoundError:
            return set()
        if getattr(self, "_cur_stamp", None) != stamp:
            self._cur_cache = {f.split(":", 1)[0] for f in os.listdir(folder)}
            self._cur_stamp = stamp
        return self._cur_cache

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        params = task.params or {}
        if not params.get("to"):
            raise ExecutionError("the reply has no recipient ('to' is empty)")
        if self.lookup(key):
            return Performed(external_id=key)
        msg = build_reply(task_id=task.id, sender=self.sender, params=params, body=task.body, message_id=key, date=now)
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        name = maildir_name(key)
        tmp = self.path / "tmp" / f"{name}.{os.getpid()}.{socket.gethostname()}"
        write_synced(tmp, msg.as_bytes())
        try:
            os.link(tmp, self.path / "new" / name)  # link, not rename: an existing name is refused, never replaced
        except FileExistsError:
            pass  # delivered by an earlier attempt: the key is already there
        finally:
            os.unlink(tmp)
        return Performed(external_id=key)
