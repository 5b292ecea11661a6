"""``fte web``: the waiting tasks as a small web page, for deciding from a phone (docs/web.md).

The page is a front end like the command line: it reads through :mod:`fte.usecases.reads` and
decides through :mod:`fte.usecases.decisions`, so a decision made here is the same signed
transition as ``fte approve``, bound to the presentation the page showed (its ``epoch``), with the
device's name in the audit log.

Who may use it: a device that signs in with its token (``fte web token add NAME``: shown once, kept
hashed in the home), which gives it a session cookie (HttpOnly, SameSite=Strict, Secure under TLS);
or a script sending ``Authorization: Bearer <token>``. Every decision is a POST carrying the
session's CSRF token (a bearer request needs none: a browser never adds that header by itself). A
GET never decides anything — link scanners and previews open links. Sign-ins are rate limited.
Nothing the page loads comes from anywhere but this host.

:class:`WebApp` is the whole behaviour over plain values (a request in, a :class:`Response` out);
:func:`make_server` puts it behind the standard library's threading HTTP server, with TLS when given
a certificate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fte.clock import Clock, utcnow
from fte.config import load_settings
from fte.errors import BadInput, FteError, NotFound, Stale
from fte.frontends import webpages
from fte.host.devices import Devices
from fte.usecases import decisions, reads

COOKIE = "fte_session"
#: A request body larger than this is refused (a draft is text; 1 MiB is far more than any).
MAX_BODY = 1 << 20
#: Failed sign-ins allowed per client address, and for everyone together, per LOGIN_WINDOW.
LOGIN_FAILURES_PER_CLIENT = 5
LOGIN_FAILURES_ALL = 50
LOGIN_WINDOW = 300.0
#: A session ends after this long without a request.
SESSION_IDLE = timedelta(hours=12)
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Session:
    device: str
    csrf: str
    seen: float


class LoginLimiter:
    """Failed sign-ins in a sliding window, per client address and for all together."""

    def __init__(self, per_client: int = LOGIN_FAILURES_PER_CLIENT, overall: int = LOGIN_FAILURES_ALL,
                 window: float = LOGIN_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.overall, self.window, self.clock = per_client, overall, window, clock
        self._failures: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def _trim(self) -> None:
        cutoff = self.clock() - self.window
        while self._failures and self._failures[0][0] < cutoff:
            self._failures.popleft()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before trying again (0: it may try now)."""
        with self._lock:
            self._trim()
            mine = [at for at, who in self._failures if who == client]
            if len(mine) >= self.per_client:
                return max(1.0, mine[0] + self.window - self.clock())
            if len(self._failures) >= self.overall:
                return max(1.0, self._failures[0][0] + self.window - self.clock())
            return 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.append((self.clock(), client))


