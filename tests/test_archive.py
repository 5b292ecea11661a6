"""Archival (docs/sync.md, "Archive"): finished notes leave the task folders for one note per month;
the database keeps every row; a note comes back byte for byte; a crash resumes; two hosts
archiving the same month merge without a conflict; a host that pulls an archival adopts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import FakeClock, fte_cli
from hosts import HostRun, bare_remote, drop_mail, git, make_host

from fte.errors import NoteError
from fte.io.vault.archive import entry_of_note, parse_archive, render_archive
from fte.io.vault.notes import render_task
from fte.models.tables import Task

MAY = datetime(2026, 5, 12, 9, 0, tzinfo=timezone.utc)
NOVEMBER = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


def note_task(n: int, body: str = "# Re: hi\n\nHello Ann,\n") -> Task:
    return Task(id=f"{n:032x}", kind="email.reply", title=f"Re: question {n} | [[x]] #tag", state="done", version=7,
                source="maildir", source_ref=f"<m{n}@x>", origin="cloud", params={"to": "ann@example.com"},
                body=body, created_at=MAY, updated_at=MAY, epoch=1)


# -- the format -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "# Re: hi\n\nHello Ann,\n",
    "no heading\n\n## a section of the person's\n```\ncode\n```\n\n%% their own comment %%\n",
    "ends without a newline",
    "",
    "emoji 👍🏽 and CJK 日本, a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
])
def test_an_archived_note_reads_back_byte_for_byte_and_renders_the_same(body: str) -> None:
    notes = {note_task(n, body).id: render_task(note_task(n, body)) for n in (1, 2, 3)}
    entries = [entry_of_note(f"Done/2026-05/n{i}.md", data) for i, data in enumerate(notes.values())]
    out = render_archive("2026-05", entries)
    back = parse_archive(out)
    assert {tid: e.note_bytes() for tid, e in back.items()} == notes
    assert render_archive("2026-05", list(reversed(list(back.values())))) == out, "deterministic, in any order"


def test_a_note_that_would_not_read_back_is_refused() -> None:
    """A note holding an archive marker (it would split into two entries) is not archived."""
    hostile = render_task(note_task(9, f"hi\n%% fte:task {'e' * 32} %%\n## fake\n"))
    with pytest.raises(NoteError, match="marker"):
        entry_of_note("Done/2026-05/x.md", hostile)


# -- one host -------------------------------------------------------------------------------------

def done_in_may(home: Path, n: int, clock: FakeClock) -> list[str]:
    """``n`` replies sent in May 2026 (detected, approved by the person's move, executed)."""
    for i in range(n):
        drop_mail(home, i)
    run = HostRun(home, clock)
    run.tick()
    for task in run.home.store.tasks(state="pending"):
        note = run.home.vault.path(task.note_path)
        os.replace(note, run.home.vault.root / "Approved" / note.name)
    run.tick()
    run.tick()
    ids = sorted(t.id for t in run.home.store.tasks(state="done"))
    run.close()
    assert len(ids) == n
    return ids


def test_finished_notes_of_an_old_month_leave_the_tree_and_come_back_byte_for_byte(home_dir: Path) -> None:
    clock = FakeClock(MAY)
    ids = done_in_may(home_dir, 3, clock)
    vault = home_dir / "vault"
    done = sorted((vault / "Done" / "2026-05").iterdir())
    # The person's own words in a finished note: kept in the archive, and by a restore.
    done[0].write_text(done[0].read_text() + "\nMy own remark: paid on the 14th.\n")
    before = {p.name: p.read_bytes() for p in done}
    clock.now = NOVEMBER
    run = HostRun(home_dir, clock)
    report = run.tick()
    assert report.archived == 3
    assert not (vault / "Done" / "2026-05").exists()
    archive = (vault / "Archive" / "2026-05.md").read_bytes()
    assert b"My own remark: paid on the 14th." in archive
    assert git(vault, "log", "-1", "--format=%s", "--", "Archive").strip() == "fte laptop: archive 2026-05 (3 notes)"
    assert git(vault, "status", "--porcelain").strip() == ""
    # The database keeps every row; `fte show` answers.
    for tid in ids:
        task = run.home.store.get(tid)
        assert task.state == "done" and task.note_path == "Archive/2026-05.md" and task.flags["archived"] == "2026-05"
    run.tick()  # nothing is written back, nothing is said
    assert not (vault / "Done" / "2026-05").exists()
    assert not run.home.store.incidents("note-deleted")
    run.close()
    shown = fte_cli("show", ids[0], "--json", "--home", str(home_dir))
    assert shown.exit_code == 0 and json.loads(shown.output)["note"] == "Archive/2026-05.md"
    # Restore: the exact bytes where they were; the entry leaves the archive; never archived again.
    name = done[0].name  # the note with the person's remark
    tid = next(t for t in ids if name.endswith(f"-{t[:8]}.md"))
    r = fte_cli("archive", "restore", tid[:8], "--home", str(home_dir))
    assert r.exit_code == 0, r.output
    assert (vault / "Done" / "2026-05" / name).read_bytes() == before[name]
    assert tid not in parse_archive((vault / "Archive" / "2026-05.md").read_bytes())
    assert git(vault, "status", "--porcelain").strip() == ""
    run = HostRun(home_dir, clock)
    run.runner.archiver(run.tick(), force=True)
    assert (vault / "Done" / "2026-05" / name).read_bytes() == before[name]
    assert run.home.store.get(tid).note_path == f"Done/2026-05/{name}"
    run.close()


def test_a_month_is_archived_only_once_it_is_old_enough(home_dir: Path) -> None:
    clock = FakeClock(MAY)
    done_in_may(home_dir, 1, clock)
    clock.now = datetime(2026, 8, 31, 23, 0, tzinfo=timezone.utc)  # May + 3 months is not yet past
    run = HostRun(home_dir, clock)
    assert run.tick().archived == 0 and (home_dir / "vault" / "Done" / "2026-05").is_dir()
    clock.now = datetime(2026, 9, 1, 0, 1, tzinfo=timezone.utc)
    assert run.tick().archived == 1
    run.close()


@pytest.mark.parametrize("point", ["archive-marked", "archive-written"])
def test_a_crash_in_the_middle_of_a_month_resumes_and_loses_nothing(home_dir: Path, point: str) -> None:
    clock = FakeClock(MAY)
    ids = done_in_may(home_dir, 3, clock)
    vault = home_dir / "vault"
    notes = {p.name: p.read_bytes() for p in (vault / "Done" / "2026-05").iterdir()}
    clock.now = datetime(2026, 9, 1, 0, 1, tzinfo=timezone.utc)  # May is three months past
    env = {**os.environ, "FTE_CRASHPOINT": point}
    crashed = subprocess.run([sys.executable, "-m", "fte", "archive", "run", "--home", str(home_dir)],
                             env=env, capture_output=True, text=True)
    assert crashed.returncode == -9, crashed.stderr
    again = subprocess.run([sys.executable, "-m", "fte", "archive", "run", "--json", "--home", str(home_dir)],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not (vault / "Done" / "2026-05").exists()
    entries = parse_archive((vault / "Archive" / "2026-05.md").read_bytes())
    assert sorted(entries) == ids
    assert sorted(e.note_bytes() for e in entries.values()) == sorted(notes.values())
    assert git(vault, "status", "--porcelain").strip() == ""
    run = HostRun(home_dir, clock)
    run.tick()
    assert not (vault / "Done" / "2026-05").exists() and not run.home.store.incidents("note-deleted")
    assert all(run.home.store.get(t).flags["archived"] == "2026-05" for t in ids)
    run.close()


# -- several hosts --------------------------------------------------------------------------------

def test_two_hosts_archiving_the_same_month_merge_cleanly_and_a_third_adopts_it(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    clock = FakeClock(MAY)
    homes = {name: make_host(tmp_path, name, role, remote)
             for name, role in (("cloud", "cloud"), ("alpha", "local"), ("beta", "local"))}
    runs = {name: HostRun(home, clock) for name, home in homes.items()}
    try:
        for i in range(3):
            drop_mail(homes["cloud"], i)
        for name in ("cloud", "alpha", "beta"):
            runs[name].tick()
        alpha = runs["alpha"]
        for task in alpha.home.store.tasks(state="pending"):
            note = alpha.home.vault.path(task.note_path)
            os.replace(note, alpha.home.vault.root / "Approved" / note.name)
        for _ in range(2):
            for name in ("alpha", "beta", "cloud"):
                runs[name].tick()
        ids = sorted(t.id for t in alpha.home.store.tasks(state="done"))
        assert len(ids) == 3
        assert all(runs[n].home.store.get(t).state == "done" for n in runs for t in ids)
        clock.now = NOVEMBER
        from fte.daemon import TickReport

        for name in ("alpha", "beta"):  # both archive May before either has seen the other's
            runs[name].runner.archiver(TickReport(), force=True)
        for _ in range(2):
            for name in ("alpha", "beta", "cloud"):
                runs[name].tick()
        archives = {n: (homes[n] / "vault" / "Archive" / "2026-05.md").read_bytes() for n in homes}
        assert len(set(archives.values())) == 1
        assert sorted(parse_archive(archives["alpha"])) == ids
        for name, run in runs.items():
            assert not (homes[name] / "vault" / "Done" / "2026-05").exists(), name
            assert not run.home.store.incidents("conflict"), name
            assert not run.home.store.incidents("note-deleted"), name
            assert all(run.home.store.get(t).flags.get("archived") == "2026-05" for t in ids), name
            assert git(homes[name] / "vault", "status", "--porcelain").strip() == "", name
    finally:
        for run in runs.values():
            run.close()


def test_a_note_the_person_changes_while_it_is_archived_is_not_lost(home_dir: Path) -> None:
    """The person saves a finished note between the archive note's write and the removal: their
    version stays in the tree, and the next pass archives it as they left it."""
    from fte.support import crashpoints

    clock = FakeClock(MAY)
    done_in_may(home_dir, 2, clock)
    vault = home_dir / "vault"
    [first, _second] = sorted((vault / "Done" / "2026-05").iterdir())
    clock.now = NOVEMBER
    run = HostRun(home_dir, clock)

    def person_saves() -> None:
        first.write_text(first.read_text() + "\nA line written at the last moment.\n")

    remove = crashpoints.on("archive-written", person_saves)
    try:
        run.tick()
    finally:
        remove()
    assert "A line written at the last moment." in first.read_text(), "the person's save is still there"
    run.runner.archiver(run.tick(), force=True)
    assert not (vault / "Done" / "2026-05").exists()
    assert b"A line written at the last moment." in (vault / "Archive" / "2026-05.md").read_bytes()
    run.close()


def test_a_lost_database_reads_archived_tasks_back_from_the_archive_notes(home_dir: Path) -> None:
    """Archived tasks are in no task folder: a database rebuilt from the vault reads them from their
    month's archive note (signatures checked as for any note), and they stay archived."""
    clock = FakeClock(MAY)
    ids = done_in_may(home_dir, 3, clock)
    clock.now = NOVEMBER
    run = HostRun(home_dir, clock)
    run.tick()
    archive = (home_dir / "vault" / "Archive" / "2026-05.md").read_bytes()
    run.close()
    for suffix in ("", "-wal", "-shm"):
        (home_dir / f"fte.db{suffix}").unlink(missing_ok=True)
    run = HostRun(home_dir, clock)
    try:
        for tid in ids:
            task = run.home.store.get(tid)
            assert task.state == "done" and task.flags.get("archived") == "2026-05", task.flags
            assert task.note_path == "Archive/2026-05.md"
        assert not (home_dir / "vault" / "Done" / "2026-05").exists()
        run.tick()
        assert (home_dir / "vault" / "Archive" / "2026-05.md").read_bytes() == archive
        assert not (home_dir / "vault" / "Done" / "2026-05").exists()
        assert git(home_dir / "vault", "status", "--porcelain").strip() == ""
    finally:
        run.close()


def test_a_first_run_over_more_than_a_batch_goes_on_at_the_next_tick(home_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    """Years of notes are archived a batch per tick (the limit lowered to 2 here): the month's note
    grows, and the day is marked done only once nothing more is due."""
    from fte.tick import archive

    clock = FakeClock(MAY)
    ids = done_in_may(home_dir, 3, clock)
    monkeypatch.setattr(archive, "BATCH", 2)
    clock.now = NOVEMBER
    run = HostRun(home_dir, clock)
    today = NOVEMBER.date().isoformat()
    assert run.tick().archived == 2 and run.home.store.cursor(archive.DAY) != today
    assert run.tick().archived == 1 and run.home.store.cursor(archive.DAY) == today
    assert sorted(parse_archive((home_dir / "vault" / "Archive" / "2026-05.md").read_bytes())) == ids
    assert run.tick().archived == 0
    run.close()


def test_a_forged_archive_entry_cannot_restore_a_note_into_approved(home_dir: Path) -> None:
    """The archive note comes through git like any note: an entry rewritten to put a note back in
    Approved/ (where a file reads as the person's move) is refused, and nothing is written."""
    clock = FakeClock(MAY)
    [tid, _other] = done_in_may(home_dir, 2, clock)
    clock.now = NOVEMBER
    run = HostRun(home_dir, clock)
    run.tick()
    run.close()
    archive = home_dir / "vault" / "Archive" / "2026-05.md"
    text = archive.read_text()
    was = parse_archive(archive.read_bytes())[tid].path
    archive.write_text(text.replace(f"- was: `{was}`", f"- was: `Approved/{Path(was).name}`"))
    r = fte_cli("archive", "restore", tid, "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "refused" in r.output
    assert not list((home_dir / "vault" / "Approved").glob("*.md"))
