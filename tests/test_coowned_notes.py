"""Notes are co-owned (docs/lifecycle.md, "Notes"): fte rewrites the properties it owns and the
draft; whatever the person adds — properties, tags, text below the draft — survives every
re-render, and a note whose task did not change is never written again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import set_debounce
from hosts import HostRun, drop_mail

from fte.io.vault.notes import parse_note, person_parts, render_task, split_body
from fte.models.tables import Task

PERSONAL = "reason: too expensive\n"
THEIR_TEXT = "My own note: call Dana first."


def presented(home_dir: Path) -> tuple[HostRun, Task, Path]:
    """One mail, ticked until its note waits in ``Pending_Approval/``: the host, the task, its note."""
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    return run, task, run.home.vault.path(task.note_path)


def add_personal(note: Path) -> None:
    """What Obsidian writes when the person adds a property, a tag (to fte's list) and a line of text."""
    text = note.read_text()
    head, body = text[4:].split("\n---\n", 1)
    lines = head.split("\n")
    at = lines.index("tags:") + 1
    while at < len(lines) and lines[at].startswith("- "):
        at += 1
    lines.insert(at, "- client")
    head = "\n".join(lines)
    note.write_text(f"---\n{head}\n{PERSONAL}---\n{body.rstrip()}\n\n{THEIR_TEXT}\n")


def wait_for(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_what_the_person_adds_survives_a_running_daemon_and_reason_is_recorded(home_dir: Path) -> None:
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    run.close()
    note = home_dir / "vault" / task.note_path
    proc = subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--home", str(home_dir)],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "fte daemon:" in proc.stderr.readline()
        add_personal(note)
        mtime = note.stat().st_mtime_ns
        time.sleep(3)  # the daemon woke on the change, looked, and committed it
        assert note.stat().st_mtime_ns == mtime, "fte wrote a note whose task did not change"
        meta = parse_note(note.read_bytes()).meta
        assert meta["reason"] == "too expensive" and meta["tags"] == ["fte/email", "fte/pending", "client"]
        assert THEIR_TEXT in note.read_text()
        rejected = home_dir / "vault" / "Rejected" / note.name
        note.rename(rejected)
        assert wait_for(lambda: "state: rejected" in rejected.read_text())  # fte re-rendered it as rejected
        meta = parse_note(rejected.read_bytes()).meta
        assert meta["reason"] == "too expensive" and meta["state"] == "rejected"
        assert meta["tags"] == ["fte/email", "fte/rejected", "client"]
        assert THEIR_TEXT in rejected.read_text()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    run = HostRun(home_dir)
    [reject] = [t for t in run.home.store.timeline(task.id) if t.event == "reject"]
    assert reject.detail["reason"] == "too expensive"
    committed = subprocess.run(["git", "show", f"HEAD:Rejected/{note.name}"], cwd=home_dir / "vault",
                               capture_output=True, text=True, check=True).stdout
    assert "too expensive" in committed and THEIR_TEXT in committed
    run.close()


def test_a_property_fte_owns_is_put_back_and_the_persons_stay(home_dir: Path) -> None:
    run, task, note = presented(home_dir)
    add_personal(note)
    note.write_text(note.read_text().replace("state: pending", "state: done"))  # not the person's to say
    run.tick()
    meta = parse_note(note.read_bytes()).meta
    assert meta["state"] == "pending" and meta["reason"] == "too expensive" and THEIR_TEXT in note.read_text()
    assert run.home.store.get(task.id).state == "pending"
    run.close()


def test_a_note_whose_formatting_alone_changed_is_kept_as_the_person_wrote_it(home_dir: Path) -> None:
    """The formatting is the person's: the same properties written another way (quoted, in flow
    style) are neither an edit nor put back — the note stays byte for byte."""
    run, task, note = presented(home_dir)
    text = note.read_text().replace("kind: email.reply", 'kind: "email.reply"')
    text = text.replace("aliases:\n- Question 1\n", "aliases: [Question 1]\n")
    note.write_text(text)
    events = len(run.home.store.timeline(task.id))
    run.tick()
    assert note.read_text() == text
    assert len(run.home.store.timeline(task.id)) == events and run.home.store.get(task.id).state == "pending"
    run.close()


def test_the_note_of_a_decided_task_is_the_persons_to_annotate(home_dir: Path) -> None:
    """Editing the draft of a rejected reply changes nothing: no transition, no incident, the words stay."""
    run, task, note = presented(home_dir)
    os.replace(note, run.home.vault.root / "Rejected" / note.name)
    run.tick()
    rejected = run.home.store.get(task.id)
    assert rejected.state == "rejected"
    note = run.home.vault.path(rejected.note_path)
    text = note.read_text().replace("Best regards,", "Best regards, (answered by phone instead)")
    note.write_text(text)
    events = len(run.home.store.timeline(task.id))
    run.tick()
    assert run.home.store.get(task.id).state == "rejected" and len(run.home.store.timeline(task.id)) == events
    assert not run.home.store.incidents("refused-change") and "by phone instead" in note.read_text()
    run.close()


def test_a_deadline_changed_in_the_note_is_put_back(home_dir: Path) -> None:
    """``expires`` is fte's: written later in the note, it is put back at the next look (a later
    deadline is not the person's to set by typing; nothing was signed with it)."""
    run, task, note = presented(home_dir)
    original = parse_note(note.read_bytes()).meta["expires"]
    text = note.read_text()
    note.write_text(text.replace(f"expires: {original}", "expires: 2099-01-01T00:00"))
    run.tick()
    assert parse_note(note.read_bytes()).meta["expires"] == original
    assert run.home.store.get(task.id).expires_at == task.expires_at and run.home.store.get(task.id).state == "pending"
    run.close()


def test_the_persons_text_is_not_read_as_the_original_message(home_dir: Path) -> None:
    run, task, note = presented(home_dir)
    add_personal(note)
    parsed = parse_note(note.read_bytes())
    draft, original = split_body(parsed.body, parsed.meta["title"])
    assert original == task.original and THEIR_TEXT not in original and draft == task.body
    kept = person_parts(note.read_bytes())
    assert kept.meta == {"reason": "too expensive", "tags": ["client"]} and kept.text == THEIR_TEXT
    again = render_task(task, kept)
    assert person_parts(again) == kept  # stable through any number of re-renders
    run.close()


def test_an_edit_waits_while_the_person_types_and_is_read_once_they_stop(home_dir: Path) -> None:
    """Deterministic (file times set by hand): an in-place edit younger than ``[notes] debounce``
    is left alone — no event, no rewrite — and read as one edit once it is older."""
    set_debounce(home_dir, 60)
    run, task, note = presented(home_dir)
    typed = note.read_text().replace("Hello Ann,", "Hello Ann, about your question:")
    note.write_text(typed)
    run.tick()
    assert note.read_text() == typed, "fte rewrote a note the person was typing in"
    row = run.home.store.get(task.id)
    assert row.epoch == task.epoch and "about your question" not in row.body
    past = time.time() - 61
    os.utime(note, (past, past))
    run.tick()
    row = run.home.store.get(task.id)
    assert row.epoch == task.epoch + 1 and row.body.startswith("Hello Ann, about your question:")
    assert [t.event for t in run.home.store.timeline(task.id)].count("edit") == 1
    assert f"epoch: {row.epoch}" in note.read_text()
    run.close()


def test_a_move_right_after_an_edit_is_a_decision_at_once_with_the_edit(home_dir: Path) -> None:
    set_debounce(home_dir, 60)
    run, task, note = presented(home_dir)
    note.write_text(note.read_text().replace("Hello Ann,", "Dear Ann,"))
    note.rename(run.home.vault.root / "Approved" / note.name)  # moved within the debounce
    run.tick()
    row = run.home.store.get(task.id)
    assert row.state == "done" and row.body.startswith("Dear Ann,")
    [sent] = (home_dir / "outbox" / "new").iterdir()
    assert "Dear Ann," in sent.read_text()
    run.close()


def test_person_busy_is_the_files_age_against_the_debounce(tmp_path: Path) -> None:
    from fte.io.vault.notes import Vault

    vault = Vault(tmp_path)
    (tmp_path / "n.md").write_text("x")
    assert not vault.person_busy("n.md"), "debounce 0 never waits"
    vault.debounce = 5
    assert vault.person_busy("n.md") and not vault.person_busy("missing.md")
    os.utime(tmp_path / "n.md", (time.time() - 6, time.time() - 6))
    assert not vault.person_busy("n.md")


def test_a_running_daemon_never_reloads_a_note_under_the_persons_cursor(home_dir: Path) -> None:
    """A real daemon, a person typing: three saves 0.4 s apart (Obsidian saves as one types). While
    they type, the file is always exactly what they last saved; after they stop, one edit."""
    set_debounce(home_dir, 1.5)
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    run.close()
    note = home_dir / "vault" / task.note_path
    proc = subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--home", str(home_dir)],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "fte daemon:" in proc.stderr.readline()
        original = note.read_text()
        for n in range(3):
            text = original.replace("Hello Ann,", f"Hello Ann ({n}),")
            note.write_text(text)
            time.sleep(0.4)
            assert note.read_text() == text, f"fte rewrote the note while the person typed (save {n})"
        assert wait_for(lambda: "epoch: 2" in note.read_text()), "the edit was never read"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    run = HostRun(home_dir)
    row = run.home.store.get(task.id)
    assert row.body.startswith("Hello Ann (2),")
    assert [t.event for t in run.home.store.timeline(task.id)].count("edit") == 1
    run.close()
