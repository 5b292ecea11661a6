"""WhatsApp through Twilio: an inbound webhook (local host only) and sending replies.

**Inbound.** Twilio POSTs each message (form fields ``MessageSid``, ``From``, ``To``, ``Body``…) to
a webhook. ``fte whatsapp serve`` runs that endpoint on 127.0.0.1 (put a TLS reverse proxy or tunnel
in front); it checks ``X-Twilio-Signature`` with Twilio's own ``RequestValidator`` against the public
URL Twilio called, refuses anything else with 403, and spools each verified message as a JSON file
in ``<home>/whatsapp/new/`` (written atomically). The daemon's :class:`WhatsAppSource` reads the spool,
and removes each message once it is a task (:meth:`WhatsAppSource.forget`).

The server faces the internet (through the tunnel), so it holds explicit limits (docs/channels.md,
"WhatsApp"): a body is read only with a valid ``Content-Length`` of at most :data:`MAX_BODY` (a
missing, negative, non-numeric or chunked length is refused before reading, and the connection
closed); the whole request must be in within :data:`READ_TIMEOUT` seconds of the connection (a
client trickling a byte at a time is dropped then); requests are read by asyncio
(:mod:`fte.support.asynchttp`), so slow clients cost a coroutine each, not a thread, and genuine
requests are answered while hundreds trickle; at most :data:`MAX_CONNECTIONS` are open at once
(more are answered 503); the listen backlog holds :data:`BACKLOG` waiting connections.

**Outbound.** ``messages.create`` with ``whatsapp:`` addresses. Twilio has no idempotency key: the
lookup lists recent messages from our number to the recipient and matches the body.

Secrets: ``FTE_TWILIO_ACCOUNT_SID``, ``FTE_TWILIO_AUTH_TOKEN`` (local only).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fte.io.channels.contract import ExecutionError, Performed, Polled
from fte.models.tables import Task
from fte.support.asynchttp import AsyncHTTPServer, Reply, Request

MAX_BODY = 64 * 1024
READ_TIMEOUT = 10.0  # the whole request, from the connection on
MAX_CONNECTIONS = 4096  # connections waiting for their request cost a coroutine each, not a thread
#: Connections from one address: an attacker takes at most a quarter of the slots, and a burst from
#: one of Twilio's addresses (200 at once in the tests) is still served.
MAX_PER_CLIENT = 1024
BACKLOG = 1024


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class WhatsAppMessage:
    sid: str
    sender: str  # e.g. whatsapp:+4915112345678
    to: str
    body: str

    def task_fields(self, source: str) -> dict[str, Any]:
        """A ``whatsapp.reply`` task to the sender."""
        return {"kind": "whatsapp.reply", "ref": self.sid, "title": f"WhatsApp from {self.sender}: {self.body[:60]}",
                "params": {"to": self.sender}, "original": f"{self.sender} wrote:\n\n{self.body}",
                # Twilio's From already says "whatsapp:+…": the audit log's actor is that address.
                "actor": self.sender if self.sender.startswith("whatsapp:") else f"whatsapp:{self.sender}"}


def spool_message(spool: Path, fields: dict[str, str]) -> Path:
    """Write one verified inbound message into the spool, atomically (tmp, fsync, rename)."""
    sid = "".join(c for c in fields.get("MessageSid", "") if c.isalnum())[:64]
    if not sid:
        raise ValueError("no MessageSid")
    for sub in ("tmp", "new"):
        (spool / sub).mkdir(parents=True, exist_ok=True)
    data = json.dumps({k: fields.get(k, "") for k in ("MessageSid", "From", "To", "Body", "ProfileName")}).encode()
    fd, tmp = tempfile.mkstemp(dir=spool / "tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    dest = spool / "new" / f"{sid}.json"
    os.replace(tmp, dest)
    return dest


def make_server(spool: Path, auth_token: str, public_url: str, port: int = 8088, host: str = "127.0.0.1",
                max_connections: int = MAX_CONNECTIONS, read_timeout: float = READ_TIMEOUT,
                max_per_client: int = MAX_PER_CLIENT) -> AsyncHTTPServer:
    """The webhook: POST only, ``X-Twilio-Signature`` checked against ``public_url``, 403 otherwise.
    ``read_timeout``: the whole request must be in within it, from the connection on."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)

    def answer(request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405, b"POST only")
        fields = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not validator.validate(public_url, fields, signature):
            return Reply(403, b"signature does not verify")
        try:
            spool_message(spool, fields)
        except ValueError:
            return Reply(400, b"no MessageSid")
        # An empty TwiML response: the reply comes later, after a person approves it.
        return Reply(200, b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml")

    return AsyncHTTPServer(answer, host, port, max_body=MAX_BODY, deadline=read_timeout,
                           max_connections=max_connections, max_per_client=max_per_client, backlog=BACKLOG)


class WhatsAppSource:
    name = "whatsapp"
    cursor_name = "whatsapp:spool"

    def __init__(self, spool: Path) -> None:
        self.spool = spool

    def poll(self, cursor: str | None) -> Polled[WhatsAppMessage]:
        folder = self.spool / "new"
        items = []
        skipped: list[tuple[str, str]] = []
        if folder.is_dir():
            for f in sorted(folder.glob("*.json")):
                try:
                    data = json.loads(f.read_bytes()[:MAX_BODY])
                    items.append(WhatsAppMessage(str(data["MessageSid"]), str(data["From"]), str(data["To"]),
                                                 str(data.get("Body", ""))))
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    # Not a message the webhook wrote: left where it is for a person, the others read.
                    skipped.append((f.name, f"not a spooled message ({type(exc).__name__})"))
                    continue
        # The dedupe on MessageSid makes re-reading harmless; the cursor only records the count seen.
        return Polled(items, str(len(items)), skipped)

    def forget(self, refs: list[str]) -> None:
        """The messages ``refs`` (MessageSids) are tasks now, committed: remove them from the spool,
        so each tick reads only what is new. A crash before this only means they are read once more
        (and found to be tasks already)."""
        folder = self.spool / "new"
        for sid in refs:
            name = "".join(c for c in sid if c.isalnum())[:64]
            if name:
                (folder / f"{name}.json").unlink(missing_ok=True)


class WhatsAppSender:
    kinds = ("whatsapp.reply",)

    def __init__(self, client: Any, from_number: str) -> None:
        self.client = client
        self.from_number = from_number if from_number.startswith("whatsapp:") else f"whatsapp:{from_number}"

    def key_for(self, task: Task) -> str:
        """``wa:<recipient>:<sha256 of the text, 16 hex>`` — what the lookup can match at Twilio."""
        to = str((task.params or {}).get("to", ""))
        return f"wa:{to}:{_digest(task.body)}"

    def lookup(self, key: str) -> str | None:
        from twilio.base.exceptions import TwilioException

        if not key.startswith("wa:") or key.count(":") < 2:
            return None
        to, digest = key[3:].rsplit(":", 1)
        try:
            # The newest 50 between the two numbers, whatever their status: no date filter, because a
            # message still queued or sending has no sent date and a DateSent filter would miss it.
            recent = self.client.messages.list(from_=self.from_number, to=to, limit=50)
        except TwilioException as exc:
            raise ExecutionError(f"Twilio lookup failed: {exc}", transient=True) from exc
        for m in recent:
            if _digest(m.body or "") == digest:
                return str(m.sid)
        return None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        from twilio.base.exceptions import TwilioRestException

        to = str((task.params or {}).get("to", ""))
        if not to.startswith("whatsapp:"):
            raise ExecutionError(f"the reply needs a whatsapp: recipient, not {to!r}")
        try:
            msg = self.client.messages.create(from_=self.from_number, to=to, body=task.body)
        except TwilioRestException as exc:
            transient = exc.status == 429 or exc.status >= 500
            raise ExecutionError(f"Twilio refused the message ({exc.status} {exc.code}): {exc.msg}", transient=transient) from exc
        return Performed(external_id=str(msg.sid))
