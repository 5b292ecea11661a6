"""``fte web`` over real HTTP on 127.0.0.1 (the page's server, an httpx client): who may sign in,
what a request must carry to decide, and what it decides. tests/test_web_browser.py drives the same
page in a real Chromium."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import fte_cli
from hosts import pending

from fte.clock import utcnow
from fte.frontends.web import LoginLimiter, WebApp, make_server
from fte.host.devices import Devices
from fte.usecases import decisions, reads


class Page:
    """A running ``fte web`` and a client; ``sign_in`` keeps the session cookie."""

    def __init__(self, home: Path, limiter: LoginLimiter | None = None) -> None:
        self.home = home
        self.app = WebApp(home, limiter=limiter)
        self.server = make_server(self.app, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    def sign_in(self, token: str) -> httpx.Response:
        return self.client.post("/login", data={"token": token, "next": "/"})

    def csrf(self, task_id: str) -> tuple[str, int]:
        page = self.client.get(f"/task/{task_id}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        epoch = re.search(r'name="epoch" value="(\d+)"', page)
        assert csrf and epoch, page[:500]
        return csrf.group(1), int(epoch.group(1))

    def close(self) -> None:
        self.client.close()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def page(home_dir: Path) -> Iterator[Page]:
    p = Page(home_dir)
    yield p
    p.close()


def _state(home: Path, task_id: str) -> str:
    return str(reads.show(home, task_id)["state"])


def test_nothing_is_shown_without_a_device_token(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    r = page.client.get(f"/task/{task_id}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert page.client.get("/", headers={"Accept": "application/json"}).status_code == 303
    assert page.client.post(f"/task/{task_id}", data={"action": "approve", "epoch": "1"}).status_code == 401
    assert page.client.get("/", headers={"Authorization": "Bearer fte_not-a-token"}).status_code == 303
    assert page.sign_in("fte_" + "x" * 43).status_code == 401
    assert _state(page.home, task_id) == "pending"


def test_a_device_signs_in_and_its_session_cookie_is_locked_down(page: Page) -> None:
    token = Devices(page.home).add("phone", utcnow())
    r = page.sign_in(token)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; under TLS the app sets it (below)
    assert WebApp(page.home, secure=True)._cookie("x", 1).endswith("; Secure")
    listing = page.client.get("/")
    assert listing.status_code == 200 and "phone" in listing.text
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert header in listing.headers
    assert "default-src 'none'" in listing.headers["content-security-policy"]
    assert "http://" not in listing.text and "https://" not in listing.text  # nothing loads from elsewhere


def test_sign_in_goes_only_to_a_page_of_this_site(page: Page) -> None:
    token = Devices(page.home).add("phone", utcnow())
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = page.client.post("/login", data={"token": token, "next": target})
        assert r.headers["location"] == "/", target


def test_failed_sign_ins_are_limited(home_dir: Path) -> None:
    page = Page(home_dir, LoginLimiter(per_client=3, overall=100, window=600))
    try:
        token = Devices(home_dir).add("phone", utcnow())
        for _ in range(3):
            assert page.sign_in("fte_wrong").status_code == 401
        r = page.sign_in(token)  # even the right token waits: the client is guessing
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    finally:
        page.close()


def test_a_link_alone_decides_nothing(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    page.sign_in(Devices(page.home).add("phone", utcnow()))
    for url in (f"/task/{task_id}?action=approve", f"/task/{task_id}/approve", f"/?action=approve&task={task_id}"):
        assert page.client.get(url).status_code in (200, 404)
    assert page.client.put(f"/task/{task_id}", data={"action": "approve"}).status_code == 405
    assert _state(page.home, task_id) == "pending"


def test_a_post_without_the_session_csrf_token_decides_nothing(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    token = Devices(page.home).add("phone", utcnow())
    page.sign_in(token)
    _csrf, epoch = page.csrf(task_id)
    assert page.client.post(f"/task/{task_id}", data={"action": "approve", "epoch": epoch}).status_code == 403
    other = Page(page.home)  # another signed-in session's token is not this one's
    try:
        other.sign_in(token)
        their_csrf, _e = other.csrf(task_id)
    finally:
        other.close()
    r = page.client.post(f"/task/{task_id}", data={"action": "approve", "epoch": epoch, "csrf": their_csrf})
    assert r.status_code == 403
    assert _state(page.home, task_id) == "pending"


def test_approve_reject_and_edit_are_the_use_cases_with_the_device_in_the_audit_log(page: Page) -> None:
    first, second, third = pending(page.home, 3)
    page.sign_in(Devices(page.home).add("phone", utcnow()))
    csrf, epoch = page.csrf(first)
    r = page.client.post(f"/task/{first}", data={"action": "approve", "epoch": epoch, "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/?said=approved"
    csrf, epoch = page.csrf(second)
    page.client.post(f"/task/{second}", data={"action": "reject", "epoch": epoch, "csrf": csrf, "reason": "not now"})
    csrf, epoch = page.csrf(third)
    body = reads.show(page.home, third)["body"].replace("Hello", "Dear Ann") + "\r\nBest, me\r\n"
    r = page.client.post(f"/task/{third}", data={"action": "save_approve", "epoch": epoch, "csrf": csrf, "body": body})
    assert r.status_code == 303
    shown = {t: reads.show(page.home, t) for t in (first, second, third)}
    assert [shown[t]["state"] for t in (first, second, third)] == ["approved", "rejected", "approved"]
    assert shown[third]["body"] == body.replace("\r\n", "\n")  # the textarea's CRLF is the person's LF
    assert "\r" not in shown[third]["body"]
    decided = {t: [e for e in shown[t]["timeline"] if e["event"] in ("approve", "reject", "edit")] for t in shown}
    assert all(e["source"] == "web" and e["detail"]["device"] == "phone" for t in decided for e in decided[t])
    assert decided[second][0]["detail"]["reason"] == "not now"
    assert shown[first]["approval"]["epoch"] == epoch or shown[first]["approval"]  # signed, as fte approve signs


def test_save_only_keeps_the_task_waiting_and_says_so(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    page.sign_in(Devices(page.home).add("phone", utcnow()))
    csrf, epoch = page.csrf(task_id)
    r = page.client.post(f"/task/{task_id}", data={"action": "save", "epoch": epoch, "csrf": csrf,
                                                   "body": "Shorter, as I write it.\r\n"})
    assert r.status_code == 303 and r.headers["location"] == f"/task/{task_id}?said=saved"
    shown = page.client.get(r.headers["location"]).text
    assert "Saved as the draft" in shown and "Shorter, as I write it." in shown
    assert reads.show(page.home, task_id)["state"] == "pending"
    assert reads.show(page.home, task_id)["body"] == "Shorter, as I write it.\n"
    r = page.client.post(f"/task/{task_id}", data={"action": "save", "epoch": epoch, "csrf": csrf, "body": "  "})
    assert r.status_code in (400, 409)  # an empty draft is refused, and this page is stale by now anyway


def test_a_page_older_than_the_task_cannot_decide(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    page.sign_in(Devices(page.home).add("phone", utcnow()))
    csrf, epoch = page.csrf(task_id)
    decisions.edit(page.home, task_id, "A new draft from the desktop.\n")  # meanwhile, on another device
    r = page.client.post(f"/task/{task_id}", data={"action": "approve", "epoch": epoch, "csrf": csrf})
    assert r.status_code == 409 and "The draft changed" in r.text and "A new draft from the desktop." in r.text
    assert _state(page.home, task_id) == "pending"
    csrf, epoch2 = page.csrf(task_id)
    assert epoch2 != epoch
    r = page.client.post(f"/task/{task_id}", data={"action": "approve", "epoch": epoch2, "csrf": csrf})
    assert r.status_code == 303 and _state(page.home, task_id) == "approved"


def test_a_revoked_device_is_signed_out_at_its_next_request(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    token = Devices(page.home).add("phone", utcnow())
    page.sign_in(token)
    csrf, epoch = page.csrf(task_id)
    fte_cli("web", "token", "revoke", "phone", "--home", page.home)
    r = page.client.post(f"/task/{task_id}", data={"action": "approve", "epoch": epoch, "csrf": csrf})
    assert r.status_code == 401
    assert page.client.get("/").status_code == 303
    assert page.client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 303
    assert page.sign_in(token).status_code == 401
    assert _state(page.home, task_id) == "pending"


def test_a_script_decides_with_a_bearer_token_and_json(page: Page) -> None:
    [task_id] = pending(page.home, 1)
    token = Devices(page.home).add("script", utcnow())
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    listed = page.client.get("/", headers=auth).json()
    assert [t["id"] for t in listed] == [task_id]
    epoch = page.client.get(f"/task/{task_id}", headers=auth).json()["epoch"]
    r = page.client.post(f"/task/{task_id}", headers=auth, data={"action": "approve", "epoch": epoch})
    assert r.status_code == 200 and r.json()["state"] == "approved"


def test_what_a_mail_says_is_shown_as_text_never_as_markup(page: Page) -> None:
    [task_id] = pending(page.home, 1, subject='<script>alert(1) "x" \u202e')
    page.sign_in(Devices(page.home).add("phone", utcnow()))
    for html in (page.client.get("/").text, page.client.get(f"/task/{task_id}").text):
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "\u202e" not in html  # a bidi override is made visible, not obeyed


def test_tokens_are_shown_once_and_kept_hashed(home_dir: Path) -> None:
    r = fte_cli("web", "token", "add", "phone", "--json", "--home", home_dir)
    import json

    token = json.loads(r.output)["token"]
    assert token.startswith("fte_") and len(token) >= 40
    stored = (home_dir / "web-devices.json").read_text()
    assert token not in stored and (home_dir / "web-devices.json").stat().st_mode & 0o077 == 0
    assert Devices(home_dir).who(token) == "phone"
    assert "phone" in fte_cli("web", "token", "list", "--home", home_dir).output
    fte_cli("web", "token", "add", "phone", "--home", home_dir, code=2)  # one token per name
    fte_cli("web", "token", "add", "../x", "--home", home_dir, code=2)
    fte_cli("web", "token", "revoke", "tablet", "--home", home_dir, code=2)


def test_a_cloud_host_serves_no_page(tmp_path: Path) -> None:
    from fte.errors import BadInput
    from fte.host.home import init_home

    init_home(tmp_path / "cloud", role="cloud", agent="cloud")
    with pytest.raises(BadInput):
        WebApp(tmp_path / "cloud")


def _serve(home: Path, *args: str):  # noqa: ANN202 — (process, its first line)
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "fte", "web", "--port", "0", "--home", str(home), *args],
                            stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # type: ignore[union-attr]
    if proc.poll() is not None:
        raise AssertionError(f"fte web exited {proc.returncode} at start: {first}")
    return proc, first


def _stop(proc) -> str:  # noqa: ANN001
    import signal

    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_fte_web_serves_until_sigterm_and_warns_beyond_loopback_without_tls(home_dir: Path) -> None:
    proc, first = _serve(home_dir)
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
        assert url, first
        assert httpx.get(url.group(1) + "/login", timeout=30).status_code == 200
    finally:
        err = _stop(proc)
    assert "WARNING" not in first + err
    proc, first = _serve(home_dir, "--listen", "0.0.0.0")
    warning = proc.stderr.readline()  # type: ignore[union-attr]
    _stop(proc)
    assert "WARNING" in warning and "without TLS" in warning


def test_fte_web_speaks_tls_with_a_certificate(home_dir: Path, tmp_path: Path) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "cert.pem"))
    proc, first = _serve(home_dir, "--tls-cert", str(tmp_path / "cert.pem"))
    try:
        url = re.search(r"(https://127\.0\.0\.1:\d+)/", first)
        assert url, first
        context = ssl.create_default_context()
        ca.configure_trust(context)
        token = Devices(home_dir).add("phone", utcnow())
        import socket

        port = int(url.group(1).rsplit(":", 1)[1])
        stalled = socket.create_connection(("127.0.0.1", port))  # starts a handshake and stops
        stalled.send(b"\x16\x03")
        with httpx.Client(base_url=url.group(1), verify=context, timeout=10) as client:
            r = client.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
            assert r.status_code == 303 and "; Secure" in r.headers["set-cookie"]
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.group(1).replace("https", "http") + "/login", timeout=10)
        stalled.close()
    finally:
        _stop(proc)
