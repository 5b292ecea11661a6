"""How a task's fields become Obsidian properties, and back (docs/lifecycle.md, "Notes").

Obsidian edits flat, typed properties well and nested ones badly, so a note's front matter is:

- the action's parameters **flat**, as their own properties (``to``, ``subject``, ``amount``…),
  for the parameters a kind declares in :data:`PARAM_PROPERTIES`; anything else a task carries
  stays under one ``params`` property, so nothing is dropped;
- dates as ``YYYY-MM-DDTHH:MM`` (Obsidian's "Date & time" type) in the person's time zone, named
  by the note's own ``timezone`` property — a note read on any host means the same instant,
  whatever that host's settings;
- ``tags`` (``fte/<domain>``, ``fte/<state>``) and ``aliases`` (the title), **co-owned**: fte
  owns its ``fte/…`` tags and the title's alias, every other entry is the person's and is kept;
- the signed approval and assertion records as **one compact text property** each
  (``by=ann host=laptop at=… epoch=2 … signature=…``, values percent-encoded), which still
  reads back to exactly the fields that were signed.

Notes written before this format (nested ``params``, dates with seconds and an offset, records as
nested properties) are still read.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import quote, unquote

from fte.errors import NoteError
from fte.io.channels.kinds import KINDS

#: The parameters each kind shows as properties of their own. A parameter a kind does not declare
#: is kept under ``params``. None of these names may be one fte uses for itself (a test checks).
PARAM_PROPERTIES: dict[str, tuple[str, ...]] = {k.name: k.params for k in KINDS}  # fte/io/channels/kinds.py

#: Properties fte writes and owns outright (besides the declared parameters of the note's kind).
OWNED = frozenset({"id", "kind", "state", "title", "source", "source_ref", "origin", "created", "updated",
                   "expires", "timezone", "claimed_by", "params", "epoch", "approval", "assertion", "error"})
#: Properties fte and the person share: fte's entries are recognised, the rest are the person's.
SHARED = ("tags", "aliases")
TAG_PREFIX = "fte/"

_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


# -- time -------------------------------------------------------------------------------------------

def zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is timezone.utc else str(getattr(tz, "key", None) or tz)


def shown_time(dt: datetime, tz: tzinfo) -> str:
    """``dt`` as the person reads it: ``YYYY-MM-DDTHH:MM`` in ``tz`` (seconds dropped)."""
    return dt.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def ceil_minute(dt: datetime) -> datetime:
    """``dt`` moved up to a whole minute, so a deadline shown to the minute is the deadline."""
    whole = dt.replace(second=0, microsecond=0)
    return whole if whole == dt else whole + timedelta(minutes=1)


def read_time(value: Any, tz: tzinfo) -> datetime:
    """Inverse of :func:`shown_time` (a minute in ``tz``); also the older ISO form with an offset.
    ValueError when ``value`` is no date and time. In the hour a clock repeats (autumn), the
    earlier of the two instants is meant."""
    if isinstance(value, datetime):
        value = value.isoformat()
    if not isinstance(value, str):
        raise ValueError("not text")
    if _MINUTE.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=tz).astimezone(timezone.utc)
    dt = datetime.fromisoformat(value)
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


# -- signed records ---------------------------------------------------------------------------------

APPROVAL_KEYS = ("by", "host", "at", "epoch", "deadline", "sha256", "signature")
ASSERTION_KEYS = ("event", "state", "by", "host", "at", "epoch", "signature")
_SAFE = ":+-._~@/="  # a value is everything after its first "=", up to the next space


def compact(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    """A signed record as one line of ``key=value`` words (values percent-encoded; None left out)."""
    return " ".join(f"{k}={quote(str(record[k]), safe=_SAFE)}" for k in keys if record.get(k) is not None)


def expand(text: str, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """Inverse of :func:`compact`. A word that is not ``key=value`` of a known key, a key twice,
    or an epoch that is not a whole number raises ValueError saying which."""
    record: dict[str, Any] = {}
    for word in text.split(" "):
        key, eq, value = word.partition("=")
        if not eq or key not in keys:
            raise ValueError(f"{what}: {word[:40]!r} is not one of its fields ({', '.join(keys)})")
        if key in record:
            raise ValueError(f"{what}: {key!r} is given twice")
        try:
            record[key] = unquote(value, errors="strict")
        except UnicodeDecodeError:
            raise ValueError(f"{what}: {key!r} is not valid percent-encoded UTF-8") from None
    if "epoch" in record:
        if not re.fullmatch(r"[0-9]{1,10}", record["epoch"]):  # ASCII digits only: one spelling per value
            raise ValueError(f"{what}: epoch {record['epoch'][:20]!r} is not a whole number")
        record["epoch"] = int(record["epoch"])
    return record


# -- the note's properties --------------------------------------------------------------------------

def fte_tags(domain: str, state: str) -> list[str]:
    return [f"{TAG_PREFIX}{domain}", f"{TAG_PREFIX}{state}"]


def _entries(value: Any) -> list[Any]:
    """A list property as a list (Obsidian also accepts one bare value)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def owned_keys(kind: Any) -> frozenset[str]:
    """Every property fte owns outright in a note of ``kind``."""
    return OWNED | frozenset(PARAM_PROPERTIES.get(kind, ()) if isinstance(kind, str) else ())


