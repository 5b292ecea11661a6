"""Every setting of ``fte.toml``, as data: one table that validation, defaults and docs derive from.

A setting is a dotted name (``executors.email.port``: the key ``port`` of the table
``[executors.email]``), a type, a default and a one-line help. :func:`check` walks a parsed
document against the table and fails on the first problem with one line naming it — an unknown
key (with the nearest known name), a value of the wrong type, a number that is not finite, a table
that is not a table. A typo is an error, never a silent default: ``dryrun = true`` must not send
real mail. ``docs/settings.md`` is generated from this table (``python -m fte.settings_spec``),
and a test keeps it in step.

Two tables have open keys: ``[limits]`` and ``[expiry]``, keyed by task kind (one of
:data:`TASK_KINDS`; ``[expiry]`` also ``default``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fte.errors import BadInput

#: Every kind of task fte knows how to execute (a test checks each executor's kinds are here).
TASK_KINDS = ("email.reply", "x.reply", "x.post", "whatsapp.reply", "linkedin.post", "linkedin.comment",
              "odoo.invoice", "odoo.bill", "odoo.entry", "odoo.payment")


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "text (in quotes)"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _whole(minimum: int, maximum: int | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum and (
            maximum is None or value <= maximum)
        span = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        return None if ok else f"a whole number {span}"
    return check


def _text_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if ok else "a list of text (in quotes, in [ ])"


def _positive(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    return None if ok else "a positive, finite number"


def _non_negative(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return None if ok else "a finite number, 0 or more"


def _choice(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)
    return check


def _id(value: Any) -> str | None:
    ok = (isinstance(value, str) and (value == "" or value.isdigit())) or (
        isinstance(value, int) and not isinstance(value, bool) and value > 0)
    return None if ok else "a numeric id (digits, in quotes)"


def _zone(value: Any) -> str | None:
    from fte.io.properties import zone  # the one place time zones are named

    try:
        zone(value) if isinstance(value, str) else None
    except Exception:
        return "an IANA time zone name such as \"Europe/Paris\", or \"UTC\""
    return None if isinstance(value, str) else "an IANA time zone name (in quotes)"


def _name_or_id(value: Any) -> str | None:
    ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value > 0)
    return None if ok else "a name (in quotes) or a numeric id"


@dataclass(frozen=True)
class Setting:
    """One setting: its dotted name, its default, what it is, and its check (None: the value is good)."""

    name: str
    default: Any
    help: str
    check: Callable[[Any], str | None]


S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("role", "all", "`cloud` (drafts only, never executes), `local` (approves and executes), `all` (both)",
      _choice("cloud", "local", "all")),
    S("agent", None, "this host's name in the vault (`In_Progress/<agent>/`) and the audit log; default: the hostname",
      _text),
    S("vault", "vault", "the vault folder, relative to the home or absolute", _text),
    S("remote", "", "the vault's git remote URL; empty = no sync", _text),
    S("person", "person", "the name approvals made on this host are recorded under", _text),
    S("dry_run", False, "perform nothing: approved tasks are logged, not claimed", _bool),
    S("daemon.sync_interval", 30.0, "seconds between syncs when nothing happens; doubles (up to ×10) while the "
      "remote is unreachable", _positive),
    S("daemon.watch_interval", 1.0, "seconds between looks at the vault when file-system events are unavailable",
      _positive),
    S("daemon.heartbeat_interval", 300.0, "seconds between heartbeats written to `Logs/<agent>/heartbeat.json`",
      _positive),
    S("daemon.file_events", True, "wake on file-system events in the vault and the Maildir; `false` polls every "
      "`watch_interval` seconds", _bool),
    S("notes.timezone", "UTC", "the person's time zone (IANA name, e.g. `Europe/Paris`): notes show their dates "
      "in it, to the minute", _zone),
    S("notes.debounce", 3.0, "seconds fte waits before rewriting a note the person changed just now, so Obsidian "
      "never reloads a note under their cursor; 0 = never wait", _non_negative),
    S("audit.retention_days", 90, "daily audit files older than this are removed", _whole(1)),
    S("sources.maildir.path", "inbox", "a Maildir folder of incoming mail (relative to the home, or absolute)", _text),
    S("sources.gmail.enabled", False, "Gmail as a source (cloud); token: `fte auth gmail`", _bool),
    S("sources.gmail.query", "in:inbox", "which messages are read", _text),
    S("sources.gmail.label", "INBOX", "the label whose history is followed", _text),
    S("sources.gmail.max_full_sync", 100, "messages read at most when the stored history id expired", _whole(1)),
    S("sources.x.enabled", False, "X mentions as a source (cloud); `FTE_X_BEARER_TOKEN`", _bool),
    S("sources.x.user_id", "", "the account whose mentions are read (its numeric id)", _id),
    S("sources.linkedin.enabled", False, "new comments on the LinkedIn page's recent posts as a source (cloud); "
      "`FTE_LINKEDIN_READ_TOKEN` with `r_organization_social` (docs/channels.md)", _bool),
    S("sources.linkedin.organization", "", "the page (`urn:li:organization:<id>`)", _text),
    S("sources.linkedin.version", "202511", "the `LinkedIn-Version` header (YYYYMM)", _text),
    S("sources.whatsapp.enabled", False, "WhatsApp messages from `fte whatsapp serve` (local)", _bool),
    S("drafter.provider", "template", "`template` (offline, deterministic) or `openai` (any OpenAI-compatible "
      "endpoint; `OPENAI_API_KEY`)", _choice("template", "openai")),
    S("drafter.signature", "", "how the template drafter signs", _text),
    S("drafter.model", "", "the `openai` drafter's model (required for it)", _text),
    S("drafter.base_url", "https://api.openai.com/v1", "the `openai` drafter's endpoint", _text),
    S("drafter.timeout", 30.0, "seconds the `openai` drafter waits for an answer", _positive),
    S("drafter.max_retries", 2, "retries of a transient `openai` failure within one draft", _whole(0, 10)),
    S("executors.email.transport", "maildir", "`maildir` (sent mail delivered to a Maildir), `smtp` or `gmail`",
      _choice("maildir", "smtp", "gmail")),
    S("executors.email.path", "outbox", "the Maildir that the `maildir` transport delivers to", _text),
    S("executors.email.from", "fte@localhost", "the From address of sent mail (its domain is in the Message-ID)",
      _text),
    S("executors.email.host", "", "the `smtp` transport's server (required for it)", _text),
    S("executors.email.port", 587, "the `smtp` server's port", _whole(1, 65535)),
    S("executors.email.security", "starttls", "`none`, `starttls` or `ssl`", _choice("none", "starttls", "ssl")),
    S("executors.email.username", "", "the `smtp` login (password: `FTE_SMTP_PASSWORD`)", _text),
    S("executors.email.ca_file", "", "a CA bundle for the `smtp` server; empty = the system's", _text),
    S("executors.email.sent_path", "sent", "the local Maildir of mail sent by `smtp` (answers \"was this sent?\")",
      _text),
    S("executors.email.timeout", 30.0, "seconds the `smtp` transport waits", _positive),
    S("executors.x.enabled", False, "replies and posts on X (local); `FTE_X_CONSUMER_KEY/SECRET`, `FTE_X_ACCESS_TOKEN/SECRET`",
      _bool),
    S("executors.x.user_id", "", "the replying account's numeric id", _id),
    S("executors.linkedin.enabled", False, "LinkedIn posts, and (with a page as author) replies to comments "
      "(local); `FTE_LINKEDIN_TOKEN`", _bool),
    S("executors.linkedin.author", "", "the author's URN (`urn:li:person:…` or `urn:li:organization:…`; replies to "
      "the page's comments need the organization)", _text),
    S("executors.linkedin.version", "202511", "the `LinkedIn-Version` header (YYYYMM)", _text),
    S("executors.whatsapp.enabled", False, "WhatsApp replies through Twilio (local); `FTE_TWILIO_ACCOUNT_SID`, "
      "`FTE_TWILIO_AUTH_TOKEN`", _bool),
    S("executors.whatsapp.from", "", "your Twilio WhatsApp number", _text),
    S("odoo.url", "", "the Odoo server; empty = no Odoo", _text),
    S("odoo.db", "", "the Odoo database", _text),
    S("odoo.login", "", "the Odoo user (key: `FTE_ODOO_API_KEY`, or `FTE_ODOO_PASSWORD`)", _text),
    S("odoo.transport", "auto", "`auto`, `jsonrpc` or `json2`", _choice("auto", "jsonrpc", "json2")),
    S("odoo.timeout", 30.0, "seconds an Odoo call may take", _positive),
    S("notify.urls", [], "Apprise URLs (`ntfy://…`, `tgram://…`, `mailto://…`, `json://…`); a `${NAME}` in one is "
      "filled from the environment or `.env`, so tokens stay out of this file (docs/notifications.md)", _text_list),
    S("notify.include_text", False, "notices carry the drafts' text (by default they name tasks by title only)",
      _bool),
    S("odoo.company", None, "the one company fte works in, by name or id; default: the login's current company",
      _name_or_id),
)
del S

#: Tables keyed by task kind: the table, the check of each value, and what its keys may be.
MAPS: dict[str, tuple[Callable[[Any], str | None], tuple[str, ...], str]] = {
    "limits": (_whole(0), TASK_KINDS, "most executions started per hour, by kind; the rest waits"),
    "expiry": (_positive, (*TASK_KINDS, "default"), "hours a task waits for a decision before it expires, by kind"),
}

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: Every table a setting lives in (``executors``, ``executors.email``…).
TABLES: frozenset[str] = frozenset(
    ".".join(s.name.split(".")[:i]) for s in SETTINGS for i in range(1, s.name.count(".") + 1)) | frozenset(MAPS)


def _nearest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close and "." in name:  # a right key in the wrong table: match the last part alone
        tail = name.rsplit(".", 1)[1]
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
            values[name] = float(value) if BY_NAME[name].check in (_positive, _non_negative) else value
        else:
            known = [s.name for s in SETTINGS] + sorted(TABLES)
            what = "table" if isinstance(value, dict) else "setting"
            raise BadInput(f"{where}: unknown {what} {name!r}{_nearest(name, known)}")


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
        "Generated from `fte/settings_spec.py` (`python -m fte.settings_spec > docs/settings.md`). An unknown",
        "key, a value of the wrong type, or a number that is not finite stops fte with one line naming it",
        "(exit 2); `fte doctor` checks a home without starting anything. Secrets never go here: they come",
        "from the environment or the home's `.env`.",
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
    return "\n".join(lines)


def _map_defaults() -> dict[str, dict[str, float]]:
    from fte.config import DEFAULT_EXPIRY_HOURS, DEFAULT_RATE_LIMITS

    return {"limits": dict(DEFAULT_RATE_LIMITS), "expiry": dict(DEFAULT_EXPIRY_HOURS)}


if __name__ == "__main__":
    print(markdown(), end="")
