"""What a pulled tree may hold: every entry is checked before it reaches this host's history, index or
working tree (docs/protocol.md, "What a pulled tree may hold").

Anyone who can push to the remote can plant entries that no file system holds, or that change what
git and fte see: a name longer than a file system allows, ``.``, ``..`` or ``.git`` (git's plumbing
makes them), a byte that is not UTF-8, a name Windows or Obsidian cannot open, a symlink or a
submodule, a file where the vault has a folder (``Pending_Approval``) or a folder where it has a
file (``Dashboard.md/``), and git's own configuration (``.gitignore``, ``.gitattributes``,
``.gitmodules``). One such entry made every tick raise on every host. A refused entry is an
incident; the rest of the pull is applied; the merge this host makes leaves the entry out, so its
next push takes it off the remote's tip.

:func:`refused_reason` judges one path and mode on their own (pure); the checks against this host's
tree (a file at a folder, a folder at a file) are made by the sync with one ``git cat-file`` call.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: Most bytes one path component may have (ext4, APFS, NTFS and most others: 255).
MAX_COMPONENT_BYTES = 255
#: Most bytes a whole path may have: PATH_MAX less the vault's own folder, with room to spare.
MAX_PATH_BYTES = 1024
#: Modes of what a vault may hold: regular files (git has no other mode for one).
FILE_MODES = frozenset({"100644", "100755"})
#: Git's configuration inside a working tree: fte never takes them from someone else's push.
GIT_CONFIG_NAMES = frozenset({".gitignore", ".gitattributes", ".gitmodules"})
#: Names Windows reserves for devices, with any extension (``CON.md``, ``com1.txt``).
_WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                              *(f"lpt{i}" for i in range(10)), "conin$", "conout$"})
#: Characters Windows forbids in a name, which Obsidian forbids on every system too.
_FORBIDDEN = re.compile(r'[<>:"|?*\\\x00-\x1f]')


def refused_reason(path: str, mode: str | None) -> str | None:
    """Why the entry at ``path`` (``mode`` as git gives it; None for a removal) may not enter this
    host's tree, or None when it may."""
    if mode is not None and mode not in FILE_MODES:
        kind = {"120000": "a symlink", "160000": "a submodule", "040000": "a folder entry"}.get(mode, f"mode {mode}")
        return f"{kind}, not a regular file"
    try:
        raw = path.encode("utf-8")
    except UnicodeEncodeError:
        return "a name that is not UTF-8"
    if len(raw) > MAX_PATH_BYTES:
        return f"a path of {len(raw)} bytes (at most {MAX_PATH_BYTES})"
    parts = path.split("/")
    for part in parts:
        reason = _component_reason(part)
        if reason:
            return reason
    if parts[-1].lower() in GIT_CONFIG_NAMES:
        return "git's configuration, which fte never takes from a pull"
    return None


def _component_reason(part: str) -> str | None:
    if part in ("", ".", ".."):
        return f"a path component {part!r}"
    folded = unicodedata.normalize("NFC", part).casefold().rstrip(". ")
    if folded == ".git" or folded == "git~1":
        return "a path component naming git's own folder"
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        return f"a name of {len(part.encode('utf-8'))} bytes (at most {MAX_COMPONENT_BYTES})"
    if _FORBIDDEN.search(part):
        return "a name holding a character Windows and Obsidian forbid (<>:\"|?*\\ or a control)"
    if part[-1] in ". ":
        return "a name ending in a dot or a space"
    if part.split(".", 1)[0].casefold().rstrip() in _WINDOWS_DEVICES:
        return "a name Windows reserves for a device"
    return None


def prefixes(paths: Iterable[str]) -> set[str]:
    """Every folder on the way to each of ``paths`` (``a/b/c.md`` → ``a``, ``a/b``)."""
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")
        found.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return found


def shown_path(path: str) -> str:
    """``path`` as text that can be stored and printed: bytes that are not UTF-8 as ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
