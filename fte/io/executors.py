"""Executors: perform one approved action, with its idempotency key, and look a key up afterwards.

The contract every executor keeps (docs/execution.md):

* ``perform(task, key)`` carries ``key`` to the provider (for mail: the Message-ID and an
  ``X-FTE-Task`` header) and returns the provider's id for what it made;
* ``lookup(key)`` answers whether the provider already holds something with that key — the check
  made after a crash or an ambiguous error, before any retry;
* errors are :class:`ExecutionError` with ``transient`` (safe to retry after the lookup) or not;
  a :class:`~fte.errors.BadInput` may be raised only **before** anything is sent (a reply that
  cannot be built safely) and fails the task as permanent; anything else is a bug, and fails the
  task alone with an unknown outcome.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fte.errors import ExecutionError, OutcomeUnknown  # noqa: F401  (the executor contract raises these; drawn in fte/errors.py)
from fte.io.mail import build_reply, message_id_for, sender_domain
from fte.models.tables import Task


@dataclass(frozen=True)
class Performed:
    external_id: str


class Executor(Protocol):
    @property
    def kinds(self) -> tuple[str, ...]: ...

    def key_for(self, task: Task) -> str: ...

    def perform(self, task: Task, key: str, now: datetime) -> Performed: ...

    def lookup(self, key: str) -> str | None: ...


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
        with open(tmp, "wb") as fh:
            fh.write(msg.as_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, self.path / "new" / name)  # link, not rename: an existing name is refused, never replaced
        except FileExistsError:
            pass  # delivered by an earlier attempt: the key is already there
        finally:
            os.unlink(tmp)
        return Performed(external_id=key)
