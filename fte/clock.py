"""Time, injected: the loop and the lifecycle take ``now`` so tests never sleep.

A process's own clock is :func:`utcnow`: the system's, unless ``FTE_CLOCK`` names an instant, in
which case the command runs from that instant at the system clock's pace (docs/settings.md,
"Environment"). That is how a test's processes share the test's notion of "now" on any day.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fte.errors import BadInput

Clock = Callable[[], datetime]


#: The environment variable that sets a command's clock: ``INSTANT`` (an ISO 8601 instant with its
#: offset: the command starts there) or ``INSTANT@UNIX`` (the clock read INSTANT when the system clock
#: read UNIX seconds: every process given the same value agrees, and each runs on from there).
CLOCK_ENV = "FTE_CLOCK"

#: (the instant ``FTE_CLOCK`` named, what ``reading()`` returned at that instant, ``reading``), or
#: None: the system clock.
_origin: tuple[datetime, float, Callable[[], float]] | None = None


def start_clock() -> datetime | None:
    """Read ``FTE_CLOCK`` at the start of a command: from then on :func:`utcnow` runs from the
    instant it names, at the system clock's pace; with the system clock when it is unset or empty.
    Returns that instant (as of its anchor), or None. BadInput when the value cannot be read."""
    global _origin
    value = os.environ.get(CLOCK_ENV, "").strip()
    if not value:
        _origin = None
        return None
    text, at, anchor = value.partition("@")
    try:
        instant: datetime | None = datetime.fromisoformat(text.strip())
        since = float(anchor) if at else None
    except ValueError:
        instant = since = None
    if instant is None or instant.tzinfo is None or (at and (since is None or not math.isfinite(since))):
        raise BadInput(f"{CLOCK_ENV}={value!r} is not an instant with its offset, optionally @ the Unix time it "
                       "was read at (for example 2026-11-26T09:00:00+00:00); unset it to use the system clock")
    instant = instant.astimezone(timezone.utc)
    _origin = (instant, since, time.time) if since is not None else (instant, time.monotonic(), time.monotonic)
    return instant


def clock_pinned() -> datetime | None:
    """The instant ``FTE_CLOCK`` set for this command, or None when the system clock is used."""
    return None if _origin is None else _origin[0]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (see :func:`start_clock`)."""
    if _origin is None:
        return datetime.now(timezone.utc)
    instant, since, reading = _origin
    return instant + timedelta(seconds=reading() - since)


def iso(dt: datetime) -> str:
    """A UTC timestamp as ISO 8601 with microseconds — sortable as text, readable in SQL."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime; fte only handles aware UTC times")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso`; naive input is taken as UTC."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def zone(name: str) -> tzinfo:
    """The time zone named ``name`` (IANA, e.g. ``Europe/Paris``; ``UTC``); BadInput if unknown."""
    if name in ("UTC", "Etc/UTC", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadInput(f"unknown time zone {name!r} (an IANA name such as 'Europe/Paris', or 'UTC')") from None
