"""Text from outside (mail subjects, MCP arguments, notes) shown or stored safely — one definition
of the characters that can make text show something other than what it holds."""

from __future__ import annotations

import re

#: Control characters (C0, DEL, C1: terminal escapes, line breaks, NUL) and the bidirectional marks,
#: overrides and isolates (which reorder how the text around them is shown).
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` safe for a terminal: each hidden character shown as an escape (``\\n``, ``\\u001b``)."""
    return HIDDEN.sub(lambda m: "\\n" if m.group() == "\n" else f"\\u{ord(m.group()):04x}", text)
