"""A small HTTP/1.x server for endpoints that face the internet, where a slow client costs a
coroutine, not a thread (the WhatsApp webhook; docs/channels.md, "WhatsApp").

The standard library's threading server gives each connection a thread until its request is in:
260 clients sending a header byte every 5 s held all 256 slots of the webhook, and every genuine
signed request got 503 for as long as they trickled (each byte restarted the read timeout). Here
the request is read by asyncio: thousands of trickling connections wait side by side at no cost,
each is closed when its whole request is not in within ``deadline`` seconds of its connection (no
byte restarts it), and a genuine request is read and answered as it arrives. The answer itself is
computed in a small pool of threads (``handler`` may block: a signature check, a file written).

Limits: the request head at most :data:`MAX_HEAD` bytes; a body only with a valid
``Content-Length`` of at most ``max_body`` (chunked, missing, negative or non-numeric lengths are
refused before reading); at most ``max_connections`` open connections, and at most
``max_per_client`` from one address (more are answered 503 and closed at once: one address cannot
take the slots that other clients' genuine requests need); one request per connection (every answer
says ``Connection: close``). Behind a reverse proxy every client has the proxy's address: raise
``max_per_client`` there, or let the proxy keep the count.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

MAX_HEAD = 16 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]  # by lower-case name
    body: bytes
    client: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _bytes(reply: Reply) -> bytes:
    reason = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else ""
    head = [f"HTTP/1.1 {reply.status} {reason}", f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}", "Connection: close",
            *(f"{k}: {v}" for k, v in reply.headers)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body


class AsyncHTTPServer:
    """Serves ``handler(request) -> Reply`` on ``host:port`` (0: a free port, see
    :attr:`server_address`). :meth:`serve_forever` runs it in the calling thread until
    :meth:`shutdown`; the socket is bound at construction, as the standard library's servers do."""

    def __init__(self, handler: Callable[[Request], Reply], host: str = "127.0.0.1", port: int = 0, *,
                 max_body: int, deadline: float = 10.0, max_connections: int = 4096, max_per_client: int = 1024,
                 workers: int = 8, backlog: int = 1024) -> None:
        self.handler, self.max_body, self.deadline = handler, max_body, deadline
        self.max_connections, self.max_per_client = max_connections, max_per_client
        self._by_client: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fte-http")
        self._open = 0
        self._stop = asyncio.Event()  # bound to the loop at its first wait (Python 3.10+)
        self._stopped = threading.Event()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, host, port, backlog=backlog, limit=MAX_HEAD))
        self.server_address: tuple[str, int] = self._server.sockets[0].getsockname()[:2]

    def serve_forever(self, **_ignored: Any) -> None:
        """Serve until :meth:`shutdown` (keyword arguments of the standard library's servers, such
        as ``poll_interval``, are accepted and not needed)."""
        try:
            self._loop.run_until_complete(self._stop.wait())
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (from another thread) and wait until it has."""
        if not self._loop.is_closed() and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._stopped.wait(10)

    def server_close(self) -> None:
        if self._loop.is_closed():
            return
        self._server.close()
        if not self._loop.is_running():
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def handle_error(self, exc: BaseException) -> None:
        """A client gone mid-answer is normal on the internet (quiet); anything else is a bug (printed)."""
        if not isinstance(exc, (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError)):
            traceback.print_exception(exc, file=sys.stderr)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else ""
        if self._open >= self.max_connections:
            await self._answer(writer, Reply(503, b"busy", headers=(("Retry-After", "1"),)))
            writer.close()
            return
        if self._by_client.get(client, 0) >= self.max_per_client:
            await self._answer(writer, Reply(503, b"too many connections from one address",
                                             headers=(("Retry-After", "1"),)))
            writer.close()
            return
        self._open += 1
        self._by_client[client] = self._by_client.get(client, 0) + 1
        try:
            try:
                request = await asyncio.wait_for(self._read(reader, client), self.deadline)
            except _Refused as refused:
                await self._answer(writer, refused.reply)
                return
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                    OSError):
                return  # too slow, gone, or not HTTP: closed without a word
            try:
                reply = await self._loop.run_in_executor(self._pool, self.handler, request)
            except Exception as exc:  # noqa: BLE001 — a bug answers 500; the server goes on
                self.handle_error(exc)
                reply = Reply(500, b"internal error")
            await self._answer(writer, reply)
        except Exception as exc:  # noqa: BLE001
            self.handle_error(exc)
        finally:
            self._open -= 1
            left = self._by_client.pop(client) - 1
            if left:
                self._by_client[client] = left
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, client: str) -> Request:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = b""
        if method in ("POST", "PUT", "PATCH"):
            if "transfer-encoding" in headers or "content-length" not in headers:
                raise _Refused(Reply(411, b"a Content-Length is required"))
            declared = headers["content-length"]
            if not declared.isdigit():
                raise _Refused(Reply(400, b"bad Content-Length"))
            if int(declared) > self.max_body:
                raise _Refused(Reply(413, b"too large"))
            try:
                body = await reader.readexactly(int(declared))
            except asyncio.IncompleteReadError:
                raise _Refused(Reply(400, b"the body is shorter than its Content-Length")) from None
        return Request(method, target, headers, body, client)

    async def _answer(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        try:
            writer.write(_bytes(reply))
            await asyncio.wait_for(writer.drain(), self.deadline)
        except (OSError, asyncio.TimeoutError):
            pass


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
