"""Every setting of ``fte.toml``, as data: one table that validation, defaults and docs derive from.

A setting is a dotted name (``executors.email.port``: the key ``port`` of the table
``[executors.email]``), a type, a default and a one-line help. :func:`check` walks a parsed
document against the table and fails on the first problem with one line naming it — an unknown
key (with the nearest known name), a value of the wrong type, a number that is not finite, a table
that is not a table. A typo is an error, never a silent default: ``dryrun = true`` must not send
real mail. ``docs/settings.md`` is generated from this table (``python -m fte.settings.spec``),
and a test keeps it in step.

The channels' tables (``[sources.*]``, ``[executors.*]``, ``[drafter]``, ``[odoo]``) are typed
dataclasses in :mod:`fte.settings.tables`; their rows here are derived from them. Two tables
have open keys: ``[limits]`` and ``[expiry]``, keyed by task kind (one of
:data:`TASK_KINDS`; ``[expiry]`` also ``default``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fte.errors import BadInput
from fte.io.channels.kinds import KINDS, NAMES
from fte.io.channels.registry import TABLES as CHANNEL_TABLES
from fte.settings.checks import (
    Setting,
    choice,
    is_bool,
    is_text,
    non_negative,
    positive,
    whole,
    within,
    zone_name,
)
from fte.settings.tables import CORE_TABLES

#: Hours a task may wait for a decision, by kind (each kind's default, fte/io/channels/kinds.py);
#: ``default`` for the rest.
DEFAULT_EXPIRY_HOURS: dict[str, float] = {k.name: k.expiry_hours for k in KINDS if k.expiry_hours} | {"default": 72}

#: Most executions started per hour, by kind (each kind's default).
DEFAULT_RATE_LIMITS: dict[str, int] = {k.name: k.rate_limit for k in KINDS if k.rate_limit is not None}

#: Every kind of task fte knows how to execute (a test checks each executor's kinds are here).
TASK_KINDS: tuple[str, ...] = NAMES


#: Seconds bounded by what they mean: an interval of at most a day, a wait of at most an hour.
DAY = within(0, 86_400, low_included=False)
HOUR = within(0, 3_600, low_included=False)
HOUR_OR_OFF = within(0, 3_600)

S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("role", "all", "`cloud` (drafts only, never executes), `local` (approves and executes), `all` (both)",
      choice("cloud", "local", "all")),
    S("agent", None, "this host's name in the vault (`In_Progress/<agent>/`) and the audit log; default: the hostname",
      is_text),
    S("vault", "vault", "the vault folder, relative to the home or absolute (a folder, never one that holds the "
      "home)", is_text),
    S("remote", "", "the vault's git remote URL; empty = no sync", is_text),
    S("person", "person", "the name approvals made on this host are recorded under", is_text),
    S("dry_run", False, "perform nothing: approved tasks are logged, not claimed", is_bool),
    S("daemon.sync_interval", 30.0, "seconds between syncs when nothing happens; doubles (up to ×10) while the "
      "remote is unreachable; at most a day", DAY),
    S("daemon.remote_check", 2.0, "seconds between cheap looks at the remote's head (`git ls-remote`: one round "
      "trip, nothing fetched); a sync runs as soon as it moved. 0 = off (sync every `sync_interval` only)",
      HOUR_OR_OFF),
    S("daemon.watch_interval", 1.0, "seconds between looks at the vault when file-system events are unavailable",
      HOUR),
    S("daemon.heartbeat_interval", 300.0, "seconds between heartbeats written to `Logs/<agent>/heartbeat.json`",
      DAY),
    S("daemon.file_events", True, "wake on file-system events in the vault and the Maildir; `false` polls every "
      "`watch_interval` seconds", is_bool),
    S("notes.timezone", "UTC", "the person's time zone (IANA name, e.g. `Europe/Paris`): notes show their dates "
      "in it, to the minute", zone_name),
    S("notes.debounce", 3.0, "seconds fte waits before rewriting a note the person changed just now, so Obsidian "
      "never reloads a note under their cursor; 0 = never wait", HOUR_OR_OFF),
    S("archive.after_months", 3, "finished notes (done, rejected, expired) leave the task folders for one note per "
      "month, `Archive/<YYYY-MM>.md`, once their month is this many months past; 0 = at the next tick "
      "(docs/sync.md, \"Archive\")", whole(0, 1200)),
    S("audit.retention_days", 90, "daily audit files older than this are removed", whole(1, 36500)),
    *(setting for table in tuple(dict.fromkeys(CHANNEL_TABLES + CORE_TABLES)) for setting in table.settings()),
)
del S

#: Tables keyed by task kind: the table, the check of each value, and what its keys may be.
MAPS: dict[str, tuple[Callable[[Any], str | None], tuple[str, ...], str]] = {
    "limits": (whole(0), TASK_KINDS, "most executions started per hour, by kind; the rest waits"),
    "expiry": (within(0, 24 * 365 * 10, low_included=False), (*TASK_KINDS, "default"),
               "hours a task waits for a decision before it expires, by kind (at most ten years)"),
}

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: Every table a setting lives in (``executors``, ``executors.email``…).
TABLES: frozenset[str] = frozenset(
    ".".join(s.name.split(".")[:i]) for s in SETTINGS for i in range(1, s.name.count(".") + 1)) | frozenset(MAPS)


def _nearest(name: str, known: list[str]) -> str:
    import difflib  # only when a key is wrong

    table, _, tail = name.rpartition(".")
    if table:
        # A key written below a [table] line belongs to that table: a top-level setting typed at the
        # end of the file (`dryrun = true` after `[executors.email]`) is matched by its own name
        # among the top-level ones first, and the answer says where it belongs.
        top = [k for k in known if "." not in k]
        close = difflib.get_close_matches(tail, top, n=1, cutoff=0.75)
        if close:
            return (f" (did you mean {close[0]!r}? A setting below a [table] line belongs to that table: "
                    "put it above the first one)")
    close = difflib.get_close_matches(name, [k for k in known if "." in k or not table], n=1, cutoff=0.6)
    if not close and table:  # a right key in the wrong table: match the last part alone
        close = [k for k in known if k.rsplit(".", 1)[-1] == tail][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def check(data: dict[str, Any], where: str = "fte.toml") -> dict[str, Any]:
    """Validate a parsed ``fte.toml``; returns every setting by dotted name, defaults filled in.
    Raises :class:`BadInput` with one line on the first problem."""
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    values.update({table: {} for table in MAPS})
    _walk(data, "", values, where)
    return values


def _walk(table: dict[str, Any], prefix: str, values: dict[str, Any], where: str) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if name in MAPS:
            if not isinstance(value, dict):
                raise BadInput(f"{where}: [{name}] must be a table (\"kind\" = value lines), not {value!r}")
            value_check, keys, _help = MAPS[name]
            for kind, item in value.items():
                if kind not in keys:
                    raise BadInput(f"{where}: [{name}] has no kind {kind!r}{_nearest(kind, list(keys))}; "
                                   f"kinds: {', '.join(keys)}")
                problem = value_check(item)
                if problem:
                    raise BadInput(f"{where}: {name}.\"{kind}\" must be {problem}, not {item!r}")
            values[name] = dict(value)
        elif name in TABLES:
            if not isinstance(value, dict):
                raise BadInput(f"{where}: [{name}] must be a table of settings, not {value!r}")
            _walk(value, f"{name}.", values, where)
        elif name in BY_NAME:
            problem = BY_NAME[name].check(value)
            if problem:
                raise BadInput(f"{where}: {name} must be {problem}, not {value!r}")
            check = BY_NAME[name].check
            values[name] = float(value) if check in (positive, non_negative) or getattr(check, "real", False) else value
        else:
            known = [s.name for s in SETTINGS] + sorted(TABLES)
            what = "table" if isinstance(value, dict) else "setting"
            raise BadInput(f"{where}: unknown {what} {name!r}{_nearest(name, known)}")


#: The environment variables that are not secrets (those are in docs/channels.md), with what they do.
ENVIRONMENT = (
    ("FTE_HOME", "the home every command uses when `--home` is not given (default `~/.fte`)"),
    ("FTE_CLOCK", ("this command's clock instead of the system's: `INSTANT` (ISO 8601 with its offset, e.g. "
                  "`2026-11-26T09:00:00+00:00`: the command starts there and runs on) or `INSTANT@UNIX` (the clock "
                  "read INSTANT when the system clock read UNIX seconds, so commands run one after the other agree "
                  "and see time move on). Deadlines, expiry, the archive's months, the briefing's week and the audit "
                  "log follow it. For tests and rehearsals: `fte doctor` warns while it is set; a value it cannot "
                  "read stops the command (exit 2)")),
    ("FTE_CRASHPOINT", ("for crash tests only: the process kills itself at that named point "
                       "(`fte/support/crashpoints.py`)")),
)


def markdown() -> str:
    """``docs/settings.md``: every setting, its default and what it does."""
    def shown(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "`true`" if value else "`false`"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return f"`{value!r}`".replace("'", '"') if isinstance(value, str) else f"`{value}`"

    lines = [
        "# Settings (`fte.toml`)",
        "",
        "Generated from `fte/settings/spec.py` (`python -m fte.settings.spec > docs/settings.md`). An unknown",
        "key, a value of the wrong type, a number outside what it can mean (an interval of more than a",
        "day), text holding a line break or another control character (only `drafter.signature` may span",
        "lines), a `from` that is not one address, or a vault that is a file or holds the home stops fte",
        "with one line naming it (exit 2); `fte doctor` checks a home without starting anything. Secrets",
        "never go here: they come from the environment or the home's `.env`.",
        "",
        "| setting | default | what it does |",
        "|---|---|---|",
    ]
    for s in SETTINGS:
        table, _, key = s.name.rpartition(".")
        name = f"`[{table}] {key}`" if table else f"`{key}`"
        lines.append(f"| {name} | {shown(s.default)} | {s.help} |")
    for table, (_check, keys, help_text) in MAPS.items():
        lines.append(f"| `[{table}] \"<kind>\"` | see below | {help_text}; kinds: {', '.join(f'`{k}`' for k in keys)} |")
    lines += ["", "Defaults of the tables by kind: `[limits]` "
              + ", ".join(f"`{k}` {v}" for k, v in _map_defaults()["limits"].items())
              + "; `[expiry]` " + ", ".join(f"`{k}` {v:g}" for k, v in _map_defaults()["expiry"].items()) + ".", ""]
    lines += ["## Environment", "", "| variable | what it does |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in ENVIRONMENT] + [""]
    return "\n".join(lines)


def _map_defaults() -> dict[str, dict[str, float]]:
    return {"limits": dict(DEFAULT_RATE_LIMITS), "expiry": dict(DEFAULT_EXPIRY_HOURS)}


if __name__ == "__main__":
    print(markdown(), end="")
