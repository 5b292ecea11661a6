"""Safe file names for notes, from untrusted text (mail subjects, sender names).

A name is ``<yyyymmdd>-<kind>-<slug>-<id8>.md``. The slug never holds a path separator, ``..``, a
control, format or bidi character (U+202E and friends), or a character Windows forbids; it is at most
60 characters, does not end in a dot or space, and is never empty. The date and the id make the
whole name unique and never a reserved device name (``CON``, ``nul``…), and the slug is also capped
at 120 UTF-8 bytes so the name stays under the 255-byte limit of common file systems.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from fte.io.vault.secretguard import redacted_text

SLUG_MAX = 60
_FORBIDDEN = set('<>:"/\\|?*#^[]%&{}$!`=@+\'') | {"\x7f"}
_DASHES = re.compile(r"[-\s_]+")
SLUG_MAX_BYTES = 120


def slugify(text: str, max_len: int = SLUG_MAX) -> str:
    """A short, safe, readable fragment of ``text``; ``"untitled"`` when nothing usable is left."""
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "CZ":  # controls, format (bidi, zero-width), surrogates, separators
            out.append(" " if cat[0] == "Z" or ch in "\t\n\r" else "")
        elif ch in _FORBIDDEN:
            out.append(" ")
        else:
            out.append(ch)
    slug = _DASHES.sub("-", "".join(out)).lower()
    slug = slug.replace("..", "-")
    slug = slug.strip("-. ")[:max_len]
    while len(slug.encode("utf-8")) > SLUG_MAX_BYTES:
        slug = slug[:-1]
    return slug.strip("-. ") or "untitled"


def note_name(created: datetime, kind: str, title: str, task_id: str) -> str:
    """The file name of a task's note, made from the title with its secrets redacted (a name is in
    every commit, the Dashboard's links and the remote's history, where a redaction of the note's
    content would not reach)."""
    return f"{created:%Y%m%d}-{slugify(kind, 40)}-{slugify(redacted_text(title))}-{task_id[:8]}.md"
