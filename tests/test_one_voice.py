"""Many local hosts, one voice (docs/sync.md, "One voice"): with no new input the remote gets no
commits but heartbeats; one local host writes the Dashboard and the briefing and sends the notices
about tasks, and the next takes over when it falls silent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import FakeClock
from hosts import HostRun, bare_remote, drop_mail, make_host
from test_notify import Endpoint, configure


def commits(remote: str) -> int:
    return int(subprocess.run(["git", "rev-list", "--count", "main"], cwd=remote, capture_output=True, text=True,
                              check=True).stdout)


@pytest.fixture
def hosts(tmp_path: Path):
    remote = bare_remote(tmp_path / "remote.git")
    homes = {name: make_host(tmp_path, name, role, remote)
             for name, role in (("cloud", "cloud"), ("alpha", "local"), ("beta", "local"))}
    return remote, homes


def rounds(runs: dict[str, HostRun], clock: FakeClock, n: int, seconds: float = 10, only: tuple[str, ...] = ()) -> None:
    for _ in range(n):
        for name, run in runs.items():
            if not only or name in only:
                run.tick()
        clock.advance(seconds=seconds)


def test_a_quiet_vault_with_two_local_hosts_gets_no_commits(hosts) -> None:
    remote, homes = hosts
    clock = FakeClock()
    drop_mail(homes["cloud"], 1), drop_mail(homes["cloud"], 2)
    runs = {name: HostRun(home, clock) for name, home in homes.items()}
    rounds(runs, clock, 4)  # drafted, presented, settled
    assert {t.state for t in runs["beta"].home.store.tasks()} == {"pending"}
    before = commits(remote)
    rounds(runs, clock, 8)  # 80 s, less than a heartbeat interval: nothing to say
    assert commits(remote) == before
    dashboard = (homes["beta"] / "vault" / "Dashboard.md").read_text()
    assert "written_by: alpha" in dashboard  # the first by name writes it; beta's copy is alpha's
    for run in runs.values():
        run.close()


def test_the_next_local_host_takes_over_when_the_writer_falls_silent(hosts) -> None:
    remote, homes = hosts
    clock = FakeClock()
    runs = {name: HostRun(home, clock) for name, home in homes.items()}
    rounds(runs, clock, 3)
    assert "written_by: alpha" in (homes["beta"] / "vault" / "Dashboard.md").read_text()
    runs["alpha"].close()
    drop_mail(homes["cloud"], 1)
    interval = runs["beta"].home.settings.heartbeat_interval
    rounds(runs, clock, 3, seconds=interval * 1.5, only=("cloud", "beta"))  # alpha is gone
    text = (homes["beta"] / "vault" / "Dashboard.md").read_text()
    assert "written_by: beta" in text and "Question 1" in text
    for name in ("cloud", "beta"):
        runs[name].close()


def test_a_waiting_task_is_told_once_across_local_hosts(hosts) -> None:
    remote, homes = hosts
    endpoint = Endpoint()
    try:
        for name in ("alpha", "beta"):
            configure(homes[name], endpoint.port)
        clock = FakeClock()
        drop_mail(homes["cloud"], 1)
        runs = {name: HostRun(home, clock) for name, home in homes.items()}
        rounds(runs, clock, 4)
        waiting = [n for n in endpoint.received if "wait" in n["title"]]
        assert len(waiting) == 1, endpoint.received
        for run in runs.values():
            run.close()
    finally:
        endpoint.server.shutdown()


def test_a_decision_that_did_not_stand_is_told_once_by_the_host_where_it_was_made(hosts) -> None:
    """Beta (not the host that speaks for all) rejects; a minute later the person approves the same
    task on alpha, which had not seen the rejection: the approval is the last word and stands
    everywhere (docs/protocol.md, "Convergence"). Only beta knows that its rejection was overruled,
    so beta tells — once — and alpha does not."""
    remote, homes = hosts
    told = {"alpha": Endpoint(), "beta": Endpoint()}
    try:
        for name, endpoint in told.items():
            configure(homes[name], endpoint.port)
        clock = FakeClock()
        drop_mail(homes["cloud"], 1)
        runs = {name: HostRun(home, clock) for name, home in homes.items()}
        rounds(runs, clock, 3)
        [task] = runs["beta"].home.store.tasks(state="pending")
        for name, folder in (("beta", "Rejected"), ("alpha", "Approved")):
            run = runs[name]
            note = run.home.vault.path(run.home.store.get(task.id).note_path)
            note.rename(run.home.vault.root / folder / note.name)
            run.tick()
            clock.advance(minutes=1)
        rounds(runs, clock, 3)
        assert {name: run.home.store.get(task.id).state for name, run in runs.items()} == \
            {"cloud": "done", "alpha": "done", "beta": "done"}
        overruled = {name: [n for n in e.received if "did not stand" in n["title"]] for name, e in told.items()}
        assert overruled["alpha"] == [] and len(overruled["beta"]) == 1, overruled
        assert task.id[:8] in overruled["beta"][0]["message"] and "now done" in overruled["beta"][0]["message"]
        for run in runs.values():
            run.close()
    finally:
        for endpoint in told.values():
            endpoint.server.shutdown()
