"""The SMTP executor: replies sent through an SMTP server (``[executors.email] transport = "smtp"``).

Settings: ``host``, ``port``, ``security`` = ``none`` | ``starttls`` | ``ssl``, ``username``,
``ca_file`` (a CA bundle for a private server), ``sent_path`` (a local Maildir of what was sent);
the password from ``FTE_SMTP_PASSWORD``. The mail carries the deterministic ``Message-ID`` and the
``X-FTE-Task`` header, and the threading headers of the reply.

SMTP cannot be asked what it already delivered, so the lookup is the local ``sent_path`` Maildir,
kept the way a mail client keeps its Sent folder, but ordered for crashes: the copy is written to
``tmp/`` *before* the send and moved to ``new/`` after the server accepted it. ``new/`` = sent;
only ``tmp/`` = the process died mid-send, outcome unknown (a person decides: ``fte replay --force``).

Outcomes (RFC 5321 §4.2.1, §4.1.1.4; docs/channels.md, "Outcomes"): a reply code from the server is
a definite answer, whatever the command — ``4yz`` = not taken, try later (transient: greylisting,
a full mailbox, ``421``), ``5yz`` = not taken, do not retry as is (permanent: ``550 5.7.1``, an
unknown user); ``fte replay`` retries either once the person asks. Only a connection lost once the
``DATA`` command was sent leaves the outcome unknown (the server may have queued the message and lost
the reply); lost before it, nothing was handed over (transient).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fte.io.channels.contract import ExecutionError, OutcomeUnknown, Performed
from fte.io.channels.mail import build_reply, message_id_for, sender_domain
from fte.io.channels.maildir import maildir_name, write_synced
from fte.models.tables import Task

TRANSIENT_CODES = range(400, 500)  # 4yz: not taken, try again later (RFC 5321 §4.2.1)
PERMANENT_CODES = range(500, 600)  # 5yz: not taken; the same request will fail again


class _Tracked:
    """An SMTP client that remembers the last command it sent: a connection lost after ``DATA``
    may have delivered the message; lost before, nothing was handed over."""

    last_command = ""

    def putcmd(self, cmd: str, args: str = "") -> None:
        self.last_command = cmd.lower()
        super().putcmd(cmd, args)  # type: ignore[misc]


class _SMTP(_Tracked, smtplib.SMTP):
    pass


class _SMTP_SSL(_Tracked, smtplib.SMTP_SSL):
    pass


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
            client: smtplib.SMTP = _SMTP_SSL(self.s.host, self.s.port, timeout=self.s.timeout, context=self._context())
        else:
            client = _SMTP(self.s.host, self.s.port, timeout=self.s.timeout)
            if self.s.security == "starttls":
                client.starttls(context=self._context())
        if self.s.username:
            client.login(self.s.username, self.s.password)
        return client

    def check(self) -> str:
        """Connect, start TLS and log in as a send would; send nothing (``fte doctor``)."""
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise _map(exc, before_data=True) from exc
        try:
            code, _ = client.noop()
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass
        login = f", logged in as {self.s.username}" if self.s.username else ""
        return f"{self.s.host}:{self.s.port} answers ({self.s.security}{login}; NOOP {code})"

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
        write_synced(tmp, data)
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            os.unlink(tmp)  # nothing was sent: connecting failed
            raise _map(exc, before_data=True) from exc
        try:
            refused = client.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            error = _map(exc, before_data=getattr(client, "last_command", "") != "data")
            if not isinstance(error, OutcomeUnknown):
                os.unlink(tmp)  # the server said no, or never got the message: nothing was delivered
            raise error from exc
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
    """smtplib's errors → ours (the module's docstring). ``SMTPException`` is an ``OSError``: the
    server's answers are tested first."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _msg in exc.recipients.values()})
        said = "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
                         for addr, (code, msg) in exc.recipients.items())
        return ExecutionError(f"the SMTP server refused the recipient ({said})",
                              transient=any(c in TRANSIENT_CODES for c in codes))
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int) and (code in TRANSIENT_CODES or code in PERMANENT_CODES):
        text = getattr(exc, "smtp_error", b"")
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if isinstance(exc, smtplib.SMTPAuthenticationError) and code in PERMANENT_CODES:
            return ExecutionError(f"SMTP login refused ({code}): check the username and FTE_SMTP_PASSWORD")
        verdict = "try again later" if code in TRANSIENT_CODES else "not delivered"
        return ExecutionError(f"SMTP {code} {text} ({verdict})", transient=code in TRANSIENT_CODES)
    if isinstance(exc, ssl.SSLError):
        return ExecutionError(f"TLS with the SMTP server failed: {exc}")
    if before_data:
        return ExecutionError(f"SMTP server not reachable: {exc}", transient=True)
    return OutcomeUnknown(f"the connection failed during the send, after DATA: {exc}")
