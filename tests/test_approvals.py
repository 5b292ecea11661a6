"""Approvals from Obsidian: moves, edits, signatures, expiry, and bad notes (real vault folders and git)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from conftest import FakeClock
from hosts import HostRun, bare_remote, drop_mail, make_host

from fte.daemon import TickReport
from fte.io.vault.notes import note_fields, parse_note, render_note, split_body
from fte.states.approvals import verify_task


def git(vault: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=vault, capture_output=True, text=True, check=True).stdout


def pending(home: Path, n: int = 1, clock: FakeClock | None = None) -> tuple[HostRun, list[str]]:
    for i in range(n):
        drop_mail(home, i)
    run = HostRun(home, clock)
    run.tick()
    ids = [t.id for t in run.home.store.tasks(state="pending")]
    assert len(ids) == n
    return run, ids


def move(run: HostRun, task_id: str, folder: str) -> Path:
    src = run.home.vault.path(run.home.store.get(task_id).note_path)
    dest = run.home.vault.root / folder / src.name
    os.replace(src, dest)
    return dest


def outbox(home: Path) -> list[Path]:
    return list((home / "outbox" / "new").iterdir())


def test_a_move_to_approved_is_signed_and_executed(home_dir: Path) -> None:
    run, [tid] = pending(home_dir)
    moved = move(run, tid, "Approved")
    run.runner.sync_in(TickReport())
    run.runner.work_tree(TickReport())
    task = run.home.store.get(tid)
    assert task.state == "approved" and task.approval["by"] == "person"
    assert verify_task(run.runner.trust, task) is None
    assert task.approval["host"] == "laptop" and task.approval["epoch"] == task.epoch == 1
    note = parse_note(moved.read_bytes())
    assert note.meta["state"] == "approved" and note_fields(note)["approval"]["signature"] == task.approval["signature"]
    last = run.home.store.timeline(tid)[-1]
    assert (last.event, last.source, last.actor) == ("approve", "obsidian", "person")
    run.tick()
    assert run.home.store.get(tid).state == "done" and len(outbox(home_dir)) == 1
    run.close()


def test_edits_while_pending_are_kept_with_a_diff(home_dir: Path) -> None:
    run, [tid] = pending(home_dir)
    path = run.home.vault.path(run.home.store.get(tid).note_path)
    note = parse_note(path.read_bytes())
    draft, _original = split_body(note.body, note.meta["title"])
    meta = dict(note.meta)
    meta["subject"] = "Re: your question (updated)"
    path.write_bytes(render_note(meta, note.body.replace("Thank you", "Many thanks")))
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "pending" and task.body.startswith(draft.split("Thank you")[0] + "Many thanks")
    assert task.params["subject"] == "Re: your question (updated)"
    edit = run.home.store.timeline(tid)[-1]
    assert edit.event == "edit" and "+" in edit.detail["diff"] and "Many thanks" in edit.detail["diff"]
    assert edit.detail["params"]["after"]["subject"] == "Re: your question (updated)"
    move(run, tid, "Approved")
    run.tick()
    [sent] = outbox(home_dir)
    assert "Many thanks" in sent.read_text() and "(updated)" in sent.read_text()
    run.close()


def test_a_move_to_rejected_with_a_reason(home_dir: Path) -> None:
    run, [tid] = pending(home_dir)
    dest = move(run, tid, "Rejected")
    note = parse_note(dest.read_bytes())
    dest.write_bytes(render_note(dict(note.meta, reason="we do not answer this"), note.body))
    run.tick()
    last = run.home.store.timeline(tid)[-1]
    assert (last.event, last.to_state, last.detail["reason"]) == ("reject", "rejected", "we do not answer this")
    assert outbox(home_dir) == []
    run.close()


def test_tampering_after_approval_is_not_executed(home_dir: Path) -> None:
    run, [body_tid, param_tid] = pending(home_dir, 2)
    from fte.daemon import TickReport

    for tid in (body_tid, param_tid):
        move(run, tid, "Approved")
    run.runner.work_tree(TickReport())  # approved and signed, not yet claimed
    for tid, change in ((body_tid, "body"), (param_tid, "to")):
        path = run.home.vault.path(run.home.store.get(tid).note_path)
        note = parse_note(path.read_bytes())
        if change == "body":
            path.write_bytes(render_note(note.meta, note.body.replace("Hello", "Send the money to")))
        else:
            meta = dict(note.meta, to="mallory@evil.example")
            path.write_bytes(render_note(meta, note.body))
    run.tick()
    for tid in (body_tid, param_tid):
        task = run.home.store.get(tid)
        assert task.state == "pending" and task.approval is None
        assert task.note_path.startswith("Pending_Approval/")
        assert "edited after approval" in task.last_error
        assert run.home.store.timeline(tid)[-1].event == "invalidate"
    assert outbox(home_dir) == []
    run.close()


def test_tampering_in_the_database_is_caught_by_the_executor(home_dir: Path) -> None:
    run, [tid] = pending(home_dir)
    from fte.daemon import TickReport

    move(run, tid, "Approved")
    run.runner.work_tree(TickReport())
    run.runner.publish(TickReport())  # the signed note is committed: the work tree is clean
    conn = sqlite3.connect(home_dir / "fte.db")
    conn.execute("UPDATE tasks SET body = 'changed behind the approval' WHERE id = ?", (tid,))
    conn.commit()
    conn.close()
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "pending" and "not executed" in task.last_error
    assert outbox(home_dir) == []
    run.close()


def test_a_pulled_move_into_approved_is_refused(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    cloud_home = make_host(tmp_path, "cloud", "cloud", remote)
    local_home = make_host(tmp_path, "local", "local", remote)
    drop_mail(cloud_home, 1)
    cloud, local = HostRun(cloud_home), HostRun(local_home)
    cloud.tick(), local.tick(), cloud.tick()
    [task] = cloud.home.store.tasks()
    # Someone on the cloud host (which holds no approval key) "approves" by moving and committing.
    vault = cloud_home / "vault"
    src = vault / task.note_path
    note = parse_note(src.read_bytes())
    forged = dict(note.meta, state="approved",
                  approval={"by": "mallory", "at": "2026-11-26T00:00:00+00:00", "sha256": "0" * 64, "signature": "f" * 64})
    (vault / "Approved" / src.name).write_bytes(render_note(forged, note.body))
    src.unlink()
    git(vault, "add", "-A")
    git(vault, "commit", "-qm", "forged approval")
    git(vault, "push", "-q", "origin", "HEAD:main")
    local.tick()
    row = local.home.store.get(task.id)
    assert row.state == "pending" and row.note_path.startswith("Pending_Approval/")
    assert [i.kind for i in local.home.store.incidents("refused-approval")] == ["refused-approval"]
    assert "Refused approvals" in (local_home / "vault" / "Dashboard.md").read_text()
    assert outbox(local_home) == []
    assert git(local_home / "vault", "ls-tree", "-r", "--name-only", "origin/main", "Approved").strip() == ""
    cloud.close(), local.close()


def test_expired_tasks_are_never_executed(home_dir: Path) -> None:
    clock = FakeClock()
    run, [tid] = pending(home_dir, clock=clock)
    clock.advance(hours=71)
    run.tick()
    assert run.home.store.get(tid).state == "pending"
    assert "Expires within 12 hours" in (home_dir / "vault" / "Dashboard.md").read_text()
    clock.advance(hours=2)
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "expired" and task.note_path.startswith("Rejected/")
    assert run.home.store.timeline(tid)[-1].event == "expire"
    src = run.home.vault.path(task.note_path)
    os.replace(src, run.home.vault.root / "Approved" / src.name)  # too late
    run.tick()
    assert run.home.store.get(tid).state == "expired" and outbox(home_dir) == []
    assert run.home.store.incidents("unexpected-move")
    run.close()


def test_bad_notes_are_reported_and_change_nothing(home_dir: Path) -> None:
    run, [tid] = pending(home_dir)
    folder = home_dir / "vault" / "Pending_Approval" / "email"
    good = run.home.vault.path(run.home.store.get(tid).note_path)
    (folder / "malformed.md").write_text("---\nid: [unclosed\n---\nbody\n")
    (folder / "no-front-matter.md").write_text("just text\n")
    (folder / "conflicted.md").write_text(good.read_text() + "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n")
    (folder / "huge.md").write_bytes(b"---\nid: x\n---\n" + b"a" * (20 * 1024 * 1024))
    (folder / "latin1.md").write_bytes("---\nid: caf\xe9\n---\n".encode("latin-1"))
    shutil.copyfile(good, home_dir / "vault" / "Approved" / "copy-of-the-note.md")  # a duplicate id
    conn = sqlite3.connect(home_dir / "fte.db")
    before = conn.execute("SELECT id, state, version, body FROM tasks").fetchall()
    n_transitions = conn.execute("SELECT count(*) FROM transitions").fetchone()
    conn.close()
    run.tick()
    run.tick()
    conn = sqlite3.connect(home_dir / "fte.db")
    assert conn.execute("SELECT id, state, version, body FROM tasks").fetchall() == before
    assert conn.execute("SELECT count(*) FROM transitions").fetchone() == n_transitions
    kinds = [r[0] for r in conn.execute("SELECT kind FROM incidents ORDER BY id")]
    conn.close()
    assert kinds.count("bad-note") == 5 and kinds.count("duplicate-id") == 1  # each reported once
    assert outbox(home_dir) == []
    # None of them was committed; the daemon goes on working.
    tracked = git(home_dir / "vault", "ls-files")
    assert "malformed.md" not in tracked and "copy-of-the-note.md" not in tracked
    drop_mail(home_dir, 9, subject="Another")
    run.tick()
    assert len(run.home.store.tasks(state="pending")) == 2
    run.close()


def test_an_edit_is_kept_when_the_pull_reads_older_versions_of_its_note(tmp_path: Path) -> None:
    """The tick commits the person's moves and edits before its pull only when the pull has
    something to read. Here the remote's head is not new to this host but the cursor of what was
    read lags behind it (as after a crash between a push and the cursor's write): the pull reads
    the presented version of the note again — and must not put it back over the person's edit."""
    from fte.tick.sync import INTEGRATED

    remote = bare_remote(tmp_path / "remote.git")
    home = make_host(tmp_path, "laptop", "all", remote)
    run, [tid] = pending(home)
    vault = home / "vault"
    assert git(vault, "rev-parse", "HEAD") == git(vault, "rev-parse", "origin/main")
    older = git(vault, "rev-list", "--max-count=1", "--skip=1", "HEAD").strip()
    run.home.store.set_cursor(INTEGRATED, older, run.home.lifecycle.clock())
    path = run.home.vault.path(run.home.store.get(tid).note_path)
    path.write_text(path.read_text().replace("Thank you", "Many thanks"))
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "pending" and "Many thanks" in task.body and "Many thanks" in path.read_text()
    assert [t.event for t in run.home.store.timeline(tid)][-1] == "edit"
    run.close()


def test_a_live_note_the_person_deletes_is_put_back_and_said(home_dir: Path) -> None:
    """The row is the truth: a pending note deleted in Obsidian comes back (the person rejects by a
    move to Rejected/, not by deleting), with a ``note-deleted`` incident naming it; nothing is
    decided."""
    run, [tid] = pending(home_dir)
    path = run.home.store.get(tid).note_path
    before = run.home.vault.path(path).read_bytes()
    run.home.vault.path(path).unlink()
    run.tick()
    assert run.home.vault.path(path).read_bytes() == before
    assert run.home.store.get(tid).state == "pending"
    [incident] = run.home.store.incidents("note-deleted")
    assert (incident.task_id, incident.path) == (tid, path)
    assert git(run.home.vault.root, "status", "--porcelain") == ""
    run.close()


def test_a_note_the_person_renames_in_its_folder_is_followed_not_reported(home_dir: Path) -> None:
    """Notes are matched by id, not by name: a rename in the same folder is the task's new path
    (no ``unexpected-move``, no copy written back under the old name)."""
    run, [tid] = pending(home_dir)
    old = run.home.vault.path(run.home.store.get(tid).note_path)
    new = old.with_name("Ann asks about the invoice.md")
    os.replace(old, new)
    run.tick()
    assert run.home.store.get(tid).note_path == new.relative_to(run.home.vault.root).as_posix()
    assert run.home.store.get(tid).state == "pending" and new.exists() and not old.exists()
    assert not run.home.store.incidents("unexpected-move")
    run.close()


def test_an_approval_of_an_edited_draft_records_what_the_person_changed(home_dir: Path) -> None:
    """The edit and the move in one look: the approve transition carries the diff (whichever way
    the new text sorts) and the parameters before and after."""
    run, [tid] = pending(home_dir)
    note = run.home.vault.path(run.home.store.get(tid).note_path)
    text = note.read_text()
    edited = text.replace("Hello Ann,", "Zoe here, Ann —", 1).replace("to: ann@example.com", "to: zoe@example.com")
    assert edited.count("Zoe here") == 1 and "zoe@example.com" in edited
    note.write_text(edited)
    move(run, tid, "Approved")
    run.runner.sync_in(TickReport())
    run.runner.work_tree(TickReport())
    last = run.home.store.timeline(tid)[-1]
    assert last.event == "approve" and "+Zoe here, Ann —" in last.detail["diff"]
    assert last.detail["params"]["before"]["to"] == "ann@example.com"
    assert last.detail["params"]["after"]["to"] == "zoe@example.com"
    run.close()


def test_a_move_that_would_approve_a_list_of_recipients_is_refused_and_undone(home_dir: Path) -> None:
    """Typed as a YAML list, ``to`` would be approved and fail at the send: refused at the move,
    said, the note put back where it was — the person corrects it and approves again."""
    run, [tid] = pending(home_dir)
    note = run.home.vault.path(run.home.store.get(tid).note_path)
    note.write_text(note.read_text().replace("to: ann@example.com", "to: [ann@example.com, bob@example.com]"))
    moved = move(run, tid, "Approved")
    run.tick()
    assert run.home.store.get(tid).state == "pending" and not moved.exists() and note.exists()
    assert any("must be one address as text" in str(i.detail) for i in run.home.store.incidents("refused-change"))
    assert outbox(home_dir) == []
    run.close()

