"""Notes in Obsidian's own shape (docs/lifecycle.md, "Notes"): flat typed properties, dates to the
minute in the person's time zone, co-owned tags and aliases, an H1 title, compact signed records —
read back by another YAML implementation (YAML 1.2, like Obsidian's) and a Markdown parser."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hosts import HostRun, drop_mail
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from ruamel.yaml import YAML

from fte.errors import NoteError
from fte.io.vault.notes import (
    Note,
    note_fields,
    parse_note,
    render_note,
    render_task,
    split_body,
)
from fte.io.vault.properties import (
    APPROVAL_KEYS,
    ASSERTION_KEYS,
    PARAM_PROPERTIES,
    check_names,
    compact,
    expand,
    read_time,
    shown_time,
)
from fte.models.tables import Task
from fte.settings.spec import TASK_KINDS

MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def set_zone(home: Path, name: str) -> None:
    toml = home / "fte.toml"
    toml.write_text(re.sub(r'(?m)^timezone = "[^"]*"', f'timezone = "{name}"', toml.read_text()))


def front_matter_as_obsidian_reads_it(data: bytes) -> dict:
    head = data.decode().split("---\n")[1]
    return YAML(typ="safe", pure=True).load(head)


def approve_by_move(run: HostRun, task_id: str) -> None:
    note = run.home.vault.path(run.home.store.get(task_id).note_path)
    note.rename(run.home.vault.root / "Approved" / note.name)


def test_a_pending_note_is_flat_typed_and_in_the_persons_zone(home_dir: Path) -> None:
    set_zone(home_dir, "Europe/Paris")
    drop_mail(home_dir, 1, subject="Quote [draft]")
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    data = run.home.vault.path(task.note_path).read_bytes()
    meta = front_matter_as_obsidian_reads_it(data)
    flat = {k: v for k, v in meta.items() if not isinstance(v, (dict, list)) or k in ("tags", "aliases")}
    assert flat == meta, "every property is one value Obsidian can edit (or a list of them)"
    assert meta["to"] == "ann@example.com" and meta["subject"] == "Re: Quote [draft] 1" and "params" not in meta
    assert meta["tags"] == ["fte/email", "fte/pending"] and meta["aliases"] == [task.title]
    paris = ZoneInfo("Europe/Paris")
    for key, when in (("created", task.created_at), ("expires", task.expires_at)):
        assert isinstance(meta[key], str) and MINUTE.fullmatch(meta[key]), meta[key]
        assert meta[key] == when.astimezone(paris).strftime("%Y-%m-%dT%H:%M")
    assert meta["timezone"] == "Europe/Paris"
    body = data.decode().split("---\n", 2)[2]
    [heading] = [t for t in MarkdownIt("commonmark").parse(body) if t.type == "heading_open"][:1]
    assert heading.tag == "h1" and body.startswith("# Quote \\[draft\\] 1\n\n")
    # The deadline read back from the note is the row's, to the minute (deadlines are whole minutes).
    assert note_fields(parse_note(data))["expires_at"] == task.expires_at
    approve_by_move(run, task.id)
    run.tick()
    done = run.home.store.get(task.id)
    assert done.state == "done"
    meta = front_matter_as_obsidian_reads_it(run.home.vault.path(done.note_path).read_bytes())
    assert isinstance(meta["approval"], str) and isinstance(meta["assertion"], str)
    assert expand(meta["approval"], APPROVAL_KEYS, "approval") == done.approval
    assert meta["tags"] == ["fte/email", "fte/done"]
    run.close()


def test_the_notes_own_zone_says_what_its_times_mean_on_any_host() -> None:
    when = datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc)
    task = Task(id="a" * 32, kind="email.reply", state="pending", title="T", source="maildir", source_ref="r",
                origin="cloud", created_at=when, updated_at=when, expires_at=when, params={"to": "x@example.com"},
                body="b", original="")
    for zone in ("Europe/Paris", "America/Los_Angeles", "Asia/Kolkata", "UTC"):
        note = parse_note(render_task(task, tz=ZoneInfo(zone) if zone != "UTC" else timezone.utc))
        assert note_fields(note)["expires_at"] == when and note.meta["timezone"] == zone
    with pytest.raises(NoteError, match="time zone"):
        note_fields(Note({"id": "a" * 32, "kind": "email.reply", "timezone": "../../etc/passwd"}, ""))
    with pytest.raises(NoteError, match="expires"):
        note_fields(Note({"id": "a" * 32, "kind": "email.reply", "expires": "2026-13-40T99:99"}, ""))


@settings(max_examples=200, deadline=None)
@given(by=st.text(), host=st.text(), at=st.text(), epoch=st.integers(0, 2**31 - 1),
       deadline=st.none() | st.text(), sha=st.text(), sig=st.text())
def test_a_compact_record_reads_back_to_exactly_what_was_signed(by, host, at, epoch, deadline, sha, sig) -> None:
    record = {"by": by, "host": host, "at": at, "epoch": epoch, "deadline": deadline, "sha256": sha, "signature": sig}
    text = compact(record, APPROVAL_KEYS)
    assert "\n" not in text and {k: v for k, v in record.items() if v is not None} == expand(text, APPROVAL_KEYS, "a")
    meta = {"id": "a" * 32, "kind": "email.reply", "approval": text}
    assert note_fields(parse_note(render_note(meta, "x")))["approval"] == {k: v for k, v in record.items()
                                                                         if v is not None}


@pytest.mark.parametrize("forged", [
    "by=ann host=laptop by=mallory",           # a field twice: which one was signed?
    "by=ann host=laptop role=admin",            # a field no record has
    "by=ann epoch=1e9",                         # an epoch that is not a whole number
    "by=ann epoch=\u0661",                      # a digit, but not an ASCII one: one spelling per value
    "by=%FF%FE host=laptop",                    # bytes that are not UTF-8
    "by=ann  host=laptop",                      # an empty word
    "justtext",
])
def test_a_forged_compact_record_is_refused_not_guessed(forged: str) -> None:
    note = Note({"id": "a" * 32, "kind": "email.reply", "state": "approved", "approval": forged}, "x")
    with pytest.raises(NoteError):
        note_fields(note)
    with pytest.raises(NoteError):
        note_fields(Note({"id": "a" * 32, "kind": "email.reply", "approval": ["by=ann"]}, "x"))


def test_a_note_written_before_this_shape_still_reads() -> None:
    legacy = (b"---\nid: " + b"b" * 32 + b"\nkind: email.reply\nstate: approved\ntitle: Old\nsource: maildir\n"
              b"source_ref: r\norigin: cloud\ncreated: '2026-11-26T11:00:00.123456+02:00'\n"
              b"expires: '2026-11-29T09:00:00.000000+00:00'\nparams:\n  to: ann@example.com\n  subject: 'Re: Old'\n"
              b"epoch: 2\napproval:\n  by: ann\n  host: laptop\n  at: '2026-11-26T10:00:00+00:00'\n  epoch: 2\n"
              b"  deadline: null\n  sha256: abc\n  signature: sig\n---\nHello\n")
    fields = note_fields(parse_note(legacy))
    assert fields["params"] == {"to": "ann@example.com", "subject": "Re: Old"} and fields["body"] == "Hello\n"
    assert fields["created"] == datetime(2026, 11, 26, 9, 0, 0, 123456, tzinfo=timezone.utc)
    assert fields["approval"]["signature"] == "sig" and fields["approval"]["epoch"] == 2
    both = legacy.replace(b"params:\n", b"to: eve@example.com\nparams:\n")
    with pytest.raises(NoteError, match="both a property and in 'params'"):
        note_fields(parse_note(both))


def test_no_parameter_is_named_like_a_property_fte_uses_and_every_kind_declares_its_own() -> None:
    check_names()
    assert set(PARAM_PROPERTIES) == set(TASK_KINDS)
    for clash in ("state", "tags", "approval"):
        with pytest.raises(AssertionError, match=clash):
            check_names({"email.reply": ("to", clash)})


def test_a_heading_the_person_changed_is_their_text_and_is_sent(home_dir: Path) -> None:
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    text = note.read_text()
    assert "\n# Question 1\n\nHello Ann," in text
    note.write_text(text.replace("\n# Question 1\n", "\n# About your question\n"))
    run.tick()
    row = run.home.store.get(task.id)
    assert row.state == "pending" and row.body.startswith("# About your question\n\nHello Ann,")
    parsed = parse_note(run.home.vault.path(row.note_path).read_bytes())
    assert split_body(parsed.body, parsed.meta["title"])[0] == row.body  # fte's H1 on top, theirs kept below
    run.close()


def test_the_waiting_base_ships_with_the_vault_and_is_synced(home_dir: Path) -> None:
    base = home_dir / "vault" / "Waiting.base"
    spec = YAML(typ="safe", pure=True).load(base.read_text())
    assert spec["views"][0]["type"] == "table" and 'file.inFolder("Pending_Approval")' in spec["filters"]["and"]
    assert {"note.kind", "note.expires"} <= set(spec["views"][0]["order"])
    tracked = subprocess.run(["git", "ls-files"], cwd=home_dir / "vault", capture_output=True, text=True).stdout
    assert "Waiting.base" in tracked.split()


def test_the_dashboard_shows_deadlines_in_the_persons_zone(home_dir: Path) -> None:
    set_zone(home_dir, "Asia/Kolkata")
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    dashboard = (home_dir / "vault" / "Dashboard.md").read_text()
    assert f"| {task.expires_at.astimezone(ZoneInfo('Asia/Kolkata')):%Y-%m-%d %H:%M} |" in dashboard
    run.close()


def test_shown_time_and_read_time_are_inverse_to_the_minute() -> None:
    paris = ZoneInfo("Europe/Paris")
    when = datetime(2026, 7, 1, 12, 34, tzinfo=timezone.utc)
    assert shown_time(when, paris) == "2026-07-01T14:34" and read_time("2026-07-01T14:34", paris) == when
    # The assertion keys compact the same way (every signed record is one property).
    rec = {"event": "complete", "state": "done", "by": "laptop", "host": "laptop", "at": "t", "epoch": 3,
           "signature": "s"}
    assert expand(compact(rec, ASSERTION_KEYS), ASSERTION_KEYS, "assertion") == rec


def test_whats_the_persons_and_whats_ftes_in_the_shared_properties() -> None:
    """tags and aliases are co-owned: fte's entries (``fte/…``, the title) and the person's, apart."""
    from fte.io.vault.properties import fte_view, merge_shared, persons_meta

    task = Task(id="a" * 32, kind="email.reply", state="pending", title="Quote", source="maildir", source_ref="r",
                origin="cloud", created_at=datetime(2026, 7, 1, tzinfo=timezone.utc),
                updated_at=datetime(2026, 7, 1, tzinfo=timezone.utc), params={"to": "x@example.com"}, body="b",
                original="")
    ours = parse_note(render_task(task)).meta
    assert persons_meta(ours) == {}, "nothing fte writes is counted as the person's"
    theirs = dict(ours, tags=[*ours["tags"], "client"], aliases=["Quote", "Acme quote", "Zeta quote"],
                  reason="too dear")
    assert persons_meta(theirs) == {"tags": ["client"], "aliases": ["Acme quote", "Zeta quote"], "reason": "too dear"}
    assert fte_view(theirs) == fte_view(ours), "the person's entries do not change what fte owns"
    assert fte_view(dict(ours, aliases=[])) != fte_view(ours) and fte_view(dict(ours, to="y@x.y")) != fte_view(ours)
    merged = merge_shared(ours, persons_meta(theirs))
    assert merged["tags"] == ["fte/email", "fte/pending", "client"]
    assert merged["aliases"] == ["Quote", "Acme quote", "Zeta quote"] and merged["reason"] == "too dear"
    assert merge_shared({"state": "pending"}, {"state": "done"}) == {"state": "pending"}, "fte's own value stays"


@pytest.mark.parametrize(("given", "expected"), [
    (datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc), datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)),
    (datetime(2026, 7, 1, 10, 0, 1, tzinfo=timezone.utc), datetime(2026, 7, 1, 10, 1, tzinfo=timezone.utc)),
    (datetime(2026, 7, 1, 10, 59, 59, 999999, tzinfo=timezone.utc), datetime(2026, 7, 1, 11, 0, tzinfo=timezone.utc)),
])
def test_a_deadline_is_moved_up_to_a_whole_minute(given: datetime, expected: datetime) -> None:
    from fte.io.vault.properties import ceil_minute

    assert ceil_minute(given) == expected
