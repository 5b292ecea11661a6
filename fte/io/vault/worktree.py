"""Bring the person's working tree to a commit, path by path, never over the person's work (docs/sync.md).

The vault's working tree has two writers: the person (Obsidian, at any moment) and fte. fte
writes a path only while the file still holds what fte last wrote or saw there (one of the
``expected`` blobs, normally the one in the commit the tree was at); anything else is the person's
and is kept, to be read as the person's action at the next look.

The check and the write are made race-free with renames rather than with a lock the person
does not take:

* **replace**: rename the file aside (``.fte-aside-<name>``, atomic), check the aside copy is
  still an expected blob, then link the new bytes into place with ``link()`` — which fails if the
  person created the path in between — and drop the aside copy. A save between the check and the
  rename lands in the aside copy and is put back.
* **create**: ``link()`` the new bytes into place; an existing file (the person's) is never replaced.
* **remove**: rename aside, check, unlink.

A crash leaves at most an aside copy, which the next pass puts back before deciding. No write
follows a symlink: every folder on the way must be a real folder inside the vault, and a symlink
at the path itself is never written through.
"""

from __future__ import annotations

import itertools
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fte.io.vault.notes import TEMP_PREFIX
from fte.io.vault.treemerge import blob_sha

ASIDE_PREFIX = ".fte-aside-"
_COUNTER = itertools.count()

WRITTEN, UNCHANGED, KEPT, REFUSED = "written", "unchanged", "kept", "refused"


@dataclass(frozen=True)
class Update:
    """Bring ``path`` to ``data`` (``None``: remove it), if it still holds one of ``expected``
    (blob ids; ``None`` in the set means "absent")."""

    path: str
    data: bytes | None
    expected: frozenset[str | None]


class UnsafePath(Exception):
    """The path leaves the vault or goes through a symlink or a non-folder."""


def apply(root: Path, update: Update) -> str:
    """Apply one update under ``root``; returns WRITTEN, UNCHANGED, KEPT (the person's) or REFUSED.

    A removal prunes the folders it leaves empty, but never a top-level folder of the vault.
    """
    try:
        target = _safe_target(root, update.path, create=update.data is not None)
    except UnsafePath:
        return REFUSED
    if target is None:
        return UNCHANGED  # removing a path whose folder does not exist
    aside = target.with_name(ASIDE_PREFIX + target.name)
    _restore_aside(target, aside)
    read = _read_regular(target)
    if read is _NOT_REGULAR:
        return REFUSED
    current = read if isinstance(read, bytes) else None
    if update.data is not None and current == update.data:
        return UNCHANGED
    if update.data is None and current is None:
        return UNCHANGED
    if _sha(current) not in update.expected:
        return KEPT
    if update.data is None:
        result = _remove(target, aside, update.expected)
        if result == WRITTEN:
            _prune(root, target.parent)
        return result
    return _write(target, aside, update.data, update.expected, existed=current is not None)


_NOT_REGULAR = object()


def _sha(data: bytes | None) -> str | None:
    return None if data is None else blob_sha(data)


def _read_regular(path: Path) -> bytes | None | object:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return _NOT_REGULAR
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _safe_target(root: Path, rel: str, create: bool) -> Path | None:
    """``root/rel`` with every folder on the way a real folder inside ``root`` (created if asked)."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts) or "\x00" in rel:
        raise UnsafePath(rel)
    folder = root
    for part in pure.parts[:-1]:
        folder = folder / part
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(folder)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(rel)
    return folder / pure.parts[-1]


def _restore_aside(target: Path, aside: Path) -> None:
    """An aside copy left by a crash goes back to its path (if nothing took the path since)."""
    if not os.path.lexists(aside):
        return
    try:
        os.link(aside, target)
    except FileExistsError:
        return  # the path holds something newer; the aside copy stays for a person to see
    os.unlink(aside)


def _write_temp(folder: Path, data: bytes) -> Path:
    tmp = folder / f"{TEMP_PREFIX}aside-{os.getpid()}-{next(_COUNTER)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def _put_back(target: Path, aside: Path) -> None:
    try:
        os.link(aside, target)
        os.unlink(aside)
    except FileExistsError:
        pass  # both the person's new file and their earlier bytes survive; the aside copy stays


def _write(target: Path, aside: Path, data: bytes, expected: frozenset[str | None], existed: bool) -> str:
    tmp = _write_temp(target.parent, data)
    try:
        if existed:
            try:
                os.rename(target, aside)
            except FileNotFoundError:
                return KEPT  # moved away by the person just now
            if _sha(_read_regular(aside)) not in expected:  # type: ignore[arg-type]
                _put_back(target, aside)
                return KEPT
        try:
            os.link(tmp, target)
        except FileExistsError:
            # The person created the path in between: theirs stays. Our aside copy held only what
            # fte wrote before (checked above), so dropping it loses nothing.
            if existed:
                os.unlink(aside)
            return KEPT
        if existed:
            os.unlink(aside)
        return WRITTEN
    finally:
        os.unlink(tmp)


def _remove(target: Path, aside: Path, expected: frozenset[str | None]) -> str:
    try:
        os.rename(target, aside)
    except FileNotFoundError:
        return UNCHANGED
    if _sha(_read_regular(aside)) not in expected:  # type: ignore[arg-type]
        _put_back(target, aside)
        return KEPT
    os.unlink(aside)
    return WRITTEN


def _prune(root: Path, folder: Path) -> None:
    """Remove folders left empty, up to (never including) a top-level folder of the vault."""
    while folder != root and folder.parent != root:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
