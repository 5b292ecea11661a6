"""Settings: ``fte.toml`` in the host's home, parsed into a typed :class:`Settings`.

Only non-secret settings live here. Secrets come from the environment or the home's ``.env``
(mode 0600, never synced) — see :func:`fte.settings.env.load_env`. Every setting is documented in README.md.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fte.errors import BadInput, NotInitialised
from fte.settings import spec as settings_spec
from fte.settings.env import home_path
from fte.settings.spec import DEFAULT_EXPIRY_HOURS, DEFAULT_RATE_LIMITS
from fte.settings.tables import Table

ROLES = ("cloud", "local", "all")
T = TypeVar("T", bound=Table)
CONFIG_NAME = "fte.toml"
DB_NAME = "fte.db"
APPROVAL_KEY_NAME = "approval.key"

_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def default_agent() -> str:
    """This machine's name, made safe for a folder name and the audit log."""
    import socket  # here, not at start: `fte status` and `--help` never need it

    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])[:40].strip("-.")
    return name or "host"


def check_agent(agent: str) -> str:
    if not _AGENT_RE.match(agent):
        raise BadInput(
            f"agent name {agent!r} must be 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return agent


def check_vault(home: Path, vault: Path) -> Path:
    """The vault is a folder (or not made yet) that does not hold the home: the home's database,
    ``.env`` and signing key must never be in what git syncs. Returned as given (only compared
    resolved: a vault reached through a symlink keeps its name)."""
    try:
        os.stat(vault)  # a name too long, a file on the way: an error here, where exists() says False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise BadInput(f"vault = {str(vault)[:80]!r}: cannot be used ({exc.strerror})") from None
    if vault.exists() and not vault.is_dir():
        raise BadInput(f"vault = {str(vault)!r} is a file, not a folder: name the vault's folder in {CONFIG_NAME}")
    try:
        real = vault.resolve()
    except OSError as exc:
        raise BadInput(f"vault = {str(vault)[:80]!r}: cannot be used ({exc.strerror})") from None
    if home == real or home.is_relative_to(real):
        raise BadInput(f"vault = {str(vault)!r} holds this home ({home}): its database, .env and key would be "
                       f"synced; name a folder inside or beside the home in {CONFIG_NAME}")
    return vault


@dataclass(frozen=True)
class Settings:
    """A host's settings. ``home`` is absolute; ``vault`` is resolved against it."""

    home: Path
    role: str = "all"
    agent: str = "laptop"
    vault: Path = Path("vault")
    remote: str = ""
    person: str = "person"
    dry_run: bool = False
    expiry_hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EXPIRY_HOURS))
    sync_interval: float = 30.0
    watch_interval: float = 1.0
    remote_check: float = 2.0
    archive_after_months: int = 3
    heartbeat_interval: float = 300.0
    file_events: bool = True
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    audit_retention_days: int = 90
    timezone: str = "UTC"
    note_debounce: float = 3.0
    #: every setting by dotted name (``executors.email.port``), checked, defaults filled in
    values: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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

    def table(self, table: type[T]) -> T:
        """One table of fte.toml (``settings.table(EmailSettings)``), typed, checked, defaults filled
        in: the one way a table is read (its class is declared beside what reads it)."""
        values = self.values or settings_spec.check({})  # made in code without a document: the defaults
        prefix = table.NAME + "."
        return table.parse({k[len(prefix):]: v for k, v in values.items()
                            if k.startswith(prefix) and "." not in k[len(prefix):]})


