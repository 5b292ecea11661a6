"""The vault: one markdown note per task (YAML front matter + body), written atomically.

The note is rendered from the task's row: the database is the host's truth, the note its mirror
(docs/architecture.md). Reading notes back is parsing **untrusted input**: :func:`parse_note` either returns a
:class:`Note` or raises :class:`~fte.errors.NoteError`, never anything else.

Folder by state (docs/lifecycle.md)::

    detected            Needs_Action/<domain>/
    drafted, synced     Updates/
    pending             Pending_Approval/<domain>/
    approved            Approved/
    claimed             In_Progress/<agent>/
    done                Done/<YYYY-MM>/
    failed              Failed/
    rejected, expired   Rejected/
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import stat
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import yaml

from fte.clock import zone
from fte.errors import BadInput, NoteError
from fte.io.vault.names import note_name, slugify
from fte.io.vault.properties import (
    APPROVAL_KEYS,
    ASSERTION_KEYS,
    compact,
    expand,
    fte_tags,
    merge_shared,
    persons_meta,
    read_params,
    read_time,
    shown_time,
    split_params,
    zone_name,
)
from fte.io.vault.secretguard import Finding, redact, redacted_text, scan
from fte.models.tables import Task
from fte.support.crashpoints import crashpoint
from fte.support.plaintext import plain

#: Top-level folders of a vault, created by ``fte init``.
FOLDERS: tuple[str, ...] = (
    "Needs_Action", "Updates", "Pending_Approval", "Approved", "Rejected", "In_Progress",
    "Done", "Failed", "Logs", "Briefings",
)
#: The folders that hold task notes (Logs/ and Briefings/ hold other things, e.g. conflict copies).
TASK_FOLDERS: frozenset[str] = frozenset(FOLDERS) - {"Logs", "Briefings"}
TEMP_PREFIX = ".fte-tmp-"
_TEMP_COUNTER = itertools.count()
MAX_NOTE_BYTES = 5 * 1024 * 1024
#: The largest presentation epoch a note may say, on every host. No run of edits a person makes can
#: reach it; one pushed there is taken, and the next edit, which would leave the range, is refused
#: where it is made (docs/protocol.md, "The presentation epoch").
MAX_EPOCH = 2**31 - 1
_DELIM = "---\n"


def state_folder(task: Task) -> PurePosixPath:
    """The folder a task's note lives in, for its current state."""
    state = task.state
    if state == "detected":
        return PurePosixPath("Needs_Action", slugify(task.domain, 40))
    if state in ("drafted", "synced"):
        return PurePosixPath("Updates")
    if state == "pending":
        return PurePosixPath("Pending_Approval", slugify(task.domain, 40))
    if state == "approved":
        return PurePosixPath("Approved")
    if state == "claimed":
        return PurePosixPath("In_Progress", slugify(task.claimed_by or "unknown", 40))
    if state == "done":
        return PurePosixPath("Done", f"{task.updated_at:%Y-%m}")
    if state == "failed":
        return PurePosixPath("Failed")
    if state in ("rejected", "expired"):
        return PurePosixPath("Rejected")
    raise ValueError(f"no folder for state {state!r}")


def note_relpath(task: Task) -> str:
    """Where the task's note belongs, relative to the vault root, with ``/`` separators.

    The file keeps the name it has (a person may rename a note; notes are matched by id), and gets
    the canonical ``<yyyymmdd>-<kind>-<slug>-<id8>.md`` the first time.
    """
    name = PurePosixPath(task.note_path).name if task.note_path else note_name(task.created_at, task.kind, task.title, task.id)
    return str(state_folder(task) / name)


def folder_state(path: str) -> str | None:
    """The state a note's folder stands for (``Approved/x.md`` → approved); None outside the task folders."""
    top = PurePosixPath(path).parts[0] if path else ""
    return {
        "Needs_Action": "detected", "Updates": "drafted", "Pending_Approval": "pending", "Approved": "approved",
        "In_Progress": "claimed", "Done": "done", "Failed": "failed", "Rejected": "rejected",
    }.get(top)


