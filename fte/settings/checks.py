"""What a setting is, and the checks a value must pass: the vocabulary of ``fte.toml``.

The table of every setting is :mod:`fte.settings.spec`; each channel's table is a typed dataclass in
:mod:`fte.settings.tables`. Both are built from :class:`Setting` and the checks here (a check
answers ``None`` for a good value, else what the value must be).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fte.clock import zone  # the one place time zones are named
from fte.support.plaintext import HIDDEN


def is_text(value: Any) -> str | None:
    """One line of text: a name, a path, a URL, a header's value. A line break in one would forge
    what follows it (a second header in a mail, a second line in a log), so control and
    text-direction characters are refused."""
    if not isinstance(value, str):
        return "text (in quotes)"
    return "text on one line, without control or text-direction characters" if HIDDEN.search(value) else None


def text_block(value: Any) -> str | None:
    """Text that may span lines (a signature): line breaks and tabs, no other control characters."""
    if not isinstance(value, str):
        return "text (in quotes)"
    lines = value.replace("\n", "").replace("\t", "")
    return "text without control or text-direction characters" if HIDDEN.search(lines) else None


#: One address as a From line holds it: ``local@domain`` or ``Name <local@domain>`` (the name may
#: be quoted, commas and all). Not email.utils: its import costs every command 13 ms at start.
_ADDRESS = re.compile(r'(?:(?:"[^"]*"|[^"<>,;@]*)\s*<([^<>\s@,;"]+@[^<>\s@,;"]+)>|([^<>\s@,;"]+@[^<>\s@,;"]+))')


def mail_address(value: Any) -> str | None:
    """An address mail can be sent from: ``name@domain`` or ``Name <name@domain>``, on one line."""
    problem = is_text(value)
    if problem:
        return problem
    ok = _ADDRESS.fullmatch(value.strip()) is not None
    return None if ok else "an email address such as \"fte@example.com\" or \"Maria <maria@example.com>\""


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def whole(minimum: int, maximum: int | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum and (
            maximum is None or value <= maximum)
        span = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        return None if ok else f"a whole number {span}"
    return check


def text_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if ok else "a list of text (in quotes, in [ ])"


def positive(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    return None if ok else "a positive, finite number"


def within(low: float, high: float, low_included: bool = True) -> Callable[[Any], str | None]:
    """A finite number from ``low`` (or above it) to ``high``: a setting bounded by its meaning, so
    one that passes can never overflow what the daemon computes from it (``1e308`` seconds did)."""
    def check(value: Any) -> str | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
            value >= low if low_included else value > low) and value <= high
        return None if ok else f"a number {'from' if low_included else 'above'} {low:g} to {high:g}"
    check.real = True  # type: ignore[attr-defined]  # read as a float, as positive() and non_negative() are
    return check


def non_negative(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return None if ok else "a finite number, 0 or more"


def choice(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)
    return check


def numeric_id(value: Any) -> str | None:
    ok = (isinstance(value, str) and (value == "" or value.isdigit())) or (
        isinstance(value, int) and not isinstance(value, bool) and value > 0)
    return None if ok else "a numeric id (digits, in quotes)"


def zone_name(value: Any) -> str | None:
    try:
        zone(value) if isinstance(value, str) else None
    except Exception:
        return "an IANA time zone name such as \"Europe/Paris\", or \"UTC\""
    return None if isinstance(value, str) else "an IANA time zone name (in quotes)"


def name_or_id(value: Any) -> str | None:
    ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value > 0)
    return None if ok else "a name (in quotes) or a numeric id"


@dataclass(frozen=True)
class Setting:
    """One setting: its dotted name, its default, what it is, and its check (None: the value is good)."""

    name: str
    default: Any
    help: str
    check: Callable[[Any], str | None]
