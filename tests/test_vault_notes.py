"""Notes: front matter round-trips, hostile names stay inside the vault, writes are atomic and lazy."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import new_task
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fte.errors import BadInput, NoteError
from fte.host.home import Home
from fte.io.vault.names import note_name
from fte.io.vault.notes import (
    Vault,
    atomic_write,
    has_conflict_markers,
    parse_note,
    render_note,
)

HOSTILE = [
    "../../.git/hooks/post-commit", "/etc/passwd", "CON", "nul.md", "a\x00b\x00c", "\u202eexe.md",
    "x" * 1000, "😀" * 80, "", "..", "....", " . ", "C:\\Windows\\system32", "\r\n\t", "\u200b\u200f",
    "a/../../b", "~/.ssh/id_rsa", "%2e%2e%2f", "name:stream", "<script>", "con.txt", "LPT1",
]


@settings(max_examples=200, deadline=None)
@given(title=st.text(), body=st.text(), to=st.text())
def test_front_matter_round_trips(title: str, body: str, to: str) -> None:
    assume(not has_conflict_markers(body))
    meta = {"id": "0123456789abcdef0123456789abcdef", "title": title, "params": {"to": to, "amount": 12.5}}
    note = parse_note(render_note(meta, body))
    assert note.meta == meta
    assert note.body == body


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_give_safe_names_inside_the_vault(tmp_path: Path, title: str) -> None:
    vault = Vault(tmp_path / "vault")
    vault.root.mkdir()
    name = note_name(datetime(2026, 11, 26, tzinfo=timezone.utc), "email.reply", title, "abcdef0123456789")
    assert name.startswith("20261126-email.reply-") and name.endswith("-abcdef01.md")
    assert "/" not in name and "\\" not in name and "\x00" not in name and ".." not in name
    assert "\u202e" not in name and len(name.encode()) < 255
    path = vault.path(f"Pending_Approval/email/{name}")
    assert vault.root in path.parents
    assert vault.write(f"Pending_Approval/email/{name}", b"x")
    assert path.read_bytes() == b"x"


@settings(max_examples=200, deadline=None)
@given(title=st.text())
def test_any_title_gives_a_single_safe_component(title: str) -> None:
    name = note_name(datetime(2026, 1, 2, tzinfo=timezone.utc), "email.reply", title, "0" * 32)
    assert os.path.basename(name) == name and name not in ("", ".", "..")
    assert all(ord(c) >= 32 for c in name) and len(name.encode()) < 255


def test_vault_refuses_paths_outside_it(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    for rel in ("../x.md", "/etc/passwd", "Approved/../../x.md", ""):
        with pytest.raises(BadInput):
            vault.path(rel)


def test_atomic_write_skips_identical_bytes(tmp_path: Path) -> None:
    p = tmp_path / "n.md"
    assert atomic_write(p, b"one")
    mtime = p.stat().st_mtime_ns
    assert not atomic_write(p, b"one")
    assert p.stat().st_mtime_ns == mtime
    assert atomic_write(p, b"two") and p.read_bytes() == b"two"
    assert [f.name for f in tmp_path.iterdir()] == ["n.md"]  # no temp file left


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"no front matter", "no front matter"),
        (b"---\nid: x\n", "not closed"),
        (b"---\nid: [\n---\nbody", "not valid YAML"),
        (b"---\n- a\n---\nbody", "set of properties"),
        (b"---\ntitle: x\n---\nbody", "no 'id'"),
        (b"---\nid: x\n---\n<<<<<<< HEAD\na\n=======\nb\n>>>>>>> other\n", "conflict markers"),
        (b"---\nid: x\n---\n\xff\xfe", "not UTF-8"),
        (b"---\nid: x\n---\n" + b"a" * (6 * 1024 * 1024), "limit"),
    ],
)
def test_malformed_notes_raise_note_error(data: bytes, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        parse_note(data)


ALIAS_BOMB = b"""---
id: bomb
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
params: {x: *g}
---
body
"""


def test_a_yaml_alias_bomb_is_refused_before_it_expands() -> None:
    """A 445-byte note ran a tick for two minutes and wrote a 197 MB note: the size limit checked
    the input, not what its aliases expand to. Notes may hold no anchors or aliases at all."""
    assert len(ALIAS_BOMB) < 600
    with pytest.raises(NoteError, match="anchors or aliases"):
        parse_note(ALIAS_BOMB)
    with pytest.raises(NoteError, match="anchors or aliases"):
        parse_note(b"---\nid: x\nsub: &s {a: 1}\nother: *s\n---\nbody")


@pytest.mark.parametrize("head", [
    "to: a@example.com\nto: eve@example.com",                    # the last would win; Obsidian shows the first
    "params:\n  amount: 10\n  amount: 1000",                    # inside a nested set of properties too
    "to: a@example.com\n'to': eve@example.com",                  # the same key, quoted
    "epoch: 1\n? epoch\n: 2",                                   # the same key, as a complex key
], ids=["flat", "nested", "quoted", "complex-key"])
def test_a_property_written_twice_is_refused(head: str) -> None:
    with pytest.raises(NoteError, match="written twice"):
        parse_note(f"---\nid: x\n{head}\n---\nbody".encode())


@pytest.mark.parametrize("value", ["!!binary ZXZlQGV4YW1wbGUuY29t", "!!set {a@example.com}", "!!str 12",
                                   "!!python/object:os.system x", "!local thing", "!<tag:yaml.org,2002:str> x"])
def test_a_yaml_tag_is_refused(value: str) -> None:
    with pytest.raises(NoteError, match="YAML tag"):
        parse_note(f"---\nid: x\nto: {value}\n---\nbody".encode())


@pytest.mark.parametrize("title", ["Wow! Great", "'!important'", "a ! b", '"!!"'])
def test_an_exclamation_mark_in_text_is_not_a_tag(title: str) -> None:
    assert "!" in parse_note(f"---\nid: x\ntitle: {title}\n---\nbody".encode()).meta["title"]


def test_a_value_used_twice_is_written_twice_and_reads_back() -> None:
    shared = {"description": "Work", "quantity": 1}
    data = render_note({"id": "x", "params": {"lines": [shared, shared]}}, "body")
    assert b"&" not in data.split(b"---")[1] and b"*" not in data.split(b"---")[1]
    assert parse_note(data).meta["params"]["lines"] == [shared, shared]
    assert parse_note(b"---\nid: x\ntitle: 'stars * and & in text'\n---\nb").meta["title"] == "stars * and & in text"


def test_note_follows_the_task_through_its_folders(home: Home) -> None:
    task = new_task(home, title="Re: ../../.git/hooks/post-commit")
    assert task.note_path.startswith("Needs_Action/email/")
    lc = home.lifecycle
    lc.fire(task.id, "draft", actor="t", source="daemon", changes={"body": "Dear Ann,\n\nThanks.\n"})
    lc.fire(task.id, "sync", actor="t", source="daemon")
    lc.fire(task.id, "present", actor="t", source="daemon")
    lc.fire(task.id, "approve", actor="ann", source="cli")
    task = lc.fire(task.id, "claim", actor="laptop", source="daemon", changes={"claimed_by": "laptop"})
    assert task.note_path.startswith("In_Progress/laptop/")
    task = lc.fire(task.id, "complete", actor="laptop", source="daemon")
    assert task.note_path == f"Done/2026-11/{Path(task.note_path).name}"
    notes = list(home.vault.notes())
    assert [home.vault.rel(p) for p in notes] == [task.note_path]
    note = parse_note(notes[0].read_bytes())
    assert note.meta["state"] == "done" and "version" not in note.meta
    from fte.io.vault.notes import split_body

    assert split_body(note.body, note.meta["title"]) == ("Dear Ann,\n\nThanks.\n", "Hello?")
    assert note.meta["to"] == "ann@example.com"
    # Empty sub-folders left behind are removed; the top-level folders stay.
    assert not (home.vault.root / "Needs_Action" / "email").exists()
    assert (home.vault.root / "Needs_Action").is_dir()


def test_mirror_is_skipped_when_nothing_changed(home: Home) -> None:
    task = new_task(home)
    path = home.vault.path(task.note_path)
    before = path.stat().st_mtime_ns
    assert home.lifecycle.mirror(home.store.get(task.id)) is False
    assert path.stat().st_mtime_ns == before


@settings(max_examples=200, deadline=None)
@given(draft=st.text(), original=st.text(), state=st.sampled_from(["drafted", "pending", "done"]), title=st.text())
def test_draft_and_original_round_trip_through_the_note(draft: str, original: str, state: str, title: str) -> None:
    from fte.io.vault.notes import REFERENCE_MARKER, compose_body, split_body
    from fte.models.tables import Task

    assume(REFERENCE_MARKER not in draft and REFERENCE_MARKER not in original)
    task = Task(body=draft, original=original, state=state, title=title)
    assert split_body(compose_body(task), title) == (draft, original)


def test_a_folder_where_a_note_was_neither_stops_a_decision_nor_the_next_start(home_dir) -> None:
    """The person (or a pull) put a folder where a pending note was. Deciding the task moves its note;
    the folder is not fte's to remove, and the daemon must still start (its repair raised
    IsADirectoryError at every start). A note whose own path is a folder is an incident, and the
    other notes behind their rows are repaired all the same."""
    from conftest import new_task

    from fte.host.home import open_home
    from fte.io.vault.notes import note_relpath
    from fte.support import crashpoints

    class Crash(Exception):
        pass

    def crash() -> None:
        raise Crash()

    with open_home(home_dir) as h:
        task = new_task(h)
        blocked = new_task(h, ref="<m2@example.com>", title="Second")
        free = new_task(h, ref="<m3@example.com>", title="Third")
        for event in ("draft", "sync", "present"):
            h.lifecycle.fire(task.id, event, actor="t", source="daemon")
        note = h.settings.vault / h.store.get(task.id).note_path
        note.unlink()
        note.mkdir()
        (note / "mine.md").write_text("the person's own file\n")
        rejected = h.lifecycle.fire(task.id, "reject", actor="ann", source="cli")
        assert (h.settings.vault / rejected.note_path).read_bytes().startswith(b"---")
        assert (note / "mine.md").read_text() == "the person's own file\n"  # left as it was
        # Two transitions committed and their notes never written (a crash after each commit).
        off = crashpoints.on("after-commit", crash)
        try:
            for t in (blocked, free):
                with pytest.raises(Crash):
                    h.lifecycle.fire(t.id, "draft", actor="t", source="daemon")
        finally:
            off()
        taken = note_relpath(h.store.get(blocked.id))
        (h.settings.vault / taken).mkdir(parents=True)
    with open_home(home_dir) as h:  # the start repairs what it can, and does not raise
        assert h.repaired == 1
        row = h.store.get(free.id)
        assert row.mirrored_version == row.version and (h.settings.vault / row.note_path).is_file()
        [incident] = h.store.incidents("unwritable-note")
        assert incident.task_id == blocked.id and incident.path == taken


def test_a_link_out_of_the_vault_where_a_note_was_does_not_stop_a_decision(home_dir, tmp_path) -> None:
    """A note replaced by a symlink to a file outside the vault: the decision moves the task's note
    as usual; the link is neither followed nor removed, and what it points to is untouched (the
    decision used to be committed with its note never written, an error at every start)."""
    from conftest import new_task

    from fte.host.home import open_home

    outside = tmp_path / "outside.txt"
    outside.write_text("not the vault's\n")
    with open_home(home_dir) as h:
        task = new_task(h)
        for event in ("draft", "sync", "present"):
            h.lifecycle.fire(task.id, event, actor="t", source="daemon")
        note = h.settings.vault / h.store.get(task.id).note_path
        note.unlink()
        note.symlink_to(outside)
        rejected = h.lifecycle.fire(task.id, "reject", actor="ann", source="cli")
        assert rejected.mirrored_version == rejected.version
        assert (h.settings.vault / rejected.note_path).read_bytes().startswith(b"---")
        assert note.is_symlink() and outside.read_text() == "not the vault's\n"
