"""Text from outside (mail subjects, MCP arguments, notes) shown or stored safely — one definition
of the characters that can make text show something other than what it holds."""

from __future__ import annotations

import re

#: Control characters (C0, DEL, C1: terminal escapes, line breaks, NUL) and the bidirectional marks,
#: overrides and isolates (which reorder how the text around them is shown).
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str, keep_newlines: bool = False) -> str:
    """``text`` safe for a terminal: each hidden character shown as an escape (``\\n``, ``\\u001b``);
    with ``keep_newlines``, line breaks stay line breaks (a multi-line draft shown as it is)."""
    def shown(m: re.Match[str]) -> str:
        if m.group() == "\n":
            return "\n" if keep_newlines else "\\n"
        return f"\\u{ord(m.group()):04x}"
    return HIDDEN.sub(shown, text)


#: Characters Markdown, HTML or Obsidian would read as syntax inside a line.
_SYNTAX = re.compile(r"([\\`*_{}\[\]<>()#+!|~=$%^&:-])")


def plain(value: object) -> str:
    """``value`` as Markdown that renders as itself, on one line: Markdown, HTML, Obsidian's wiki
    links, comments (``%%``), highlights and maths escaped; hidden characters made spaces."""
    return _SYNTAX.sub(r"\\\1", HIDDEN.sub(" ", str(value)))
