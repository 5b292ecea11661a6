"""A host's home folder: ``fte.toml``, ``fte.db``, ``.env``, the host's signing key, and (by default) the vault.

:func:`init_home` creates one; :func:`open_home` opens it for work: settings, the database brought to
the newest schema, the vault, and a repair of any note left behind by a crash.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fte.clock import Clock, utcnow, zone
from fte.config import (
    APPROVAL_KEY_NAME,
    CONFIG_NAME,
    ROLES,
    Settings,
    check_agent,
    default_agent,
    load_settings,
    parse_settings,
    render_settings,
    toml_str,
)
from fte.errors import BadInput, FteError, NoteError
from fte.host.keys import KEY_NAME, Keyring, create_host_key, load_host_key
from fte.io.channels.registry import maildirs
from fte.io.vault.archive import Entry, archive_path, month_of_archive, parse_archive
from fte.io.vault.gitlock import HostLock
from fte.io.vault.gitrepo import Change, GitRepo
from fte.io.vault.gitsync import GitSync
from fte.io.vault.notes import FOLDERS, TASK_FOLDERS, Vault
from fte.models.store import Store
from fte.settings.env import ENV_NAME
from fte.states.approvals import Trust
from fte.states.convergence import CONVERGENCE
from fte.states.reconcile import merge_evidence
from fte.states.service import Lifecycle

TEMPLATE_FILES = ("Dashboard.md", "Company_Handbook.md", "Business_Goals.md", "Waiting.base")
LOCK_NAME = "git.lock"


def template_dir() -> Path:
    """The vault template: ``vault/`` in a checkout, shipped as ``fte.vault_template`` when installed."""
    package = Path(__file__).resolve().parents[1]  # fte/
    checkout = package.parent / "vault"
    if (checkout / "Dashboard.md").exists():
        return checkout
    return package / "vault_template"


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
    made = not home.exists()
    home.mkdir(parents=True, exist_ok=True)
    if made:
        os.chmod(home, 0o700)  # the home holds the database, the keys and .env: this user's only
    repo = GitSync.init(vault_root, agent, remote)
    (home / CONFIG_NAME).write_text(render_settings(role, agent, vault, remote), encoding="utf-8")
    settings = load_settings(home)
    if not (home / ENV_NAME).exists():
        _write_private(home / ENV_NAME, "# secrets for this host (never synced); e.g. FTE_SMTP_PASSWORD=...\n")
    if role in ("local", "all"):
        # This host's own signing key: only local hosts hold one, and it never enters the vault.
        # Other hosts trust its public key with `fte keys trust` (docs/protocol.md, "Keys").
        ensure_host_key(settings)
    create_vault(settings.vault)
    for folder in maildirs(settings):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    Store.open(settings.db_path).close()
    sync = GitSync(settings.vault, agent, HostLock(home / LOCK_NAME), remote, policy=CONVERGENCE)
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


def ensure_host_key(settings: Settings) -> bool:
    """A local host has its own Ed25519 key and trusts it; a home made with the shared HMAC
    ``approval.key`` of older versions gets one (the old key is retired, not used again: approvals
    it signed no longer verify, and those tasks go back to a person). True when something changed."""
    home = settings.home
    changed = False
    if not (home / KEY_NAME).exists():
        create_host_key(home)
        changed = True
    keyring = Keyring.of(home)
    if keyring.trust(settings.agent, load_host_key(home, settings.agent).public, utcnow()):
        changed = True
    old = home / APPROVAL_KEY_NAME
    if old.exists():
        os.replace(old, home / (APPROVAL_KEY_NAME + ".retired"))
        changed = True
    return changed


def public_key(home: Path) -> tuple[str, str]:
    """(agent, public key) of a local host's home, as ``fte keys show`` prints them."""
    settings = load_settings(home)
    return settings.agent, load_host_key(home, settings.agent).public


