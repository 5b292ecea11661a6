"""Notifications through Apprise, received by a real HTTP endpoint on 127.0.0.1 (Apprise's
``json://`` service posts ``{"version", "title", "message", "type", "attachments"}``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from conftest import FakeClock, fte_cli
from hosts import HostRun, drop_mail

from fte.errors import BadInput
from fte.reports.notify import expand


class Endpoint:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — the stdlib's name
                length = int(self.headers.get("Content-Length", 0))
                outer.received.append(json.loads(self.rfile.read(length)))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.server.shutdown()


def configure(home: Path, port: int, include_text: bool = False) -> None:
    (home / ".env").write_text(f"FTE_HOOK_PATH=hook-{port}\n")
    toml = home / "fte.toml"
    toml.write_text(toml.read_text() + f'\n[notify]\nurls = ["json://127.0.0.1:{port}/${{FTE_HOOK_PATH}}"]\n'
                    f"include_text = {'true' if include_text else 'false'}\n")


def test_waiting_tasks_are_told_once_and_without_the_draft(home_dir: Path, endpoint: Endpoint) -> None:
    configure(home_dir, endpoint.port)
    for i in range(3):
        drop_mail(home_dir, i, subject=f"Quote {i}")
    run = HostRun(home_dir)
    run.tick()
    [notice] = endpoint.received
    assert notice["title"] == "fte: 3 tasks wait for you"
    assert "Quote 0" in notice["message"] and "Quote 2" in notice["message"]
    assert "Thank you for your message" not in notice["message"]  # the draft's text stays home
    run.tick()
    assert len(endpoint.received) == 1  # told once
    run.close()


def test_with_a_public_url_each_waiting_task_links_to_its_page(home_dir: Path, endpoint: Endpoint) -> None:
    configure(home_dir, endpoint.port)
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text() + '\n[web]\npublic_url = "https://laptop.example.ts.net:8089/"\n')
    drop_mail(home_dir, 1)
    drop_mail(home_dir, 2)
    run = HostRun(home_dir)
    run.tick()
    ids = sorted(t.id for t in run.home.store.tasks(state="pending"))
    run.close()
    [notice] = endpoint.received
    links = sorted(line.strip() for line in notice["message"].splitlines() if "https://" in line)
    assert links == [f"https://laptop.example.ts.net:8089/task/{i}" for i in ids]  # the id only: no token


def test_include_text_carries_the_draft(home_dir: Path, endpoint: Endpoint) -> None:
    configure(home_dir, endpoint.port, include_text=True)
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    assert "Thank you for your message" in endpoint.received[0]["message"]
    run.close()


def test_an_expiry_and_a_failure_are_told(home_dir: Path, endpoint: Endpoint) -> None:
    configure(home_dir, endpoint.port)
    clock = FakeClock()
    drop_mail(home_dir, 1)
    drop_mail(home_dir, 2)
    run = HostRun(home_dir, clock=clock)
    run.tick()
    first, second = run.home.store.tasks(state="pending")
    run.home.lifecycle.fire(second.id, "edit", actor="ann", source="obsidian",
                            changes={"params": {"to": "x@example.com\r\nBcc: y@example.com", "subject": "s"}})
    run.close()
    assert fte_cli("approve", second.id, "--home", str(home_dir)).exit_code == 0
    clock.advance(hours=61)  # 72 h to decide: 11 h left for the first
    run = HostRun(home_dir, clock=clock)
    run.tick()
    titles = [n["title"] for n in endpoint.received]
    assert "fte: 1 task expire within 12 hours" in titles, titles
    assert "fte: 1 task failed" in titles, titles
    failed = next(n for n in endpoint.received if n["title"] == "fte: 1 task failed")
    assert second.short_id in failed["message"] and "fte replay" in failed["message"]
    run.tick()
    assert len(endpoint.received) == len(titles)  # each told once
    run.close()


def test_a_dead_endpoint_never_stops_a_tick(home_dir: Path, endpoint: Endpoint) -> None:
    configure(home_dir, endpoint.port)
    endpoint.status = 500
    drop_mail(home_dir, 1)
    lines: list[str] = []
    from fte.daemon import Runner
    from fte.host.home import open_home

    home = open_home(home_dir)
    report = Runner(home, log=lines.append).tick()
    home.close()
    assert report.presented == 1 and any(line.startswith("notify: not delivered") for line in lines), lines


def test_a_url_names_a_secret_that_is_not_set() -> None:
    assert expand("ntfy://ntfy.sh/${TOPIC}", {"TOPIC": "abc"}) == "ntfy://ntfy.sh/abc"
    with pytest.raises(BadInput, match="TOPIC is not set"):
        expand("ntfy://ntfy.sh/${TOPIC}", {})


def test_notify_settings_are_strict(home_dir: Path) -> None:
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text() + '\n[notify]\nurls = "json://x"\n')
    r = fte_cli("status", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "notify.urls must be a list of text" in r.output, r.output
