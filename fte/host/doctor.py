"""``fte doctor``: a home checked end to end, without starting anything or changing anything.

Each check says ``ok``, ``warn`` (works, but look at it) or ``fail`` (fte will not do its job), with
what was found and, when something is wrong, the command or edit that fixes it. Checks in order:
settings, clock, secrets (every secret file's mode), role, database, vault, remote, keys, channels
(an executor that can reach its provider without sending — SMTP — connects and logs in), notify
(Apprise parses every URL), Odoo. When the settings cannot be read nothing else can be checked.
``offline`` skips the three that reach the network (the remote, the executors' providers and
Odoo's login).
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fte.config import Settings, load_settings
from fte.errors import FteError, NotInitialised
from fte.settings.env import ENV_NAME, load_env
from fte.settings.tables import OdooSettings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it stands, what was seen, and how to fix it."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(home: Path, offline: bool = False) -> list[Check]:
    """Every check of the home at ``home`` (see the module's docstring)."""
    try:
        settings = load_settings(home)
    except NotInitialised as exc:
        return [Check("settings", FAIL, str(exc), f"fte init --home {home} --role cloud|local|all")]
    except FteError as exc:
        return [Check("settings", FAIL, str(exc), "edit fte.toml (every setting: docs/settings.md)")]
    found = [Check("settings", OK, f"{settings.role} host {settings.agent!r}, vault {settings.vault}")]
    steps: list[Callable[[Settings, bool], Iterator[Check]]] = [
        _clock, _secrets, _role, _database, _vault, _remote, _keys, _channels, _notify, _odoo]
    for step in steps:
        try:
            found.extend(step(settings, offline))
        except FteError as exc:  # a check that cannot finish is a finding, never a traceback
            found.append(Check(step.__name__.strip("_"), FAIL, str(exc)))
        except Exception as exc:  # noqa: BLE001 — a library's own error (a bad token file…): still a finding
            found.append(Check(step.__name__.strip("_"), FAIL, f"{type(exc).__name__}: {exc}"[:500]))
    return found


def _clock(_settings: Settings, _offline: bool) -> Iterator[Check]:
    from fte.clock import CLOCK_ENV, clock_pinned, iso, utcnow

    if clock_pinned() is None:
        yield Check("clock", OK, f"the system clock: {iso(utcnow())}")
    else:  # deadlines, expiry and the audit log follow it: fine in a test, never on a working host
        yield Check("clock", WARN, f"{CLOCK_ENV} sets this command's clock: {iso(utcnow())}",
                    f"unset {CLOCK_ENV} to use the system clock")


def secret_files(home: Path) -> list[Path]:
    """The home's files that hold secrets and exist: ``.env`` and the OAuth tokens (the signing key
    is the keys check's)."""
    from fte.io.channels.gmail import token_path

    paths = [home / ENV_NAME, token_path(home, "read"), token_path(home, "send")]
    return [p for p in paths if p.exists()]


def readable_by_others(path: Path) -> int:
    """The mode bits that let someone other than the owner read or change ``path`` (0: none)."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077


def _secrets(settings: Settings, _offline: bool) -> Iterator[Check]:
    load_env(settings.home)  # a line that is not KEY=value, or bytes that are not UTF-8: FteError
    found = secret_files(settings.home)
    if not found:
        yield Check("secrets", OK, f"no {ENV_NAME} (secrets from the environment only)")
        return
    wide = [p for p in found if readable_by_others(p)]
    for path in wide:  # whoever reads one sends mail, posts or books as this person
        yield Check("secrets", FAIL, f"{path} is readable by others (mode {stat.S_IMODE(path.stat().st_mode):o})",
                    f"chmod 600 {path}")
    if not wide:
        yield Check("secrets", OK, ", ".join(f"{p.name} (mode {stat.S_IMODE(p.stat().st_mode):o})" for p in found))


def _role(settings: Settings, _offline: bool) -> Iterator[Check]:
    from fte.daemon import check_role

    check_role(settings)
    yield Check("role", OK, "a cloud host holds no executor credential and no signing key" if settings.role == "cloud"
                else f"{settings.role}: this host approves and executes")


def _database(settings: Settings, _offline: bool) -> Iterator[Check]:
    from fte.models import migrate
    from fte.models.db import connect_readonly

    path = settings.db_path
    if not path.exists():
        yield Check("database", WARN, f"{path} is missing: the next start makes a new one and reads the tasks back "
                    "from the vault; the audit history only the old file held is lost",
                    "if it was moved, put it back before starting fte")
        return
    conn = connect_readonly(path)  # not a database: CorruptDatabase, with the way back
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        conn.close()
    if problems != ["ok"]:
        yield Check("database", FAIL, f"{path}: {'; '.join(problems[:3])}",
                    f"stop fte, mv {path} {path}.corrupt; the next start reads the tasks back from the vault")
    elif row is None or row[0] != migrate.head_revision():
        yield Check("database", WARN, f"{path}: schema {row[0] if row else 'none'}, newest {migrate.head_revision()}",
                    "fte db upgrade (or start fte: it upgrades)")
    else:
        yield Check("database", OK, f"{path}: readable, schema {row[0]}")


def _git(vault: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C",
               GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15"))
    return subprocess.run(["git", "-C", str(vault), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


def _vault(settings: Settings, _offline: bool) -> Iterator[Check]:
    from fte.io.vault.notes import FOLDERS

    vault = settings.vault
    if not (vault / ".git").is_dir():
        yield Check("vault", FAIL, f"{vault} is not a git repository",
                    "start fte: it clones the vault again from the remote (or makes a new one) and writes every note "
                    "from the database")
        return
    missing = [f for f in FOLDERS if not (vault / f).is_dir() or (vault / f).is_symlink()]
    busy = [name for name in ("MERGE_HEAD", "REBASE_HEAD", "rebase-merge", "rebase-apply")
            if (vault / ".git" / name).exists()]
    origin = _git(vault, "config", "--get", "remote.origin.url").stdout.strip()
    if busy:
        yield Check("vault", WARN, f"a git operation was left unfinished ({', '.join(busy)})",
                    "start fte: it recovers the repository before anything else")
    if missing:
        yield Check("vault", WARN, f"folders missing or not plain folders: {', '.join(missing)}",
                    "start fte: it makes every protocol folder again (a symlink is left for you to remove)")
    if settings.remote and origin != settings.remote:
        yield Check("vault", FAIL, f"the vault's origin is {origin or '(none)'!r}, fte.toml says {settings.remote!r}",
                    f"git -C {vault} remote set-url origin {settings.remote}" if origin else
                    f"git -C {vault} remote add origin {settings.remote}")
    elif not busy and not missing:
        yield Check("vault", OK, f"{vault}: a git repository, every protocol folder present")


def _remote(settings: Settings, offline: bool) -> Iterator[Check]:
    if not settings.remote:
        yield Check("remote", OK, "none: this host does not sync (set remote in fte.toml to sync)")
        return
    if offline:
        yield Check("remote", WARN, f"{settings.remote}: not checked (--offline)")
        return
    try:
        result = _git(settings.vault, "ls-remote", "--heads", settings.remote, timeout=30)
    except subprocess.TimeoutExpired:
        yield Check("remote", FAIL, f"{settings.remote}: no answer within 30 s", "check the network and the URL")
        return
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["git ls-remote failed"]
        line = next((x for x in lines if x.startswith(("fatal:", "error:"))), lines[0])
        yield Check("remote", FAIL, f"{settings.remote}: {line}",
                    "check the URL, the network and this host's SSH key or token; fte keeps working and syncs later")
    else:
        yield Check("remote", OK, f"{settings.remote}: reachable")


def _keys(settings: Settings, _offline: bool) -> Iterator[Check]:
    from fte.host.keys import KEY_NAME, Keyring, load_host_key

    keyring = Keyring.of(settings.home)
    trusted = sorted(keyring.entries)
    if settings.executes:
        if not (settings.home / KEY_NAME).exists():
            yield Check("keys", WARN, f"no {KEY_NAME}: this host cannot sign its decisions yet",
                        "start fte (or fte keys show): a local host makes its key on start")
            return
        key_path = settings.home / KEY_NAME
        mode = stat.S_IMODE(key_path.stat().st_mode)
        if mode & 0o077:  # whoever reads it signs approvals as this host
            yield Check("keys", FAIL, f"{key_path} is readable by others (mode {mode:o}): anyone who can read it "
                        "can sign approvals as this host", f"chmod 600 {key_path}")
            return
        key = load_host_key(settings.home, settings.agent)
        if keyring.entries.get(settings.agent, {}).get("key") != key.public:
            yield Check("keys", FAIL, f"this host's own key is not in its keyring as {settings.agent!r}",
                        f"fte keys trust {settings.agent} {key.public}")
            return
    if not trusted:
        yield Check("keys", WARN, "the keyring is empty: no signed decision is believed here",
                    "on each local host: fte keys show; here: fte keys trust AGENT KEY")
    else:
        yield Check("keys", OK, f"trusts {', '.join(trusted)}")


def _channels(settings: Settings, offline: bool) -> Iterator[Check]:
    from fte.io.channels.registry import build_drafter, build_executors, build_sources

    names = [type(s).__name__ for s in build_sources(settings)]
    if settings.drafts or names:
        names.append(type(build_drafter(settings)).__name__)
    executors = list({id(e): e for e in build_executors(settings).values()}.values()) if settings.executes else []
    names += sorted({type(e).__name__ for e in executors})
    yield Check("channels", OK, ", ".join(names) or "none")
    for executor in executors:  # an executor that can reach its provider without sending anything
        probe = getattr(executor, "check", None)
        if probe is None:
            continue
        name = type(executor).__name__
        if offline:
            yield Check("providers", WARN, f"{name}: not reached (--offline)")
            continue
        try:
            yield Check("providers", OK, f"{name}: {probe()}")
        except FteError as exc:
            yield Check("providers", FAIL, f"{name}: {exc}",
                        "check the server's host, port and security, and the login in fte.toml and .env")


def _notify(settings: Settings, _offline: bool) -> Iterator[Check]:
    from fte.reports.notify import Notifier
    from fte.settings.tables import NotifySettings

    urls = settings.table(NotifySettings).urls
    if not urls:
        yield Check("notify", OK, "no notices ([notify] urls is empty)")
        return
    taken = Notifier(urls, env=load_env(settings.home)).check()  # a URL Apprise cannot parse: BadInput
    yield Check("notify", OK, f"Apprise takes {taken} URL{'s' if taken != 1 else ''} (nothing sent)")


def _odoo(settings: Settings, offline: bool) -> Iterator[Check]:
    from fte.odoo.config import configured, make_client

    if not configured(settings):
        yield Check("odoo", OK, "not configured ([odoo] url)")
        return
    client = make_client(settings)
    if offline:
        client.close()
        yield Check("odoo", WARN, f"{settings.table(OdooSettings).url}: login not checked (--offline)")
        return
    from fte.odoo.accounting import check

    try:
        info = check(client)
    finally:
        client.close()
    company = info["company"]
    yield Check("odoo", OK, f"Odoo {info['version']} over {info['transport']}, company {company['name']} "
                f"({company['currency']})")