def trust_host(home: Path, other: Path) -> bool:
    """Make ``home`` trust the local host at ``other`` (both on this machine: demos, benchmarks,
    tests). Between machines a person runs ``fte keys trust AGENT KEY`` with what the other host's
    ``fte keys show`` prints."""
    agent, key = public_key(other)
    return Keyring.of(home).trust(agent, key, utcnow())


def _stderr(message: str) -> None:
    print(f"fte: warning: {message}", file=sys.stderr)


def open_home(home: Path, clock: Clock = utcnow, repair: bool = True,
              warn: Callable[[str], None] = _stderr) -> Home:
    """Open a home for work; upgrades an older database and repairs notes behind their rows.

    A missing database (deleted, or moved aside after corruption) is made again and its rows are
    read back from the vault — loudly (``warn``, and a ``database-lost`` incident): the audit
    history only the old file held cannot come back."""
    settings = load_settings(home)
    lost = not settings.db_path.exists()
    store = Store.open(settings.db_path)
    vault = Vault(settings.vault, zone(settings.timezone))
    vault.debounce = settings.note_debounce
    lifecycle = Lifecycle(store, vault, settings.agent, clock)
    rebuilt = not (settings.vault / ".git").exists()
    if rebuilt:
        _rebuild_vault(settings)
    sync = GitSync(settings.vault, settings.agent, HostLock(settings.home / LOCK_NAME), settings.remote,
                   policy=CONVERGENCE)
    GitSync.configure(sync.repo, settings.agent)  # settings added by newer versions reach older vaults
    sync.ensure_origin(settings.remote)  # a remote set (or changed) in fte.toml after `fte init`
    opened = Home(settings, store, vault, lifecycle, sync)
    if settings.executes:
        ensure_host_key(settings)
    lifecycle.trust = Trust(Keyring.of(settings.home),
                            load_host_key(settings.home, settings.agent) if settings.executes else None)
    sync.proves = merge_evidence(lifecycle.trust)
    if repair:
        opened.repaired = lifecycle.repair()
    if lost:
        count = _rebuild_database(opened)
        warn(f"{settings.db_path} was missing: a new database was made and {count} task(s) were read back from "
             f"the vault; the audit history only the old file held (transitions, executions, incidents) is lost")
    if rebuilt:
        # The database is the truth: every task whose note the rebuilt vault lacks gets it again.
        for task in store.tasks():
            if task.note_path is None or not vault.path(task.note_path).exists():
                lifecycle.mirror(task)
                opened.repaired += 1
    return opened


def _rebuild_database(opened: Home) -> int:
    """Adopt every task note in the vault's last commit into a new, empty database, the way a new
    host adopts the notes it pulls: signatures are checked, refused notes are reported. This host's
    own claims get an attempt with no outcome, so the executor looks their keys up at the provider
    before anything is performed again (the old file knew whether they had been). Returns how many
    tasks came back."""
    from fte.states.reconcile import Reconciler

    settings, git = opened.settings, opened.git
    head = git.head()
    assert opened.lifecycle.trust is not None
    reconciler = Reconciler(opened.lifecycle, settings.role, opened.lifecycle.trust, settings.person)
    if head is not None:
        changes = git.changes(None, head)
        archived = _archived_entries(opened, changes)
        # An archived note is adopted like any pulled note (its signatures checked), then recorded
        # as archived again: it stays in its month's archive note (docs/sync.md, "Archive").
        served = {f"archive:{tid}": entry.note_bytes() for tid, (_month, entry) in archived.items()}
        changes += [Change("M", entry.path, blob=f"archive:{tid}") for tid, (_m, entry) in archived.items()]
        reconciler.pulled(changes, lambda sha, limit: served[sha] if sha in served else git.read_blob(sha, limit),
                          versions=lambda: git.history(None, head, sorted(TASK_FOLDERS)))
        marks: list[tuple[str, str | None, str, str | None]] = []
        for tid, (month, entry) in archived.items():
            task = opened.store.find(tid)
            if task is not None and task.state in ("done", "rejected", "expired"):
                if task.note_path and task.note_path != archive_path(month):
                    opened.vault.remove(task.note_path)  # written back by the adoption: it stays archived
                marks.append((tid, month, archive_path(month), entry.path))
        opened.store.set_archived(marks, opened.lifecycle.clock())
        opened.store.set_cursor("git.integrated", head, opened.lifecycle.clock())
    tasks = opened.store.tasks()
    for task in tasks:
        if task.state == "claimed" and task.claimed_by == settings.agent:
            opened.store.set_flags(task.id, rebuilt=True)
    opened.lifecycle.incident("database-lost", None, str(settings.db_path), tasks=len(tasks),
                              reason="the database file was missing; rows read back from the vault")
    return len(tasks)


