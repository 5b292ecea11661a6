"""The Maildir source: new messages in a Maildir folder (mbsync, offlineimap, or a drop folder).

It never changes the Maildir (another program owns it). Its cursor is the newest file time it has
read; files at that exact time are read again and dropped by the dedupe on Message-ID, so nothing
is missed when two messages land in the same instant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fte.io.mail import IncomingMail, parse_mail

MAX_MESSAGE_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Polled:
    items: list[IncomingMail]
    cursor: str
    skipped: list[tuple[str, str]]  # (file name, reason)


class MaildirSource:
    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = path

    def poll(self, cursor: str | None) -> Polled:
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
        return Polled(items, str(newest if newest >= 0 else 0), skipped)
