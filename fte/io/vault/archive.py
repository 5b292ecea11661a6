"""The archive: finished notes of one month packed into one readable note, ``Archive/<YYYY-MM>.md``
(docs/sync.md, "Archive").

The note opens with a table (when, kind, title, state) and then holds every task's note, each
under its own heading: its properties in a ``yaml`` block and its text as it was, so the person
reads and searches it in Obsidian, and ``fte archive restore`` gives back the exact bytes.

An entry starts with a marker line, ``%% fte:task <id> %%`` (an Obsidian comment: invisible in
reading view), which is how the note is read back. Rendering is deterministic — entries sorted by
the time they finished, then id — so two hosts that archive the same month from the same notes
write the same bytes, and their commits merge without a conflict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from fte.errors import NoteError
from fte.io.vault.notes import parse_note
from fte.support.plaintext import plain

FOLDER = "Archive"
_MARK = re.compile(r"^%% fte:task ([0-9a-f]{32}) %%\n", re.M)
_FENCE = "````"
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def archive_path(month: str) -> str:
    if not _MONTH.match(month):
        raise ValueError(f"not a month: {month!r}")
    return f"{FOLDER}/{month}.md"


def month_of_archive(path: str) -> str | None:
    """``2026-08`` for ``Archive/2026-08.md``; None for any other path."""
    parts = PurePosixPath(path).parts
    if len(parts) == 2 and parts[0] == FOLDER and parts[1].endswith(".md") and _MONTH.match(parts[1][:-3]):
        return parts[1][:-3]
    return None


@dataclass(frozen=True)
class Entry:
    """One archived note: its task, where it lived, and its bytes split in properties and text.
    What the table shows is read from the properties, so a note read back renders the same."""

    task_id: str
    path: str  # where the note was (``Done/2026-08/….md``): where a restore puts it back
    front_matter: str  # the YAML between the note's ``---`` lines, as it was
    body: str  # the note's text after its front matter, as it was

    def note_bytes(self) -> bytes:
        """The note, exactly as it was in the vault."""
        return f"---\n{self.front_matter}---\n{self.body}".encode("utf-8")

    @cached_property
    def meta(self) -> dict[str, Any]:
        return parse_note(self.note_bytes(), self.path).meta

    def shown(self, key: str) -> str:
        value = self.meta.get(key)
        return "" if value is None else str(value)


def entry_of_note(path: str, data: bytes) -> Entry:
    """A note's entry; NoteError when the note cannot be archived and read back as it is."""
    note = parse_note(data, path)
    text = data.decode("utf-8")
    end = text.find("\n---\n", 3)
    front, body = text[4:end + 1], text[end + 5:]
    if not text.startswith("---\n") or end < 0:
        raise NoteError(f"{path}: its front matter cannot be archived as it is")
    if _FENCE in front or _MARK.search(front) or _MARK.search(body) or "\r" in text:
        # It would not read back as one entry: refused, the note stays where it is.
        raise NoteError(f"{path}: holds text that reads as an archive marker or fence")
    entry = Entry(note.id, path, front, body)
    if entry.note_bytes() != data:
        raise NoteError(f"{path}: would not be restored byte for byte")
    entry.__dict__["meta"] = note.meta  # the same bytes, parsed once (cached_property's own slot)
    return entry


def render_archive(month: str, entries: list[Entry]) -> bytes:
    """The month's archive note, the same bytes for the same entries on every host."""
    ordered = sorted(entries, key=lambda e: (e.shown("updated"), e.task_id))
    lines = [
        "---", "tags:", "  - fte/archive", f"month: \"{month}\"", f"tasks: {len(ordered)}", "---",
        f"# Archive {month}", "",
        f"The tasks that finished in {month}, moved out of the task folders to keep the vault small. "
        "Each note is below as it was; `fte archive restore <id>` puts one back.", "",
        "| finished | kind | title | state | id |", "|---|---|---|---|---|",
    ]
    for e in ordered:
        lines.append(f"| {_only(e.shown('updated'), '0-9T:-')} | {_only(e.shown('kind'), 'a-z._')} | "
                     f"{plain(e.shown('title'))[:120]} | {_only(e.shown('state'), 'a-z')} | `{e.task_id[:8]}` |")
    out = "\n".join(lines) + "\n\n"
    for e in ordered:
        out += (f"%% fte:task {e.task_id} %%\n## {_heading(e)}\n\n"
                f"- was: `{e.path}`\n\n{_FENCE}yaml\n{e.front_matter}{_FENCE}\n\n{e.body}\n")
    return out.encode("utf-8")


def _only(value: str, allowed: str) -> str:
    """``value`` with every character outside ``allowed`` (a regex class body) dropped."""
    return re.sub(f"[^{allowed}]", "", value)[:40]


def _heading(e: Entry) -> str:
    """The entry's heading: its title made plain, and its short id."""
    title = re.sub(r"[#^|\[\]\\:%]", " ", e.shown("title")).strip()[:80] or e.shown("kind")
    return f"{plain(title)} ({e.task_id[:8]})"


def parse_archive(data: bytes, name: str = "archive") -> dict[str, Entry]:
    """The entries of an archive note, by task id. A note that does not read back is a NoteError
    (the archive is then left as it is, and reported)."""
    text = data.decode("utf-8")
    found: dict[str, Entry] = {}
    marks = list(_MARK.finditer(text))
    for i, mark in enumerate(marks):
        chunk = text[mark.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        m = re.fullmatch(r"## [^\n]*\n\n- was: `([^`\n]+)`\n\n" + _FENCE + r"yaml\n(.*?)" + _FENCE + r"\n\n(.*)\n",
                         chunk, re.S)
        if m is None:
            raise NoteError(f"{name}: the entry of {mark.group(1)[:8]} does not read back")
        entry = Entry(mark.group(1), m.group(1), m.group(2), m.group(3))
        if entry.meta.get("id") != entry.task_id:
            raise NoteError(f"{name}: the entry of {mark.group(1)[:8]} holds another task's note")
        found[entry.task_id] = entry
    return found