def _archived_entries(opened: Home, changes: list[Change]) -> dict[str, tuple[str, Entry]]:
    """Every note held by a month's archive note in the vault's last commit, by task id."""
    found: dict[str, tuple[str, Entry]] = {}
    for change in changes:
        month = month_of_archive(change.path)
        if month is None or change.blob is None:
            continue
        try:
            entries = parse_archive(opened.git.read_blob(change.blob, 1 << 30), change.path)
        except (NoteError, UnicodeDecodeError) as exc:
            opened.lifecycle.incident("bad-archive", None, change.path, error=str(exc))
            continue
        found |= {tid: (month, entry) for tid, entry in entries.items()}
    return found


def _rebuild_vault(settings: Settings) -> None:
    """The vault (or its repository) is gone: clone it again from the remote — with the remote
    configured, unlike a bare ``git init`` — or start an empty one when the remote cannot be
    reached now (it is merged in at the first sync). The folders and template come back too."""
    root = settings.vault
    cloned = False
    if settings.remote and (not root.exists() or not any(root.iterdir())):
        try:
            GitSync.init(root, settings.agent, settings.remote)
            cloned = True
        except FteError:
            pass  # unreachable now: an empty repository that knows its remote
    if not cloned:
        repo = GitSync.init(root, settings.agent, "")
        if settings.remote and "origin" not in [r.name for r in repo.remotes]:
            repo.create_remote("origin", settings.remote)
    create_vault(root)


_REMOTE_LINE = re.compile(r'^remote\s*=\s*(?:"(?:[^"\\]|\\.)*"|\'[^\']*\')(?P<rest>[ \t]*(?:#.*)?)$', re.MULTILINE)


def set_remote(home: Path, url: str, check: bool = True, allow_none: bool = False) -> Settings:
    """Set the ``remote`` of ``home``: the ``remote = …`` line of ``fte.toml`` (its comment and every
    other line kept as they are) and the vault's ``origin``. The file is checked by reading it back
    before it replaces the old one. ``check``: the remote must answer first (Unreachable, and nothing
    changes, when it does not). ``allow_none``: an empty ``url`` means no remote (the origin removed)."""
    url = url.strip()
    if (not url and not allow_none) or any(c in url for c in "\n\r\0") or url.startswith("-"):
        raise BadInput(f"not a git remote URL: {url!r}")
    settings = load_settings(home)
    if url and check:
        GitRepo.check_reachable(url)  # as `fte init --remote` does: a misspelt URL is said now, not at every sync
    path = home / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    line = f"remote = {toml_str(url)}"
    match = _REMOTE_LINE.search(text)
    if match:
        text = text[:match.start()] + line + match.group("rest") + text[match.end():]
    else:
        first_table = re.search(r"^\[", text, re.MULTILINE)
        at = first_table.start() if first_table else len(text)
        text = text[:at] + line + "\n" + ("\n" if first_table else "") + text[at:]
    if parse_settings(home, tomllib.loads(text)).remote != url:
        raise BadInput(f"{path}: could not set remote (the file has an unusual layout); edit it by hand")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    repo = GitRepo(settings.vault, settings.agent, HostLock(home / LOCK_NAME), url)
    if url:
        repo.ensure_origin(url)
    else:
        repo.forget_origin()
    return load_settings(home)
