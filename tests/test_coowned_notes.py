"""Notes are co-owned (docs/lifecycle.md, "Notes"): fte rewrites the properties it owns and the
draft; whatever the person adds — properties, tags, text below the draft — survives every
re-render, and a note whose task did not change is never written again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from fte.io.vault import parse_note, person_parts, render_task, split_body

from hosts import HostRun, drop_mail

PERSONAL = "reason: too expensive\n"
THEIR_TEXT = "My own note: call Dana first."


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
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    add_personal(note)
    note.write_text(note.read_text().replace("state: pending", "state: done"))  # not the person's to say
    run.tick()
    meta = parse_note(note.read_bytes()).meta
    assert meta["state"] == "pending" and meta["reason"] == "too expensive" and THEIR_TEXT in note.read_text()
    assert run.home.store.get(task.id).state == "pending"
    run.close()


def test_the_persons_text_is_not_read_as_the_original_message(home_dir: Path) -> None:
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    add_personal(note)
    parsed = parse_note(note.read_bytes())
    draft, original = split_body(parsed.body, parsed.meta["title"])
    assert original == task.original and THEIR_TEXT not in original and draft == task.body
    kept = person_parts(note.read_bytes())
    assert kept.meta == {"reason": "too expensive", "tags": ["client"]} and kept.text == THEIR_TEXT
    again = render_task(task, kept)
    assert person_parts(again) == kept  # stable through any number of re-renders
    run.close()
