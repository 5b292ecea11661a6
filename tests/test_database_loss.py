"""A corrupt database is one line with the way back; a missing one is made again, loudly, and its
rows are read back from the vault — without performing anything a second time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import fte_cli, fte_process
from hosts import HostRun, drop_mail, make_host

from fte.host.home import open_home
from fte.support import crashpoints


def remove_db(home: Path) -> None:
    for name in ("fte.db", "fte.db-wal", "fte.db-shm"):
        (home / name).unlink(missing_ok=True)


@pytest.mark.parametrize("command", [["status"], ["sql", "incidents"], ["tasks"], ["daemon", "--once"]])
def test_a_corrupt_database_is_one_line_naming_the_file_and_the_way_back(tmp_path: Path, command: list[str]) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    remove_db(home)
    (home / "fte.db").write_bytes(os.urandom(4096))
    r = fte_process(*command, "--home", str(home), code=2)
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert str(home / "fte.db") in line and "not a readable fte database" in line and "mv " in line, line


class Crash(Exception):
    pass


def test_a_missing_database_is_rebuilt_from_the_vault_loudly_and_nothing_is_sent_twice(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    for i in range(4):
        drop_mail(home, i)
    run = HostRun(home)
    run.tick()
    done, performed, waiting, rejected = sorted(t.id for t in run.home.store.tasks(state="pending"))
    for tid in (done, performed):
        assert fte_cli("approve", tid, "--home", str(home)).exit_code == 0
    assert fte_cli("reject", rejected, "--home", str(home)).exit_code == 0
    run.runner.executions.dry_run = False

    def die() -> None:
        if run.home.store.get(performed).state == "claimed" and len(list((home / "outbox" / "new").iterdir())) == 2:
            raise Crash("after-call")  # both sent; the second one's outcome never recorded

    remove = crashpoints.on("after-call", die)
    try:
        with pytest.raises(Crash):
            run.tick()
    finally:
        remove()
    run.close()
    assert len(list((home / "outbox" / "new").iterdir())) == 2
    remove_db(home)

    warnings: list[str] = []
    with open_home(home, warn=warnings.append) as h:
        states = {t.id: t.state for t in h.store.tasks()}
        assert [i.kind for i in h.store.incidents()] == ["database-lost"]
    assert len(warnings) == 1 and "audit history" in warnings[0] and "4 task(s)" in warnings[0]
    assert states[waiting] == "pending" and states[rejected] == "rejected"
    assert {states[done], states[performed]} <= {"claimed", "done"}
    run = HostRun(home)
    run.tick()
    run.tick()
    assert {t.id: t.state for t in run.home.store.tasks()}[performed] == "done"
    assert len(list((home / "outbox" / "new").iterdir())) == 2
    for tid in (done, performed):  # looked up at the provider, never performed again
        [complete] = [t for t in run.home.store.timeline(tid) if t.event == "complete"]
        assert complete.detail.get("note") == "found at the provider after a restart", complete.detail
        assert len(run.home.store.executions(tid)) == 1
    # The person carries on: the waiting task can still be approved and is sent once.
    assert fte_cli("approve", waiting, "--home", str(home)).exit_code == 0
    run.tick()
    assert run.home.store.get(waiting).state == "done"
    assert len(list((home / "outbox" / "new").iterdir())) == 3
    run.close()


def test_a_reader_never_makes_an_empty_database_silently(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    drop_mail(home, 1)
    run = HostRun(home)
    run.tick()
    run.close()
    remove_db(home)
    r = fte_process("status", "--home", str(home))
    assert r.returncode == 0, r.stderr
    assert "was missing" in r.stderr and "1 task(s) were read back" in r.stderr
    assert "pending" in r.stdout
