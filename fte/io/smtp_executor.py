"""The SMTP executor: replies sent through an SMTP server (``[executors.email] transport = "smtp"``).

Settings: ``host``, ``port``, ``security`` = ``none`` | ``starttls`` | ``ssl``, ``username``,
``ca_file`` (a CA bundle for a private server), ``sent_path`` (a local Maildir of what was sent);
the password from ``FTE_SMTP_PASSWORD``. The mail carries the deterministic ``Message-ID`` and the
``X-FTE-Task`` header, and the threading headers of the reply.

SMTP cannot be asked what it already delivered, so the lookup is the local ``sent_path`` Maildir,
kept the way a mail client keeps its Sent folder, but ordered for crashes: the copy is written to
``tmp/`` *before* the send and moved to ``new/`` after the server accepted it. ``new/`` = sent;
only ``tmp/`` = the process died mid-send, outcome unknown (a person decides: ``fte replay --force``).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fte.io.executors import ExecutionError, OutcomeUnknown, Performed, maildir_name
from fte.io.mail import build_reply, message_id_for, sender_domain
from fte.models.tables import Task

TRANSIENT_CODES = range(400, 500)  # 4xx: try again later (RFC 5321 §4.2.1)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # none | starttls | ssl
    username: str = ""
    password: str = ""
    sender: str = "fte@localhost"
    sent_path: Path = Path("sent")
    ca_file: str = ""
    timeout: float = 30.0


class SmtpExecutor:
    kinds = ("email.reply",)

    def __init__(self, settings: SmtpSettings) -> None:
        if settings.security not in ("none", "starttls", "ssl"):
            raise ValueError(f"security must be none, starttls or ssl, not {settings.security!r}")
        self.s = settings
        self.domain = sender_domain(settings.sender)
        for sub in ("tmp", "new", "cur"):
            (settings.sent_path / sub).mkdir(parents=True, exist_ok=True)

    def key_for(self, task: Task) -> str:
        return message_id_for(task.id, self.domain)


    def lookup(self, key: str) -> str | None:
        name = maildir_name(key)
        if (self.s.sent_path / "new" / name).exists() or any(
                f.startswith(name) for f in os.listdir(self.s.sent_path / "cur")):
            return key
        if (self.s.sent_path / "tmp" / name).exists():
            raise OutcomeUnknown(f"a send of {key} was interrupted; it may have been delivered")
        return None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.s.ca_file or None)
        return ctx

    def _connect(self) -> smtplib.SMTP:
        if self.s.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.s.host, self.s.port, timeout=self.s.timeout, context=self._context())
        else:
            client = smtplib.SMTP(self.s.host, self.s.port, timeout=self.s.timeout)
            if self.s.security == "starttls":
                client.starttls(context=self._context())
        if self.s.username:
            client.login(self.s.username, self.s.password)
        return client

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        params = task.params or {}
        if not params.get("to"):
            raise ExecutionError("the reply has no recipient ('to' is empty)")
        if self.lookup(key):
            return Performed(external_id=key)
        msg = build_reply(task_id=task.id, sender=self.s.sender, params=params, body=task.body, message_id=key, date=now)
        data = msg.as_bytes()
        name = maildir_name(key)
        tmp = self.s.sent_path / "tmp" / name
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            os.unlink(tmp)  # nothing was sent: connecting failed
            raise _map(exc, before_data=True) from exc
        try:
            refused = client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            os.unlink(tmp)
            raise ExecutionError(f"the server refused every recipient: {exc.recipients}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            # After DATA began we cannot know whether the server kept the message: keep tmp/ (unknown).
            before = isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPHeloError))
            if before:
                os.unlink(tmp)
            raise _map(exc, before_data=before) from exc
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass
        os.replace(tmp, self.s.sent_path / "new" / name)
        if refused:
            return Performed(external_id=f"{key} (refused: {', '.join(refused)})")
        return Performed(external_id=key)


def _map(exc: BaseException, before_data: bool) -> ExecutionError:
    """smtplib's errors → ours. (``SMTPException`` is an ``OSError``: test it first.)"""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ExecutionError(f"SMTP login refused ({exc.smtp_code}): check the username and FTE_SMTP_PASSWORD")
    if isinstance(code, int) and code in TRANSIENT_CODES:
        return ExecutionError(f"SMTP {code}: {exc}", transient=before_data) if before_data else OutcomeUnknown(str(exc))
    if isinstance(exc, ssl.SSLError):
        return ExecutionError(f"TLS with the SMTP server failed: {exc}")
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)) or not isinstance(exc, smtplib.SMTPException):
        if before_data:
            return ExecutionError(f"SMTP server not reachable: {exc}", transient=True)
        return OutcomeUnknown(f"the connection failed during the send: {exc}")
    if not before_data:
        return OutcomeUnknown(f"the send failed midway: {exc}")
    return ExecutionError(f"SMTP error: {exc}")