def parse_settings(home: Path, data: dict[str, Any]) -> Settings:
    """Validate a parsed ``fte.toml`` document against :data:`fte.settings.spec.SETTINGS`; a bad or
    unknown key raises :class:`BadInput` naming it (docs/settings.md)."""
    home = home.resolve()
    values = settings_spec.check(data, CONFIG_NAME)
    agent = check_agent(values["agent"] if values["agent"] is not None else default_agent())
    expiry = dict(DEFAULT_EXPIRY_HOURS) | {k: float(v) for k, v in values["expiry"].items()}
    limits = dict(DEFAULT_RATE_LIMITS) | dict(values["limits"])
    return Settings(
        home=home,
        role=values["role"],
        agent=agent,
        vault=check_vault(home, home_path(home, values["vault"])),
        remote=values["remote"],
        person=values["person"],
        dry_run=values["dry_run"],
        expiry_hours=expiry,
        rate_limits=limits,
        audit_retention_days=values["audit.retention_days"],
        timezone=values["notes.timezone"],
        note_debounce=values["notes.debounce"],
        file_events=values["daemon.file_events"],
        sync_interval=values["daemon.sync_interval"],
        watch_interval=values["daemon.watch_interval"],
        remote_check=values["daemon.remote_check"],
        archive_after_months=values["archive.after_months"],
        heartbeat_interval=values["daemon.heartbeat_interval"],
        values=values,
    )


def load_settings(home: Path) -> Settings:
    """Read ``<home>/fte.toml``; a missing or malformed file is a clear :class:`BadInput`."""
    path = home / CONFIG_NAME
    try:
        text = path.read_bytes().decode("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise NotInitialised(f"{home} is not an fte home (no {CONFIG_NAME}); run: fte init --home {home}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: {exc}") from exc
    return parse_settings(home, data)


def toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def local_zone_name() -> str:
    """This machine's time zone as an IANA name (``TZ``, else ``/etc/localtime``'s target), else ``UTC``."""
    from fte.clock import zone

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(os.readlink("/etc/localtime").split("zoneinfo/", 1)[1])
    except (OSError, IndexError):
        pass
    for name in candidates:
        try:
            if name:
                zone(name)
                return name
        except BadInput:
            continue
    return "UTC"


def _kind_lines(values: dict[str, Any]) -> str:
    """``[limits]``/``[expiry]`` lines of the embedded default, from each kind's declared default
    (fte/io/channels/kinds.py); ``default`` last, unquoted."""
    lines = [f"{toml_str(k)} = {v:g}" for k, v in values.items() if k != "default"]
    if "default" in values:
        lines.append(f"default = {values['default']:g}")
    return "\n".join(lines) + "\n"


def render_settings(role: str, agent: str, vault: str, remote: str) -> str:
    """The ``fte.toml`` that ``fte init`` writes: the embedded defaults, commented."""
    return f"""# fte settings for this host. Secrets never go here: use the environment or .env (mode 0600).
role = {toml_str(role)}                 # cloud | local | all
agent = {toml_str(agent)}               # this host's name in the vault and the audit log
vault = {toml_str(vault)}               # relative to this folder, or absolute
remote = {toml_str(remote)}             # git remote URL; empty = no sync
person = "person"            # the name approvals made on this host are recorded under
dry_run = false              # true: claim but do not perform anything

[daemon]
sync_interval = 30           # seconds between git syncs when nothing happens
watch_interval = 1           # seconds between looks at the vault for a person's moves
remote_check = 2             # seconds between cheap looks at the remote's head (0 = off)
heartbeat_interval = 300     # seconds between heartbeats written to Logs/<agent>/
file_events = true           # act on the vault's (and the Maildir's) file-system events; false = poll

[notes]
timezone = {toml_str(local_zone_name())}{" " * max(1, 16 - len(local_zone_name()))}# your time zone: notes show their dates in it (IANA name, e.g. "Europe/Paris")
debounce = 3                 # seconds fte waits before rewriting a note you changed just now

[archive]
after_months = 3             # finished notes leave the task folders for Archive/<YYYY-MM>.md (0 = at once)

[audit]
retention_days = 90          # daily audit files in Logs/<agent>/audit/ older than this are removed

[limits]                     # most executions started per hour, by kind
{_kind_lines(DEFAULT_RATE_LIMITS)}
[expiry]                     # hours a task waits for a decision before it expires
{_kind_lines(DEFAULT_EXPIRY_HOURS)}

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
