"""Time, injected: the loop and the lifecycle take ``now`` so tests never sleep."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

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