def persons_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The properties of a parsed note that are the person's: every property fte does not own, and
    the person's entries of the shared ones (tags other than ``fte/…``, aliases other than the title)."""
    owned = owned_keys(meta.get("kind"))
    theirs = {k: v for k, v in meta.items() if k not in owned and k not in SHARED}
    tags = [t for t in _entries(meta.get("tags")) if not (isinstance(t, str) and t.startswith(TAG_PREFIX))]
    aliases = [a for a in _entries(meta.get("aliases")) if a != meta.get("title")]
    if tags:
        theirs["tags"] = tags
    if aliases:
        theirs["aliases"] = aliases
    return theirs


def fte_view(meta: dict[str, Any]) -> dict[str, Any]:
    """What of a parsed note's properties fte owns: two notes with the same view differ only in
    what the person owns."""
    owned = owned_keys(meta.get("kind"))
    view = {k: v for k, v in meta.items() if k in owned}
    view["tags"] = [t for t in _entries(meta.get("tags")) if isinstance(t, str) and t.startswith(TAG_PREFIX)]
    view["aliases"] = [a for a in _entries(meta.get("aliases")) if a == meta.get("title")]
    return view


def merge_shared(meta: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """fte's properties ``meta`` with the person's ``theirs`` added: their own properties after
    fte's, their tags and aliases after fte's entries."""
    out = dict(meta)
    for key in SHARED:
        extra = [v for v in _entries(theirs.get(key)) if v not in out.get(key, [])]
        if extra:
            out[key] = [*out.get(key, []), *extra]
    out |= {k: v for k, v in theirs.items() if k not in out and k not in SHARED}
    return out


def split_params(kind: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the parameters shown as their own properties, the rest — kept under ``params``)."""
    declared = PARAM_PROPERTIES.get(kind, ())
    flat = {k: v for k, v in params.items() if k in declared}
    return flat, {k: v for k, v in params.items() if k not in declared}


def read_params(meta: dict[str, Any], note_id: str) -> dict[str, Any]:
    """Inverse of :func:`split_params` over a parsed note; NoteError when ``params`` is not a set of
    properties or repeats a parameter shown on its own."""
    nested = meta.get("params")
    if nested is None:
        nested = {}
    if not isinstance(nested, dict):
        raise NoteError(f"note {note_id[:8]}: property 'params' must be a set of properties")
    kind = meta.get("kind")
    declared = PARAM_PROPERTIES.get(kind, ()) if isinstance(kind, str) else ()
    flat = {k: meta[k] for k in declared if k in meta}
    twice = sorted(set(flat) & set(nested))
    if twice:
        raise NoteError(f"note {note_id[:8]}: {twice[0]!r} is both a property and in 'params'")
    return flat | nested


def check_names(declared: dict[str, tuple[str, ...]] | None = None) -> None:
    """No declared parameter (of :data:`PARAM_PROPERTIES`, or ``declared``) is named like a property
    fte uses for itself: it would be read back as fte's, not as the action's."""
    for kind, names in (PARAM_PROPERTIES if declared is None else declared).items():
        clash = set(names) & (OWNED | set(SHARED))
        if clash:
            raise AssertionError(f"{kind}: parameter {sorted(clash)[0]!r} is a name fte uses itself")
