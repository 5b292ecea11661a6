"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, with optional TLS and AUTH."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)
    refuse_with: str | None = None  # at RCPT, e.g. "451 4.3.0 try again later" (greylisting)
    refuse_data_with: str | None = None  # after the message, e.g. "550 5.7.1 Message rejected as spam"
    hang_up_after_data: bool = False  # keep the message, then drop the connection before replying
    hang_up_at_rcpt: bool = False  # drop the connection when the recipient is named (before DATA)
    stall_data: bool = False  # hold the message without replying (until the client goes away)
    data_seen: threading.Event = field(default_factory=threading.Event)  # set when a message arrives

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        if self.hang_up_at_rcpt:
            server.transport.abort()
            return "250 never seen"
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.data_seen.set()
        if self.stall_data:
            await asyncio.sleep(120)  # the client is killed meanwhile; never accepted
            return "451 4.3.0 too late"
        if self.refuse_data_with:
            return self.refuse_data_with
        if self.hang_up_after_data:
            self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
            server.transport.abort()  # the reply is lost: the client cannot know the message was kept
            return "250 never seen"
        self.envelopes.append(envelope)
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


class Authenticator:
    """``busy``: answer every login with this (e.g. "454 4.7.0 Temporary authentication failure")."""

    def __init__(self, user: str, password: str, busy: str | None = None) -> None:
        self.user, self.password, self.busy = user, password, busy

    def __call__(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        if self.busy:
            return AuthResult(success=False, handled=False, message=self.busy)
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user \
            and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)


def start_server(inbox: Inbox, mode: str = "none", cert: Any = None, auth: tuple[str, ...] | None = None) -> Controller:
    """mode: none | starttls | ssl. ``cert`` is a trustme.LeafCert for the TLS modes."""
    kwargs: dict[str, Any] = {}
    if mode in ("starttls", "ssl"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        if mode == "starttls":
            kwargs |= {"tls_context": ctx, "require_starttls": True}
        else:
            kwargs["ssl_context"] = ctx
    if auth:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; on an implicit-TLS port the link is TLS anyway.
        kwargs |= {"authenticator": Authenticator(*auth), "auth_require_tls": mode == "starttls"}
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="localhost", **kwargs)
    controller.start()
    return controller