def front_matter(task: Task, tz: tzinfo = timezone.utc) -> dict[str, Any]:
    """The note's properties: what a person (and another host) needs to see and may edit, as flat,
    typed Obsidian properties (:mod:`fte.io.vault.properties`); dates in ``tz``."""
    flat, rest = split_params(task.kind, dict(task.params or {}))
    meta: dict[str, Any] = {"id": task.id, "kind": task.kind, "state": task.state, "title": task.title}
    if task.title:
        meta["aliases"] = [task.title]
    meta["tags"] = fte_tags(task.domain, task.state)
    meta |= flat
    if rest:
        meta["params"] = rest
    meta["created"] = shown_time(task.created_at, tz)
    meta["updated"] = shown_time(task.updated_at, tz)
    if task.expires_at is not None:
        meta["expires"] = shown_time(task.expires_at, tz)
    meta["timezone"] = zone_name(tz)
    meta |= {"source": task.source, "source_ref": task.source_ref, "origin": task.origin}
    if task.claimed_by:
        meta["claimed_by"] = task.claimed_by
    if task.epoch:
        meta["epoch"] = int(task.epoch)
    if task.approval:
        meta["approval"] = compact(task.approval, APPROVAL_KEYS)
    if task.assertion:
        meta["assertion"] = compact(task.assertion, ASSERTION_KEYS)
    if task.last_error:
        meta["error"] = task.last_error
    return meta


_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML has it: ~5x faster
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NoteLoader(_Loader):  # type: ignore[misc,valid-type]
    """The safe loader, with one reading of a note: a property written twice is refused (PyYAML keeps
    the last, while Obsidian shows the first: the person would approve what they did not see)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"property {str(key)[:40]!r} is written twice", key_node.start_mark)
                if isinstance(key, Hashable):
                    seen.add(key)
        return super().construct_mapping(node, deep)


class _NoteDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """PyYAML, with two fixes: strings holding a character its plain/block styles mangle are quoted,
    and no anchors or aliases are written (a value used twice is written twice: notes are read
    back without aliases, see :func:`parse_note`).

    With ``allow_unicode`` PyYAML writes NEL (U+0085), LS/PS (U+2028/9) and BOM (U+FEFF) raw in plain
    and single-quoted scalars, and reads them back as line breaks or drops them (found by the
    round-trip property test). Its double-quoted style escapes them, so those strings use it.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


_RISKY = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _RISKY.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_NoteDumper.add_representer(str, _represent_str)


def render_note(meta: dict[str, Any], body: str) -> bytes:
    """Front matter + body, as the bytes written to disk."""
    head = yaml.dump(
        meta, Dumper=_NoteDumper, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False
    )
    return (_DELIM + head + _DELIM + body).encode("utf-8")


#: Separates the draft (editable, executed as approved) from the reference part of a note.
REFERENCE_MARKER = "<!-- fte: everything below this line is for reference; edits here are ignored -->"
HOW_TO_DECIDE = (
    "> [!tip] To approve, move this note into `Approved/`; to reject, into `Rejected/` "
    "(add a `reason` property to say why). You may edit the draft above first."
)


def heading(title: str) -> str:
    """The note's H1: its title on one line, as text that renders as itself (a title comes from a
    mail's subject: it must not hide text or make links); empty when there is no title."""
    text = plain(" ".join(title.split()))
    return f"# {text}" if text else ""


def compose_body(task: Task) -> str:
    """The note's body: the title as H1; the draft; below the marker, how to decide (when pending)
    and the original."""
    extra: list[str] = []
    if task.state == "pending":
        extra.append(HOW_TO_DECIDE)
    if task.original:
        quoted = "\n".join(f"> {line}" if line else ">" for line in task.original.split("\n"))
        extra.append("> [!quote] Original message\n" + quoted)
    text = task.body
    if extra:
        text = task.body + "\n\n" + REFERENCE_MARKER + "\n" + "\n\n".join(extra) + "\n"
    head = heading(task.title)
    return f"{head}\n\n{text}" if head else text


def _without_heading(body: str, title: Any) -> str:
    """``body`` without fte's H1 — only when it is exactly the heading of the note's ``title``: a
    heading the person wrote or changed is their text, part of the draft."""
    head = heading(title) if isinstance(title, str) else ""
    if head and body.startswith(head + "\n\n"):
        return body[len(head) + 2:]
    if head and body in (head, head + "\n"):
        return ""
    return body


_QUOTE_HEAD = "> [!quote] Original message\n"


