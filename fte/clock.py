"""Time, injected: the loop and the lifecycle take ``now`` so tests never sleep."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fte.errors import BadInput

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


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
