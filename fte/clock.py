"""Time, injected: the loop and the lifecycle take ``now`` so tests never sleep.

A process's own clock is :func:`utcnow`: the system's, unless ``FTE_CLOCK`` names an instant, in
which case the command runs from that instant at the system clock's pace (docs/settings.md,
"Environment"). That is how a test's processes share the test's notion of "now" on any day.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fte.errors import BadInput

Clock = Callable[[], datetime]


#: The environment variable that sets a command's clock (an ISO 8601 instant with its offset).
CLOCK_ENV = "FTE_CLOCK"

#: (the instant ``FTE_CLOCK`` named, ``time.monotonic()`` when it was read), or None: the system clock.
_origin: tuple[datetime, float] | None = None


def start_clock(environ: "os._Environ[str] | dict[str, str] | None" = None) -> datetime | None:
    """Read ``FTE_CLOCK`` at the start of a command: from then on :func:`utcnow` runs from the
    instant it names (at the pace of ``time.monotonic``), or is the system clock when it is unset or
    empty. Returns that instant, or None. BadInput when the value is not an instant with its offset."""
    global _origin
    value = (os.environ if environ is None else environ).get(CLOCK_ENV, "").strip()
    if not value:
        _origin = None
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise BadInput(f"{CLOCK_ENV}={value!r} is not an instant with its offset "
                       "(for example 2026-11-26T09:00:00+00:00); unset it to use the system clock")
    _origin = (instant.astimezone(timezone.utc), time.monotonic())
    return _origin[0]


def clock_pinned() -> datetime | None:
    """The instant ``FTE_CLOCK`` set for this command, or None when the system clock is used."""
    return None if _origin is None else _origin[0]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (see :func:`start_clock`)."""
    if _origin is None:
        return datetime.now(timezone.utc)
    instant, started = _origin
    return instant + timedelta(seconds=time.monotonic() - started)


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
