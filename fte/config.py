"""Settings: ``fte.toml`` in the host's home, parsed into a typed :class:`Settings`.

Only non-secret settings live here. Secrets come from the environment or the home's ``.env``
(mode 0600, never synced) — see :func:`load_env`. Every setting is documented in README.md.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fte.errors import BadInput, NotInitialised

ROLES = ("cloud", "local", "all")
CONFIG_NAME = "fte.toml"
DB_NAME = "fte.db"
ENV_NAME = ".env"
APPROVAL_KEY_NAME = "approval.key"

#: Hours a task may wait for a decision, by kind; ``default`` for the rest.
DEFAULT_EXPIRY_HOURS: dict[str, float] = {"email.reply": 72, "odoo.payment": 24, "default": 72}

#: Most executions started per hour, by kind.
DEFAULT_RATE_LIMITS: dict[str, int] = {"email.reply": 10, "odoo.payment": 3}

_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def default_agent() -> str:
    """This machine's name, made safe for a folder name and the audit log."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])[:40].strip("-.")
    return name or "host"


def check_agent(agent: str) -> str:
    if not _AGENT_RE.match(agent):
        raise BadInput(
            f"agent name {agent!r} must be 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return agent


@dataclass(frozen=True)
class Settings:
    """A host's settings. ``home`` is absolute; ``vault`` is resolved against it."""

    home: Path
    role: str = "all"
    agent: str = "laptop"
    vault: Path = Path("vault")
    remote: str = ""
    maildir_path: Path = Path("inbox")
    drafter_provider: str = "template"
    email_transport: str = "maildir"
    email_path: Path = Path("outbox")
    email_from: str = "fte@localhost"
    person: str = "person"
    dry_run: bool = False
    expiry_hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EXPIRY_HOURS))
    sync_interval: float = 30.0
    watch_interval: float = 1.0
    heartbeat_interval: float = 300.0
    file_events: bool = True
    signature: str = ""
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    audit_retention_days: int = 90
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def db_path(self) -> Path:
        return self.home / DB_NAME

    @property
    def executes(self) -> bool:
        """Whether this host may approve, claim and execute (never on cloud)."""
        return self.role in ("local", "all")

    @property
    def drafts(self) -> bool:
        return self.role in ("cloud", "all")