class WebApp:
    """The page's behaviour for one local host's home. Thread-safe: sessions and the limiter are
    locked; every use case opens and closes what it needs."""

    def __init__(self, home: Path, *, secure: bool = False, clock: Clock = utcnow,
                 limiter: LoginLimiter | None = None) -> None:
        settings = load_settings(home)
        if not settings.executes:
            raise BadInput(f"a {settings.role} host does not decide; `fte web` runs on a local host")
        self.home = settings.home
        self.person = settings.person
        self.secure = secure
        self.clock = clock
        self.devices = Devices(self.home)
        self.limiter = limiter or LoginLimiter()
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # -- requests ----------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, client: str) -> Response:
        """Answer one request. ``headers`` by lower-case name; ``client`` is the peer's address."""
        try:
            return self._route(method, target, headers, body, client)
        except NotFound as exc:
            return self._problem(404, "Not found", str(exc))
        except FteError as exc:
            return self._problem(400, "Refused", str(exc))
        except Exception:  # noqa: BLE001 — a bug or a broken home: this request fails, the server goes on
            import traceback

            traceback.print_exc()
            return self._problem(500, "Failed", "fte could not answer this request (its log says why); "
                                                "open the list again to see what stands")

    def _route(self, method: str, target: str, headers: dict[str, str], body: bytes, client: str) -> Response:
        url = urlsplit(target)
        path = url.path
        if path == "/app.css" and method in ("GET", "HEAD"):
            return Response(200, webpages.CSS.encode(), "text/css; charset=utf-8",
                            [("Cache-Control", "max-age=3600")])
        if path == "/login":
            if method == "POST":
                return self._login(self._form(headers, body), client)
            if method in ("GET", "HEAD"):
                nxt = parse_qs(url.query).get("next", ["/"])[0]
                return self._html(200, webpages.login(next_path=_local(nxt)))
            return self._not_allowed("GET, POST")
        device, session, bearer = self._who(headers)
        if device is None:
            if method in ("GET", "HEAD"):
                return Response(303, headers=[("Location", "/login?next=" + quote(_local(target), safe=""))])
            return self._problem(401, "Sign in first", "this request carries no valid session or token")
        csrf = session.csrf if session else None
        wants_json = "application/json" in headers.get("accept", "")
        if path == "/logout":
            if method != "POST":
                return self._not_allowed("POST")
            form = self._form(headers, body)
            if session is not None and not _same(form.get("csrf", ""), session.csrf):
                return self._problem(403, "Refused", "the form's CSRF token is missing or wrong")
            self._end(headers)
            return Response(303, headers=[("Location", "/login"), ("Set-Cookie", self._cookie("", 0))])
        if path == "/":
            if method not in ("GET", "HEAD"):
                return self._not_allowed("GET")
            waiting = reads.waiting(self.home)
            if wants_json:
                return self._json(200, waiting)
            said = parse_qs(url.query).get("said", [""])[0]
            return self._html(200, webpages.waiting(waiting, self.clock(), device, csrf, said))
        if path.startswith("/task/") and path.count("/") == 2:
            task_id = path.removeprefix("/task/")
            if method in ("GET", "HEAD"):
                shown = reads.show(self.home, task_id)
                if wants_json:
                    return self._json(200, shown)
                said = parse_qs(url.query).get("said", [""])[0]
                return self._html(200, webpages.task(shown, self.clock(), device, csrf,
                                                     message=webpages.SAID.get(said, "")))
            if method == "POST":
                form = self._form(headers, body)
                if not bearer and (session is None or not _same(form.get("csrf", ""), session.csrf)):
                    return self._problem(403, "Refused", "the form's CSRF token is missing or wrong: nothing was "
                                                         "decided (open the task again)")
                return self._decide(task_id, form, device, csrf, wants_json)
            return self._not_allowed("GET, POST")
        return self._problem(404, "Not found", f"nothing at {path}")

    def _decide(self, task_id: str, form: dict[str, str], device: str, csrf: str | None,
                wants_json: bool) -> Response:
        action = form.get("action", "")
        try:
            epoch = int(form.get("epoch", ""))
        except ValueError:
            return self._problem(400, "Refused", "the form names no presentation (epoch): open the task again")
        try:
            if action == "approve":
                decided = decisions.approve(self.home, task_id, epoch=epoch, by=self.person, via="web",
                                            device=device, clock=self.clock)
                said = "approved"
            elif action == "reject":
                decided = decisions.reject(self.home, task_id, reason=form.get("reason", "").strip() or None,
                                           epoch=epoch, by=self.person, via="web", device=device,
                                           clock=self.clock)
                said = "rejected"
            elif action in ("save", "save_approve"):
                text = form.get("body", "").replace("\r\n", "\n")  # a browser sends a textarea's lines as CRLF
                if not text.strip():
                    raise BadInput("the draft is empty: write one, or reject the task")
                decided = decisions.edit(self.home, task_id, text, epoch=epoch, by=self.person, via="web",
                                         device=device, clock=self.clock)
                said = "saved"
                if action == "save_approve":
                    decided = decisions.approve(self.home, task_id, epoch=decided.task.epoch, by=self.person,
                                                via="web", device=device, clock=self.clock)
                    said = "approved"
            else:
                return self._problem(400, "Refused", f"no action {action[:40]!r}")
        except Stale as exc:
            shown = reads.show(self.home, task_id)
            if wants_json:
                return self._json(409, {"error": str(exc), "task": shown})
            return self._html(409, webpages.task(shown, self.clock(), device, csrf, warn=True,
                                                 message="The draft changed since this page was shown; nothing was "
                                                         "decided. Here is the current one."))
        if wants_json:
            return self._json(200, {"id": decided.task.id, "state": decided.task.state, "said": said,
                                    "sync_error": decided.sync_error})
        where = f"/task/{decided.task.id}?said=saved" if said == "saved" else f"/?said={said}"
        return Response(303, headers=[("Location", where)])

    # -- sign-in and sessions ------------------------------------------------------------------------

    def _login(self, form: dict[str, str], client: str) -> Response:
        wait = self.limiter.wait(client)
        if wait:
            return Response(429, webpages.login("Too many failed sign-ins; wait a few minutes.").encode(),
                            headers=[("Retry-After", str(int(wait) + 1))])
        device = self.devices.who(form.get("token", "").strip())
        if device is None:
            self.limiter.failed(client)
            return self._html(401, webpages.login("That token is not known here (revoked, or mistyped).",
                                                  _local(form.get("next", "/"))))
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[_digest(sid)] = Session(device, secrets.token_urlsafe(32), time.monotonic())
        return Response(303, headers=[("Location", _local(form.get("next", "/"))),
                                      ("Set-Cookie", self._cookie(sid, int(SESSION_IDLE.total_seconds())))])

    def _who(self, headers: dict[str, str]) -> tuple[str | None, Session | None, bool]:
        """The device behind this request, its session (None for a bearer token), and whether a
        bearer token made it. A revoked device's sessions end here."""
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return self.devices.who(auth[7:].strip()), None, True
        sid = _cookie_value(headers.get("cookie", ""), COOKIE)
        if not sid:
            return None, None, False
        key = _digest(sid)
        with self._lock:
            session = self._sessions.get(key)
            now = time.monotonic()
            if session is None or now - session.seen > SESSION_IDLE.total_seconds():
                self._sessions.pop(key, None)
                return None, None, False
            session.seen = now
        if not self.devices.known(session.device):
            with self._lock:
                self._sessions.pop(key, None)
            return None, None, False
        return session.device, session, False

    def _end(self, headers: dict[str, str]) -> None:
        sid = _cookie_value(headers.get("cookie", ""), COOKIE)
        if sid:
            with self._lock:
                self._sessions.pop(_digest(sid), None)

    def _cookie(self, value: str, max_age: int) -> str:
        return (f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
                + ("; Secure" if self.secure else ""))

    # -- answers -----------------------------------------------------------------------------------

    @staticmethod
    def _form(headers: dict[str, str], body: bytes) -> dict[str, str]:
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise BadInput("send the form as application/x-www-form-urlencoded")
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                              max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadInput(f"the form cannot be read ({exc})") from None
        return {k: v[0] for k, v in fields.items()}

    @staticmethod
    def _html(status: int, page: str) -> Response:
        return Response(status, page.encode("utf-8"))

    @staticmethod
    def _json(status: int, data: Any) -> Response:
        return Response(status, json.dumps(data, ensure_ascii=False, default=str).encode(), "application/json")

    @staticmethod
    def _problem(status: int, title: str, message: str) -> Response:
        return Response(status, webpages.problem(title, message).encode("utf-8"))

    @staticmethod
    def _not_allowed(allow: str) -> Response:
        return Response(405, webpages.problem("Not allowed", "a link alone never decides anything").encode(),
                        headers=[("Allow", allow)])


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def _local(target: str) -> str:
    """A path on this site to go to after signing in; anything else (another site) is ``/``."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def _cookie_value(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


class _Handler(BaseHTTPRequestHandler):
    app: WebApp
    timeout = 15  # a client that sends nothing for this long is dropped
    server_version = "fte"
    sys_version = ""

    def _serve(self) -> None:
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length else 0
        except ValueError:
            size = -1
        if size < 0 or size > MAX_BODY:
            self._send(Response(413 if size > MAX_BODY else 400, b"the request's body is refused", "text/plain"))
            return
        body = self.rfile.read(size) if size else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(self.app.handle(self.command, self.path, headers, body, self.client_address[0]))

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _serve

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        names = {k.lower() for k, _ in response.headers}
        for key, value in SECURITY_HEADERS:
            if key.lower() not in names:
                self.send_header(key, value)
        for key, value in response.headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the base class's name
        pass  # requests are not logged: their paths hold task ids, and the audit log says who decided


def make_server(app: WebApp, listen: str = "127.0.0.1", port: int = 8089, tls_cert: str = "",
                tls_key: str = "") -> ThreadingHTTPServer:
    """The app behind a threading HTTP server on ``listen:port`` (port 0: any free one), with TLS
    when a certificate and its key are given."""
    handler = type("Handler", (_Handler,), {"app": app})
    server = ThreadingHTTPServer((listen, port), handler)
    server.daemon_threads = True
    if tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls_cert, tls_key or None)
        # The handshake happens in the request's own thread (at its first read), not in accept():
        # a client that stalls mid-handshake must not hold up everyone else's connections.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server


def is_loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"
