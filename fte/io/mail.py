"""Mail as plain values: what a source hands in (:class:`IncomingMail`) and what an executor sends.

Both directions use the stdlib ``email`` package with ``policy.default`` (RFC 5322 / SMTPUTF8 aware).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parseaddr
from datetime import datetime
from typing import Any

_NO_REPLY = re.compile(r"(?i)(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|postmaster|bounce)")
MAX_TEXT = 100_000


@dataclass(frozen=True)
class IncomingMail:
    message_id: str
    sender: str          # bare address
    sender_name: str
    to: tuple[str, ...]
    subject: str
    date: str
    text: str
    references: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_no_reply(self) -> bool:
        return bool(_NO_REPLY.search(self.sender))

    def reply_params(self) -> dict[str, Any]:
        """The reply's parameters, as the note shows them (a person may edit ``to`` and ``subject``)."""
        subject = self.subject if self.subject.lower().startswith("re:") else f"Re: {self.subject}".strip()
        return {
            "to": self.sender,
            "subject": subject,
            "in_reply_to": self.message_id,
            "references": " ".join((*self.references, self.message_id)).strip(),
        }

    def quoted_original(self) -> str:
        who = f"{self.sender_name} <{self.sender}>" if self.sender_name else self.sender
        return f"From: {who}\nDate: {self.date}\nSubject: {self.subject}\n\n{self.text.strip()}"


def parse_mail(data: bytes) -> IncomingMail:
    """Parse raw RFC 5322 bytes; a missing Message-ID gets a stable one made from the content."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    name, addr = parseaddr(str(msg.get("From", "")))
    message_id = str(msg.get("Message-ID", "")).strip()
    if not message_id:
        import hashlib

        message_id = f"<sha256.{hashlib.sha256(data).hexdigest()[:32]}@fte.invalid>"
    body = msg.get_body(preferencelist=("plain", "html")) if msg.is_multipart() or msg.get_content_type() else None
    text = ""
    if body is not None:
        try:
            text = body.get_content()
        except (LookupError, KeyError):
            text = body.get_payload(decode=True).decode("utf-8", "replace") if body.get_payload(decode=True) else ""
        if body.get_content_type() == "text/html":
            text = re.sub(r"<[^>]+>", "", text)
    refs = tuple(str(msg.get("References", "")).split())
    return IncomingMail(
        message_id=message_id,
        sender=addr.lower(),
        sender_name=name,
        to=tuple(a for _n, a in getaddresses([str(v) for v in msg.get_all("To", [])])),
        subject=str(msg.get("Subject", "")).strip(),
        date=str(msg.get("Date", "")),
        text=text[:MAX_TEXT],
        references=refs,
    )


def build_reply(
    *, task_id: str, sender: str, params: dict[str, Any], body: str, message_id: str, date: datetime
) -> EmailMessage:
    """The reply an executor sends: threading headers, and the idempotency key as Message-ID + X-FTE-Task."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = str(params["to"])
    msg["Subject"] = str(params.get("subject", ""))
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if params.get("in_reply_to"):
        msg["In-Reply-To"] = str(params["in_reply_to"])
    if params.get("references"):
        msg["References"] = str(params["references"])
    msg["X-FTE-Task"] = task_id
    msg.set_content(body)
    return msg


def message_id_for(task_id: str, domain: str) -> str:
    """The deterministic Message-ID of a task's mail: the key the provider lookup searches for."""
    return f"<fte.{task_id}@{domain}>"