def _resolve(home: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else home / p


def parse_settings(home: Path, data: dict[str, Any]) -> Settings:
    """Validate a parsed ``fte.toml`` document; a bad value raises :class:`BadInput` naming it."""
    home = home.resolve()
    role = data.get("role", "all")
    if role not in ROLES:
        raise BadInput(f"fte.toml: role must be one of {', '.join(ROLES)}, not {role!r}")
    agent = check_agent(str(data.get("agent", default_agent())))
    for key in ("vault", "remote"):
        if key in data and not isinstance(data[key], str):
            raise BadInput(f"fte.toml: {key} must be a string")
    sources = data.get("sources", {}) or {}
    maildir = (sources.get("maildir", {}) or {}) if isinstance(sources, dict) else {}
    drafter = data.get("drafter", {}) or {}
    email = ((data.get("executors", {}) or {}).get("email", {})) or {}
    provider = drafter.get("provider", "template")
    if provider not in ("template", "openai"):
        raise BadInput(f"fte.toml: drafter.provider must be 'template' or 'openai', not {provider!r}")
    transport = email.get("transport", "maildir")
    if transport not in ("maildir", "smtp", "gmail"):
        raise BadInput(f"fte.toml: executors.email.transport must be maildir, smtp or gmail, not {transport!r}")
    expiry = dict(DEFAULT_EXPIRY_HOURS)
    for kind, hours in (data.get("expiry", {}) or {}).items():
        if not isinstance(hours, (int, float)) or hours <= 0:
            raise BadInput(f"fte.toml: expiry.{kind} must be a positive number of hours")
        expiry[kind] = float(hours)
    limits = dict(DEFAULT_RATE_LIMITS)
    for kind, per_hour in (data.get("limits", {}) or {}).items():
        if not isinstance(per_hour, int) or isinstance(per_hour, bool) or per_hour < 0:
            raise BadInput(f"fte.toml: limits.{kind} must be a whole number of executions per hour")
        limits[kind] = per_hour
    retention = (data.get("audit", {}) or {}).get("retention_days", 90)
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 1:
        raise BadInput("fte.toml: audit.retention_days must be a whole number of days, at least 1")
    daemon = data.get("daemon", {}) or {}
    intervals = {}
    for key, default in (("sync_interval", 30.0), ("watch_interval", 1.0), ("heartbeat_interval", 300.0)):
        value = daemon.get(key, default)
        if not isinstance(value, (int, float)) or value <= 0:
            raise BadInput(f"fte.toml: daemon.{key} must be a positive number of seconds")
        intervals[key] = float(value)
    file_events = daemon.get("file_events", True)
    if not isinstance(file_events, bool):
        raise BadInput("fte.toml: daemon.file_events must be true or false")
    dry_run = data.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadInput("fte.toml: dry_run must be true or false")
    return Settings(
        home=home,
        role=role,
        agent=agent,
        vault=_resolve(home, data.get("vault", "vault")),
        remote=data.get("remote", ""),
        maildir_path=_resolve(home, maildir.get("path", "inbox")),
        drafter_provider=provider,
        email_transport=transport,
        email_path=_resolve(home, email.get("path", "outbox")),
        email_from=str(email.get("from", "fte@localhost")),
        person=str(data.get("person", "person")),
        dry_run=dry_run,
        expiry_hours=expiry,
        signature=str(drafter.get("signature", "")),
        rate_limits=limits,
        audit_retention_days=retention,
        file_events=file_events,
        raw=data,
        **intervals,
    )


def load_settings(home: Path) -> Settings:
    """Read ``<home>/fte.toml``; a missing or malformed file is a clear :class:`BadInput`."""
    path = home / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotInitialised(f"{home} is not an fte home (no {CONFIG_NAME}); run: fte init --home {home}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: {exc}") from exc
    return parse_settings(home, data)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_settings(role: str, agent: str, vault: str, remote: str) -> str:
    """The ``fte.toml`` that ``fte init`` writes: the embedded defaults, commented."""
    return f"""# fte settings for this host. Secrets never go here: use the environment or .env (mode 0600).
role = {_toml_str(role)}                 # cloud | local | all
agent = {_toml_str(agent)}               # this host's name in the vault and the audit log
vault = {_toml_str(vault)}               # relative to this folder, or absolute
remote = {_toml_str(remote)}             # git remote URL; empty = no sync
person = "person"            # the name approvals made on this host are recorded under
dry_run = false              # true: claim but do not perform anything

[daemon]
sync_interval = 30           # seconds between git syncs when nothing happens
watch_interval = 1           # seconds between looks at the vault for a person's moves
heartbeat_interval = 300     # seconds between heartbeats written to Logs/<agent>/
file_events = true           # act on the vault's (and the Maildir's) file-system events; false = poll

[audit]
retention_days = 90          # daily audit files in Logs/<agent>/audit/ older than this are removed

[limits]                     # most executions started per hour, by kind
"email.reply" = 10
"odoo.payment" = 3

[expiry]                     # hours a task waits for a decision before it expires
"email.reply" = 72
"odoo.payment" = 24
default = 72

[sources.maildir]            # incoming mail from a Maildir folder (mbsync, offlineimap, or a drop folder)
path = "inbox"

[drafter]
provider = "template"        # template (offline) | openai (any OpenAI-compatible endpoint)
signature = ""               # how drafts are signed

[executors.email]
transport = "maildir"        # maildir (sent mail delivered to a Maildir) | smtp | gmail
path = "outbox"
from = "fte@localhost"       # the From address of mail this host sends
"""


def load_env(home: Path) -> dict[str, str]:
    """Secrets for this host: ``<home>/.env`` (KEY=VALUE lines) overlaid by the real environment."""
    values: dict[str, str] = {}
    path = home / ENV_NAME
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"').strip("'")
    values.update({k: v for k, v in os.environ.items() if k.startswith(("FTE_", "OPENAI_"))})
    return values