def _reference_parts(reference: str) -> tuple[str, str]:
    """(the original message, the person's own text) of a note's reference part. fte's blocks are
    the how-to-decide tip and the quoted original (its lines all start with ``>``); anything else
    there is the person's."""
    original, kept = "", []
    blocks = reference.removesuffix("\n").split("\n\n") if reference.strip() else []
    for block in blocks:
        if block == HOW_TO_DECIDE:
            continue
        if block.split("\n", 1)[0] + "\n" == _QUOTE_HEAD:
            lines = block.split("\n")[1:]
            n = next((k for k, line in enumerate(lines) if not line.startswith(">")), len(lines))
            original = "\n".join(line[2:] if line.startswith("> ") else line[1:] for line in lines[:n])
            if lines[n:]:
                kept.append("\n".join(lines[n:]))
        else:
            kept.append(block)
    return original, "\n\n".join(kept)


def split_body(body: str, title: Any = None) -> tuple[str, str]:
    """Inverse of :func:`compose_body`: (draft, original message); ``title`` is the note's, whose H1
    is not part of the draft."""
    body = _without_heading(body, title)
    marker = "\n\n" + REFERENCE_MARKER + "\n"
    at = body.find(marker)
    if at < 0:
        return body, ""
    return body[:at], _reference_parts(body[at + len(marker):])[0]


@dataclass(frozen=True)
class PersonParts:
    """What the person added to a note, kept through every re-render: their own properties (in
    their order) and their own text in the reference part."""

    meta: dict[str, Any] = field(default_factory=dict)
    text: str = ""


#: :func:`person_parts` of the last notes asked about, by their bytes: a moved note is read by the
#: look at the work tree, then again when its approval is written (a pure function of the bytes).
_PARTS_SEEN: dict[bytes, PersonParts] = {}


def person_parts(data: bytes | None) -> PersonParts:
    """The person's parts of the note ``data`` (nothing when there is no note or it does not parse)."""
    if not data:
        return PersonParts()
    if len(data) > 16_384:  # kept small: at most 2,048 notes of 16 KiB (32 MiB) are remembered
        return _person_parts(data)
    seen = _PARTS_SEEN.get(data)
    if seen is None:
        if len(_PARTS_SEEN) >= 2048:
            _PARTS_SEEN.clear()
        seen = _PARTS_SEEN[data] = _person_parts(data)
    return seen


def _person_parts(data: bytes) -> PersonParts:
    try:
        note = parse_note(data)
    except NoteError:
        return PersonParts()
    meta = persons_meta(note.meta)
    marker = "\n\n" + REFERENCE_MARKER + "\n"
    at = note.body.find(marker)
    text = _reference_parts(note.body[at + len(marker):])[1] if at >= 0 else ""
    return PersonParts(meta, text)


def render_task(task: Task, kept: PersonParts | None = None, tz: tzinfo = timezone.utc) -> bytes:
    """The note of ``task``: fte's properties and body (dates in ``tz``), with ``kept`` (the
    person's additions) kept."""
    meta = front_matter(task, tz)
    body = compose_body(task)
    if kept is not None:
        meta = merge_shared(meta, kept.meta)
        if kept.text:
            if REFERENCE_MARKER not in body:
                body = body + "\n\n" + REFERENCE_MARKER + "\n"
            body = body.removesuffix("\n") + "\n\n" + kept.text.strip("\n") + "\n"
    return render_note(meta, body)


@dataclass(frozen=True)
class Note:
    """A parsed note: its properties and its body, exactly as written."""

    meta: dict[str, Any]
    body: str

    @property
    def id(self) -> str:
        return str(self.meta["id"])


