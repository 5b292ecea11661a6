"""A host's home folder: ``fte.toml``, ``fte.db``, ``.env``, the approval key, and (by default) the vault.

:func:`init_home` creates one; :func:`open_home` opens it for work: settings, the database brought to
the newest schema, the vault, and a repair of any note left behind by a crash.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from fte.clock import Clock, utcnow
from fte.config import (
    APPROVAL_KEY_NAME, CONFIG_NAME, ENV_NAME, ROLES, Settings, check_agent, default_agent, load_settings,
    render_settings, parse_settings,
)
from fte.errors import BadInput
from fte.io.gitlock import HostLock
from fte.io.gitsync import GitSync
from fte.io.vault import FOLDERS, Vault
from fte.models.store import Store
from fte.states.service import Lifecycle

TEMPLATE_FILES = ("Dashboard.md", "Company_Handbook.md", "Business_Goals.md")
LOCK_NAME = "git.lock"


def template_dir() -> Path:
    """The vault template: ``vault/`` in a checkout, shipped as ``fte.vault_template`` when installed."""
    checkout = Path(__file__).resolve().parents[1] / "vault"
    if (checkout / "Dashboard.md").exists():
        return checkout
    return Path(__file__).resolve().parent / "vault_template"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def create_vault(root: Path) -> None:
    """The template's notes and the state folders; existing files are left as they are."""
    root.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        (root / folder).mkdir(exist_ok=True)
    src = template_dir()
    for name in TEMPLATE_FILES:
        if not (root / name).exists():
            shutil.copyfile(src / name, root / name)


def init_home(
    home: Path, role: str = "all", agent: str | None = None, vault: str = "vault", remote: str = ""
) -> Settings:
    """Create a host's home. Refuses a folder that already has an ``fte.toml``.

    With ``remote``: a remote that already holds a vault is cloned; an empty one gets this vault
    pushed (an unreachable remote is :class:`~fte.errors.Unreachable` and nothing is created).
    """
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}")
    agent = check_agent(agent or default_agent())
    home = home.resolve()
    if (home / CONFIG_NAME).exists():
        raise BadInput(f"{home} is already an fte home ({CONFIG_NAME} exists)")
    vault_root = parse_settings(home, {"vault": vault}).vault
    home.mkdir(parents=True, exist_ok=True)
    repo = GitSync.init(vault_root, agent, remote)
    (home / CONFIG_NAME).write_text(render_settings(role, agent, vault, remote), encoding="utf-8")
    settings = load_settings(home)
    if not (home / ENV_NAME).exists():
        _write_private(home / ENV_NAME, "# secrets for this host (never synced); e.g. FTE_SMTP_PASSWORD=...\n")
    if role in ("local", "all") and not (home / APPROVAL_KEY_NAME).exists():
        # Signs approvals; only local hosts hold it, and it never enters the vault. A second local
        # host of the same person copies this file (see README).
        _write_private(home / APPROVAL_KEY_NAME, secrets.token_hex(32) + "\n")
    create_vault(settings.vault)
    for folder in (settings.maildir_path, settings.email_path):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    Store.open(settings.db_path).close()
    sync = GitSync(settings.vault, agent, HostLock(home / LOCK_NAME), remote)
    sync.ensure_gitignore()
    sync.commit([".gitignore", *TEMPLATE_FILES], f"fte {agent}: new vault")
    del repo
    if remote:
        sync.sync()  # best effort: an error here is retried by the daemon
    return settings


@dataclass
class Home:
    """An open home: settings, the writer store, the vault and the lifecycle service over them."""

    settings: Settings
    store: Store
    vault: Vault
    lifecycle: Lifecycle
    git: GitSync
    repaired: int = 0

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Home":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_home(home: Path, clock: Clock = utcnow, repair: bool = True) -> Home:
    """Open a home for work; upgrades an older database and repairs notes behind their rows."""
    settings = load_settings(home)
    store = Store.open(settings.db_path)
    vault = Vault(settings.vault)
    lifecycle = Lifecycle(store, vault, settings.agent, clock)
    if not (settings.vault / ".git").exists():
        GitSync.init(settings.vault, settings.agent, "")
    sync = GitSync(settings.vault, settings.agent, HostLock(settings.home / LOCK_NAME), settings.remote)
    GitSync.configure(sync.repo, settings.agent)  # settings added by newer versions reach older vaults
    opened = Home(settings, store, vault, lifecycle, sync)
    if repair:
        opened.repaired = lifecycle.repair()
    return opened
