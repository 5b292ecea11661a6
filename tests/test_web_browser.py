"""``fte web`` in a real headless Chromium at a phone's size (Debian's ``chromium``, driven by
Playwright pointed at that binary: no browser is downloaded). A person signs in with a device token,
approves, rejects with a reason, edits then approves; a stale page, a form stripped of its CSRF token
and a revoked token decide nothing; and the mail sent is exactly the draft the page showed."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts import HostRun, pending

from fte.clock import utcnow
from fte.frontends.web import WebApp, make_server
from fte.host.devices import Devices
from fte.usecases import decisions, reads

PHONE = {"width": 360, "height": 740}


def _chromium() -> str:
    found = os.environ.get("FTE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("these tests need Chromium: `apt-get install chromium` (.ci/run installs it), or set FTE_CHROMIUM")
    return found


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def site(home_dir: Path) -> Iterator[str]:
    server = make_server(WebApp(home_dir), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _sent(home: Path) -> dict[str, str]:
    """The mails in the outbox, by the task id they carry, as their text."""
    out = {}
    for path in (home / "outbox" / "new").iterdir():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out[str(msg["X-FTE-Task"])] = msg.get_content()
    return out


def _signed_in(browser: object, site: str, token: str):  # noqa: ANN202 — a Playwright page
    page = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True).new_page()  # type: ignore[attr-defined]
    page.goto(site + "/")
    assert page.url.startswith(site + "/login")
    page.get_by_label("Device token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site + "/")
    return page


def _fits(page) -> None:  # noqa: ANN001
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"


def test_a_person_decides_from_a_phone_and_exactly_what_was_shown_is_sent(home_dir: Path, site: str,
                                                                          browser: object) -> None:
    first, second, third = pending(home_dir, 3)
    page = _signed_in(browser, site, Devices(home_dir).add("phone", utcnow()))
    assert page.get_by_role("heading").first.inner_text() == "3 waiting"
    _fits(page)
    shots = os.environ.get("FTE_SCREENSHOTS")
    if shots:
        page.screenshot(path=str(Path(shots) / "web-list.png"), full_page=True)

    page.goto(f"{site}/task/{first}")
    _fits(page)
    if shots:
        page.screenshot(path=str(Path(shots) / "web-task.png"), full_page=True)
    shown_first = page.text_content("#draft")
    page.get_by_role("button", name="Approve and send").click()
    page.wait_for_url(site + "/?said=approved")
    assert "Approved" in page.get_by_role("status").inner_text()

    page.goto(f"{site}/task/{second}")
    page.get_by_label("Reason for a rejection (optional)").fill("we do not answer this one")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_url(site + "/?said=rejected")

    page.goto(f"{site}/task/{third}")
    typed = "Dear Ann,\n\nYes — Thursday at 10 works.\n\nBest regards"
    page.get_by_label("Draft").fill(typed)
    page.get_by_role("button", name="Save and approve").click()
    page.wait_for_url(site + "/?said=approved")
    assert page.get_by_role("heading").first.inner_text() == "Waiting"

    states = {t: reads.show(home_dir, t) for t in (first, second, third)}
    assert [states[t]["state"] for t in (first, second, third)] == ["approved", "rejected", "approved"]
    assert states[second]["error"] == "rejected: we do not answer this one"
    run = HostRun(home_dir)
    run.tick()  # claims and sends what was approved
    run.close()
    sent = _sent(home_dir)
    assert set(sent) == {first, third}  # each approved task once; the rejected one never
    assert sent[first] == shown_first
    assert sent[third].rstrip("\n") == typed


def test_a_stale_page_a_forged_form_and_a_revoked_token_decide_nothing(home_dir: Path, site: str,
                                                                       browser: object) -> None:
    [task_id] = pending(home_dir, 1)
    token = Devices(home_dir).add("phone", utcnow())
    page = _signed_in(browser, site, token)

    page.goto(f"{site}/task/{task_id}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    page.get_by_role("button", name="Approve and send").click()
    assert "CSRF" in page.get_by_role("alert").inner_text()
    assert reads.show(home_dir, task_id)["state"] == "pending"

    page.goto(f"{site}/task/{task_id}")  # shown; meanwhile the desktop edits the draft
    decisions.edit(home_dir, task_id, "Changed on the desktop.\n")
    page.get_by_role("button", name="Approve and send").click()
    assert "The draft changed" in page.get_by_role("alert").inner_text()
    assert page.text_content("#draft") == "Changed on the desktop.\n"  # the new one, shown
    assert reads.show(home_dir, task_id)["state"] == "pending"

    Devices(home_dir).revoke("phone")
    page.get_by_role("button", name="Approve and send").click()  # the current draft, but no device now
    assert reads.show(home_dir, task_id)["state"] == "pending"
    page.goto(f"{site}/")
    assert page.url.startswith(site + "/login")