def note_fields(note: Note) -> dict[str, Any]:
    """A note's properties as task fields, type-checked: the note is untrusted (NoteError if wrong)."""
    meta = note.meta

    def text(key: str, default: str | None = None, required: bool = False) -> Any:
        value = meta.get(key, default)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise NoteError(f"note {note.id[:8]}: property {key!r} must be text")
        return value

    def record(key: str, keys: tuple[str, ...]) -> Any:
        value = meta.get(key)
        if value is None or isinstance(value, dict):  # a dict: a note written before records were compact
            return value
        if not isinstance(value, str):
            raise NoteError(f"note {note.id[:8]}: property {key!r} must be text")
        try:
            return expand(value, keys, key)
        except ValueError as exc:
            raise NoteError(f"note {note.id[:8]}: {exc}") from None

    tz_name = meta.get("timezone", "UTC")
    try:
        if not isinstance(tz_name, str):
            raise BadInput("property 'timezone' must be text")
        tz = zone(tz_name)
    except BadInput as exc:
        raise NoteError(f"note {note.id[:8]}: {exc}") from None

    def when(key: str) -> datetime | None:
        value = meta.get(key)
        if value is None:
            return None
        try:
            return read_time(value, tz)
        except (ValueError, OverflowError):
            raise NoteError(f"note {note.id[:8]}: property {key!r} is not a date and time") from None

    epoch = meta.get("epoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= MAX_EPOCH:
        raise NoteError(f"note {note.id[:8]}: property 'epoch' must be a whole number")
    if not re.fullmatch(r"[0-9a-f]{32}", note.id):
        raise NoteError(f"note id {note.id[:40]!r} is not an fte task id")
    kind = text("kind", required=True)
    if not re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_.]+", kind):
        raise NoteError(f"note {note.id[:8]}: kind {kind[:40]!r} is not valid")
    draft, original = split_body(note.body, meta.get("title"))
    return {
        "kind": kind,
        "source": text("source", "vault"),
        "source_ref": text("source_ref", note.id),
        "origin": text("origin", "unknown"),
        "title": text("title", ""),
        "params": read_params(meta, note.id),
        "body": draft,
        "original": original,
        "created": when("created"),
        "expires_at": when("expires"),
        "claimed_by": text("claimed_by"),
        "approval": record("approval", APPROVAL_KEYS),
        "assertion": record("assertion", ASSERTION_KEYS),
        "epoch": epoch,
        "last_error": text("error"),
    }


def has_conflict_markers(text: str) -> bool:
    """Whether ``text`` holds a git conflict: ``<<<<<<<``, ``=======`` and ``>>>>>>>`` lines, in order."""
    stage = 0
    for line in text.split("\n"):
        if stage == 0 and line.startswith("<<<<<<<"):
            stage = 1
        elif stage == 1 and line.rstrip("\r") == "=======":
            stage = 2
        elif stage == 2 and line.startswith(">>>>>>>"):
            return True
    return False


def parse_note(data: bytes, name: str = "note") -> Note:
    """Parse a note's bytes; anything malformed raises :class:`NoteError` saying what and where."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"{name}: {len(data)} bytes is over the {MAX_NOTE_BYTES}-byte limit for a note")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.startswith(_DELIM):
        raise NoteError(f"{name}: no front matter (the note must start with a '---' line)")
    end = text.find("\n" + _DELIM, len(_DELIM) - 1)
    if end < 0:
        raise NoteError(f"{name}: front matter is not closed by a '---' line")
    head, body = text[len(_DELIM) : end + 1], text[end + 1 + len(_DELIM) :]
    if has_conflict_markers(text):
        raise NoteError(f"{name}: unresolved git conflict markers")
    try:
        tokens = {type(t) for t in yaml.scan(head, Loader=_Loader)} if any(c in head for c in "&*!") else set()
        if tokens & {yaml.AnchorToken, yaml.AliasToken}:
            # An alias expands to what it names, as often as it is used: a few hundred bytes can
            # stand for gigabytes. fte never writes one, so a note holding one is refused unread.
            raise NoteError(f"{name}: front matter uses YAML anchors or aliases (&name, *name), which notes may not")
        if yaml.TagToken in tokens:
            # A tag (!!binary, !!set, !!str…) makes a value mean what Obsidian does not show; fte
            # never writes one.
            raise NoteError(f"{name}: front matter uses a YAML tag (!name, !!type), which notes may not")
        meta = yaml.load(head, Loader=_NoteLoader) if head.strip() else {}
    except yaml.YAMLError as exc:
        raise NoteError(f"{name}: front matter is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise NoteError(f"{name}: front matter must be a set of properties, not {type(meta).__name__}")
    if not isinstance(meta.get("id"), str) or not meta["id"]:
        raise NoteError(f"{name}: front matter has no 'id'")
    return Note(meta=meta, body=body)


def redacted_note(data: bytes, name: str = "note") -> tuple[bytes, list[Finding]]:
    """``data`` with its secrets redacted (docs/sync.md, "The secret guard"), and the findings. A note
    fte can read is redacted value by value — each property (keys too, at any depth) and the body —
    and written again, so a marker is text quoted like any other and the front matter keeps its one
    reading; anything else is redacted byte by byte."""
    findings = scan(data)
    if not findings:
        return data, []
    try:
        note = parse_note(data, name)
    except NoteError:
        return redact(data)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redacted_text(value)
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    cleaned = render_note(clean(note.meta), redacted_text(note.body))
    if scan(cleaned):  # a secret the values alone do not hold (across a line of the YAML): the bytes
        return redact(cleaned)[0], findings
    return cleaned, findings


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unchanged(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _write_temp(path: Path, data: bytes, sync: bool) -> str:
    """``data`` in a new temp file beside ``path`` (fsync'd when ``sync``); its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f"{TEMP_PREFIX}{os.getpid()}-{next(_TEMP_COUNTER)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
    except BaseException:
        _discard(tmp)
        raise
    return tmp


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def atomic_write(path: Path, data: bytes, sync_dir: bool = True) -> bool:
    """Write ``data`` to ``path`` atomically; ``False`` (and no write) when the bytes are already there.

    Temp file in the same folder, fsync, rename over, fsync the folder: after a crash the file is
    either the old bytes or the new ones, never a torn mix. ``sync_dir=False`` leaves the folder's
    fsync to the caller (:meth:`Vault.flush`), which batches it for many notes.
    """
    if _unchanged(path, data):
        return False
    tmp = _write_temp(path, data, sync=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    if sync_dir:
        _fsync_dir(path.parent)
    return True


def atomic_write_many(items: list[tuple[Path, bytes]]) -> list[Path]:
    """:func:`atomic_write` for many files as one group commit; returns the paths written.

    Every temp file is written first, then one fsync pass over them, then the renames: each file is
    still either its old bytes or its new ones after a crash (a rename only ever installs a file
    whose bytes are on the disk), and the disk waits once per batch instead of once per write. The
    folders' fsyncs are the caller's (:meth:`Vault.flush`). A crash leaves at most temp files, which
    :meth:`Vault.sweep_temp_files` removes at the next start.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in items:
            if not _unchanged(path, data):
                staged.append((_write_temp(path, data, sync=False), path))
        for tmp, _path in staged:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        done: list[Path] = []
        for tmp, path in staged:
            os.replace(tmp, path)
            done.append(path)
            if len(done) == 1:
                crashpoint("notes-renaming")
        return done
    except BaseException:
        for tmp, _path in staged:
            _discard(tmp)  # the ones already renamed are gone: FileNotFoundError, ignored
        raise


class Vault:
    """A vault folder on disk. Every path handed in is checked to stay inside it."""

    def __init__(self, root: Path, tz: tzinfo = timezone.utc) -> None:
        self.root = root.resolve()
        #: The person's time zone: the dates of the notes written here are shown in it.
        self.tz = tz
        #: Vault paths written or removed since the last :meth:`drain_touched` — what to commit.
        self.touched: set[str] = set()
        self._resolved_dirs: dict[str, Path] = {}
        #: Folders whose fsync is owed (batched writes); None when every write syncs its folder.
        self._unsynced: set[Path] | None = None
        #: Seconds a note the person just changed is left alone (``[notes] debounce``; 0: never).
        self.debounce = 0.0

    def person_busy(self, rel: str) -> bool:
        """Whether the file at ``rel`` changed in the last :attr:`debounce` seconds: asked of a
        note the person changed, which they may still be typing in (Obsidian saves as they type)."""
        if self.debounce <= 0:
            return False
        try:
            st = self.path(rel).stat()
        except (OSError, BadInput):
            return False
        return time.time() - st.st_mtime < self.debounce

    def defer_dir_sync(self) -> None:
        """From now on, folder fsyncs are collected and done by :meth:`flush` (once per folder)."""
        if self._unsynced is None:
            self._unsynced = set()

    def flush(self) -> None:
        """Fsync every folder written since :meth:`defer_dir_sync`; then write through again."""
        dirs, self._unsynced = self._unsynced or set(), None
        for folder in dirs:
            try:
                _fsync_dir(folder)
            except FileNotFoundError:
                pass

    def drain_touched(self) -> set[str]:
        touched, self.touched = self.touched, set()
        return touched

    def path(self, rel: str) -> Path:
        """The absolute path of a vault-relative path; :class:`BadInput` if it would leave the vault.

        The folder is resolved (symlinks followed) and cached; the last component must be a plain
        name, so a symlinked folder pointing outside the vault is caught as well as ``..``.
        """
        pure = PurePosixPath(rel)
        name = pure.name
        if not rel or pure.is_absolute() or name in ("", ".", "..") or "\x00" in rel:
            raise BadInput(f"{rel!r} is outside the vault")
        parent = self._resolved_dirs.get(str(pure.parent))
        if parent is None:
            parent = (self.root / pure.parent).resolve()
            if parent != self.root and self.root not in parent.parents:
                raise BadInput(f"{rel!r} is outside the vault")
            if len(self._resolved_dirs) < 10_000:
                self._resolved_dirs[str(pure.parent)] = parent
        p = parent / name
        if p.is_symlink():
            target = p.resolve()
            if self.root not in target.parents:
                raise BadInput(f"{rel!r} is outside the vault")
        return p

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def write(self, rel: str, data: bytes) -> bool:
        path = self.path(rel)
        wrote = atomic_write(path, data, sync_dir=self._unsynced is None)
        if wrote:
            self.touched.add(rel)
            if self._unsynced is not None:
                self._unsynced.add(path.parent)
        return wrote

    def write_many(self, items: list[tuple[str, bytes]]) -> set[str]:
        """Write many notes as one group (:func:`atomic_write_many`); returns the paths written.
        Their folders' fsyncs are owed to :meth:`flush` when deferred, else done here once each."""
        checked = [(self.path(rel), rel, data) for rel, data in items]
        paths = {path: rel for path, rel, _data in checked}
        written = atomic_write_many([(path, data) for path, _rel, data in checked])
        folders = {p.parent for p in written}
        if self._unsynced is not None:
            self._unsynced |= folders
        else:
            for folder in folders:
                _fsync_dir(folder)
        done = {paths[p] for p in written}
        self.touched |= done
        return done

    def read(self, rel: str) -> bytes | None:
        try:
            return self.path(rel).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, rel: str) -> bool:
        """Remove a note (and its folder, if that leaves it empty and it is not a top-level folder).

        A folder at the note's path, or a link out of the vault, is not fte's note: it is left as it
        is (False) — the move of the task's note goes on without it."""
        try:
            p = self.path(rel)
        except BadInput:
            return False
        self.touched.add(rel)
        if p.is_dir() and not p.is_symlink():
            return False
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        if self._unsynced is not None:
            self._unsynced.add(p.parent)
        else:
            _fsync_dir(p.parent)
        parent = p.parent
        while parent != self.root and parent.parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return True

    def ensure_folders(self) -> list[str]:
        """Create every top-level protocol folder that is missing; returns the ones that exist but
        are not plain folders (a symlink, a file), which are left alone."""
        problems = []
        for name in FOLDERS:
            folder = self.root / name
            try:
                st = os.lstat(folder)
            except FileNotFoundError:
                os.mkdir(folder)
                continue
            if not stat.S_ISDIR(st.st_mode):
                problems.append(name)
        return problems

    def notes(self) -> Iterator[Path]:
        """Every task note (``*.md`` under the state folders), skipping temp files and hidden folders."""
        for top in sorted(TASK_FOLDERS):
            base = self.root / top
            if not base.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for f in filenames:
                    if f.endswith(".md") and not f.startswith("."):
                        yield Path(dirpath) / f

    def find_by_id(self, task_id: str) -> list[str]:
        """Notes whose file name ends in the task's short id and whose front matter holds its id."""
        found = []
        for p in self.notes():
            if not p.name.endswith(f"-{task_id[:8]}.md"):
                continue
            try:
                if parse_note(p.read_bytes(), p.name).id == task_id:
                    found.append(self.rel(p))
            except (NoteError, OSError):
                continue
        return found

    def sweep_temp_files(self) -> int:
        """Remove temp files left by a crash mid-write; returns how many. A temp file names the
        process writing it (``.fte-tmp-<pid>-<n>``): one whose process is alive is another fte
        process's write in progress (``fte mcp`` beside the daemon), and is left alone."""
        n = 0
        for dirpath, _dirs, filenames in os.walk(self.root):
            if "/.git" in dirpath or dirpath.endswith(".git"):
                continue
            for f in filenames:
                if f.startswith(TEMP_PREFIX) and not _writer_alive(f):
                    with contextlib.suppress(FileNotFoundError):  # its writer renamed it meanwhile
                        os.unlink(os.path.join(dirpath, f))
                        n += 1
        return n


def _writer_alive(temp_name: str) -> bool:
    """Whether the process named in a temp file's name (``.fte-tmp-<pid>-<n>``) is running."""
    pid_text = temp_name[len(TEMP_PREFIX):].split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False  # unreadable, or this process's own leftover (a write it no longer does)
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True
