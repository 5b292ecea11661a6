"""The vault's git repository, as plumbing: set-up, reads (trees, blobs, diffs, history, the
person's uncommitted changes) and the low-level writes the sync builds on (docs/sync.md).

Nothing here decides anything: what to commit, how to integrate the remote and what to do with a
conflict is :mod:`fte.io.vault.gitsync` (the policy) and :mod:`fte.io.vault.treemerge` (the merge).
Every method expects the host's git lock to be held by its caller where it writes.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import git
from git.exc import GitCommandError

from fte.errors import FteError, NoteError, Unreachable
from fte.io.vault.gitlock import HostLock
from fte.io.vault.notes import TASK_FOLDERS
from fte.io.vault.treemerge import Entry

BRANCH = "main"
#: Never wait on a prompt or a dead host: a daemon has no one to type a password.
SSH_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=15"
REMOTE = "origin"
UPSTREAM = f"{REMOTE}/{BRANCH}"
GITIGNORE = """# fte: only notes and small data files are synced (docs/sync.md)
*
!*/
!*.md
!*.yaml
!*.yml
!*.json
!*.base
!.gitignore
.obsidian/workspace*
Quarantine/
.fte-tmp-*
.fte-aside-*
.trash/
"""
_ID8 = re.compile(r"-([0-9a-f]{8})\.md$")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_SHA = re.compile(r"[0-9a-f]{40}")
ZERO = "0" * 40


@dataclass(frozen=True)
class GitEvent:
    """Something the audit log must hear about."""

    kind: str  # conflict, duplicate, stale-index-lock, recovered-rebase, recovered-merge, redacted, push-held
    path: str | None = None
    task_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyncResult:
    """What a sync did. ``pushed``: the remote holds our HEAD (always true with no remote)."""

    pushed: bool
    head: str | None
    upstream: str | None
    error: str | None = None
    ahead: int = 0
    behind: int = 0
    events: list[GitEvent] = field(default_factory=list)
    #: paths the sync removed from the working tree (the remote removed or moved them)
    removed: list[str] = field(default_factory=list)
    #: outgoing commits that hold a secret: the push is held until the person removes it
    held: list[GitEvent] = field(default_factory=list)


@dataclass
class CommitResult:
    sha: str | None
    paths: list[str] = field(default_factory=list)
    #: files whose secrets were redacted before the commit (the originals kept in Quarantine/)
    redacted: list[GitEvent] = field(default_factory=list)
    events: list[GitEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """A path changed between two commits: ``status`` A, M, D or R (``old`` set for R)."""

    status: str
    path: str
    old: str | None = None
    #: the blob at ``path`` after the change (pulled changes), to read what the remote holds
    blob: str | None = None
    #: the file mode of ``blob`` (``100644``; ``120000`` is a symlink), where known
    mode: str | None = None


def local_git_dir(remote: str, base: Path) -> Path | None:
    """The git directory of a remote on this machine (a path, relative to ``base`` as git takes
    it, or a ``file://`` URL), else None."""
    if remote.startswith("file://"):
        path = Path(remote[len("file://"):])
    elif "://" in remote or re.match(r"^[^/]+:", remote):  # a URL, or scp-like user@host:path
        return None
    else:
        path = base / Path(os.path.expanduser(remote))
    return path / ".git" if (path / ".git").is_dir() else path


def read_ref(git_dir: Path, ref: str) -> str | None:
    """``HEAD`` or a branch ref of the repository at ``git_dir``, read as git stores it (a loose
    file, else ``packed-refs``; git writes each whole and renames it into place, and packs before it
    deletes a loose one), without starting a process. None whenever anything is not plain — a
    missing ref, a reftable store, an odd file — and then the caller asks git."""
    if not git_dir.is_dir() or (git_dir / "reftable").exists():
        return None
    name = ref
    if not (name == "HEAD" or name.startswith(("refs/heads/", "refs/remotes/"))):
        return None
    for _ in range(3):  # HEAD → refs/heads/main (a symbolic ref, one level in practice)
        try:
            text = (git_dir / name).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            text = _packed(git_dir, name) or ""
        except (OSError, UnicodeDecodeError):
            return None
        if text.startswith("ref: "):
            name = text[5:].strip()
            continue
        return text if _SHA.fullmatch(text) else None
    return None


def _packed(git_dir: Path, name: str) -> str | None:
    try:
        lines = (git_dir / "packed-refs").read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        if line.endswith(" " + name) and not line.startswith(("#", "^")):
            return line.split(" ", 1)[0]
    return None


class GitRepo:
    """The vault's git repository on this host: set-up, reads, and plumbing."""

    def __init__(self, root: Path, agent: str, lock: HostLock, remote: str = "") -> None:
        self.root = root
        self.agent = agent
        self.lock = lock
        self.remote = remote
        self.repo = git.Repo(root)
        # Never wait on a prompt or a dead host: a daemon has no one to type a password, and an
        # unreachable remote must fail fast so the tick goes on (and the backoff starts).
        self.repo.git.update_environment(
            GIT_EDITOR="true", GIT_TERMINAL_PROMPT="0", LC_ALL="C",
            GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", SSH_COMMAND))

    # -- set-up -----------------------------------------------------------------------------------

    def forget_origin(self) -> None:
        """The vault syncs with no remote: its ``origin`` is removed (if it has one)."""
        if REMOTE in [r.name for r in self.repo.remotes]:
            with self.lock.hold():
                self.repo.git.remote("remove", REMOTE)
        self.remote = ""

    def ensure_origin(self, url: str) -> bool:
        """The vault's ``origin`` is ``url`` (the ``remote`` setting, which a person may change after
        ``fte init``); True when it had to change. An empty ``url`` leaves the repository alone."""
        if not url:
            return False
        current = {r.name: r for r in self.repo.remotes}.get(REMOTE)
        if current is not None and current.url == url:
            return False
        with self.lock.hold():
            if current is None:
                self.repo.create_remote(REMOTE, url)
            else:
                self.repo.git.remote("set-url", REMOTE, url)
        self.remote = url
        return True

    @staticmethod
    def configure(repo: git.Repo, agent: str) -> None:
        """Settings every fte vault repository has: identity, fsync, no hooks, rename detection.

        Written only when one differs: every process that opens the home calls this, and a write
        takes ``.git/config.lock`` (concurrent ``fte mcp`` calls would collide on it)."""
        wanted = {
            ("user", "name"): f"fte {agent}",
            ("user", "email"): f"{agent}@fte.invalid",
            # A crash must not leave empty or torn objects (git >= 2.36).
            ("core", "fsync"): "committed,index",
            ("core", "fsyncMethod"): "fsync",
            ("core", "hooksPath"): "/dev/null",
            ("core", "quotePath"): "false",
            # A task's identity is its id, not its path: no rename guessing when a person runs git
            # by hand either (fte's own merges never use git's merge machinery).
            ("merge", "renames"): "false",
            ("merge", "directoryRenames"): "false",
            ("diff", "renames"): "true",
            # A host that pulls by hand must not rebase or stash under a running daemon.
            ("pull", "rebase"): "false",
            ("pull", "ff"): "only",
            ("rebase", "autoStash"): "false",
            # A vault of 100,000 notes: index v4 and the untracked cache (manyFiles), and a split
            # index so a commit rewrites a small delta, not the whole index.
            ("feature", "manyFiles"): "true",
            ("core", "splitIndex"): "true",
        }
        reader = repo.config_reader("repository")
        if all(str(reader.get_value(s, k, default="")).lower() == v.lower() for (s, k), v in wanted.items()):
            return
        with repo.config_writer() as cw:
            for (section, key), value in wanted.items():
                cw.set_value(section, key, value)

    @staticmethod
    def check_reachable(remote: str, timeout: float = 30.0) -> None:
        """Unreachable unless ``git ls-remote`` answers for ``remote`` within ``timeout`` seconds."""
        try:
            listed = subprocess.run(["git", "ls-remote", "--", remote], capture_output=True, timeout=timeout,
                                    env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unreachable(f"git remote {remote} is not reachable: {exc}") from exc
        if listed.returncode != 0:
            why = listed.stderr.decode(errors="replace").strip().splitlines()
            raise Unreachable(f"git remote {remote} is not reachable: {why[0][:200] if why else 'no answer'}")

    @classmethod
    def init(cls, root: Path, agent: str, remote: str = "") -> git.Repo:
        """Create (or clone) the vault repository. With a remote that already has a vault: clone it."""
        if remote:
            cls.check_reachable(remote)
            has_branch = bool(str(git.cmd.Git().ls_remote("--heads", remote, BRANCH)).strip())
            if has_branch and not (root / ".git").exists():
                if root.exists() and any(root.iterdir()):
                    raise FteError(f"{root} is not empty; cannot clone {remote} into it")
                repo = git.Repo.clone_from(remote, root, branch=BRANCH)
                cls.configure(repo, agent)
                return repo
        repo = git.Repo(root) if (root / ".git").exists() else git.Repo.init(root, initial_branch=BRANCH)
        cls.configure(repo, agent)
        if remote and REMOTE not in [r.name for r in repo.remotes]:
            repo.create_remote(REMOTE, remote)
        return repo

    def ensure_gitignore(self) -> None:
        path = self.root / ".gitignore"
        if not path.exists() or path.read_text(encoding="utf-8") != GITIGNORE:
            path.write_text(GITIGNORE, encoding="utf-8")

    def _blob(self, sha: str) -> bytes:
        return bytes(self.repo.odb.stream(bytes.fromhex(sha)).read())

    def _index_info(self, lines: list[str]) -> None:
        self._git_input(["update-index", "-z", "--index-info"], "\0".join(lines).encode() + b"\0")

    def _diff_raw(self, command: list[str], with_old: bool = False) -> dict[str, Any]:
        """``git diff-tree``/``diff-index`` as ``path → Entry`` (None for a removal), or with
        ``with_old`` as ``path → (old Entry | None, new Entry | None)``. No rename detection."""
        out = self._git_input([*command[:1], "-r", "-z", "--raw", "--no-renames", "--no-abbrev", *command[1:]], b"")
        fields = out.split(b"\0")
        found: dict[str, Any] = {}
        for meta, raw_path in zip(fields[0::2], fields[1::2]):
            if not meta.startswith(b":"):
                continue
            old_mode, new_mode, old_sha, new_sha, status = meta[1:].decode().split()
            path = raw_path.decode("utf-8", "surrogateescape")
            old = None if old_mode == "000000" else Entry(old_mode, old_sha)
            new = None if status.startswith("D") or new_mode == "000000" else Entry(new_mode, new_sha)
            found[path] = (old, new) if with_old else new
        return found

    def _entry_at(self, ref: str, path: str) -> Entry | None:
        try:
            out = self.repo.git.ls_tree("-z", ref, "--", path)
        except GitCommandError:
            return None
        entry = next((e for e in out.split("\0") if e), None)
        if entry is None:
            return None
        mode, _type, sha = entry.split("\t", 1)[0].split()
        return Entry(mode, sha)

    def _git_input(self, args: list[str], data: bytes, env: dict[str, str] | None = None) -> bytes:
        """A plumbing command with ``data`` on its stdin; its stdout. Errors as GitCommandError."""
        full_env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        proc = subprocess.run(["git", *args], cwd=self.root, input=data, capture_output=True, env=full_env)
        if proc.returncode != 0:
            raise GitCommandError(["git", *args], proc.returncode, proc.stderr, proc.stdout)
        return proc.stdout

    def _is_ancestor(self, a: str, b: str) -> bool:
        try:
            self.repo.git.merge_base("--is-ancestor", a, b)
            return True
        except GitCommandError:
            return False

    def _merge_base_of(self, a: str, b: str) -> str | None:
        try:
            return self.repo.git.merge_base(a, b).strip() or None
        except GitCommandError:
            return None

    @staticmethod
    def _is_task_note(path: str) -> bool:
        return path.endswith(".md") and PurePosixPath(path).parts[0] in TASK_FOLDERS

    # -- queries ------------------------------------------------------------------------------------

    def _head(self) -> str | None:
        return self._rev("HEAD")

    def _rev(self, ref: str) -> str | None:
        plain = self._read_ref(ref)
        if plain is not None:
            return plain
        try:
            return self.repo.git.rev_parse("--verify", "-q", f"{ref}^{{commit}}").strip() or None
        except GitCommandError:
            return None

    def _read_ref(self, ref: str) -> str | None:
        """``HEAD`` and the branch refs read from ``.git`` without starting a process (a tick asks a
        dozen times); None when git must be asked (:func:`read_ref`)."""
        return read_ref(self.root / ".git", {UPSTREAM: f"refs/remotes/{UPSTREAM}"}.get(ref, ref))

    def _tree_paths(self, ref: str) -> list[str]:
        try:
            out = self.repo.git.ls_tree("-r", "--name-only", "-z", ref)
        except GitCommandError:
            return []
        return [p for p in out.split("\0") if p]

    def tree_paths(self, ref: str, folder: str) -> list[str]:
        """Paths under ``folder`` in ``ref``."""
        try:
            out = self.repo.git.ls_tree("-r", "--name-only", "-z", ref, "--", folder)
        except GitCommandError:
            return []
        return [p for p in out.split("\0") if p]

    def only_ours_since(self, base: str, head: str) -> bool:
        """Whether ``head`` is ``base`` plus this host's own commits only: ``base`` is an ancestor,
        no merge lies between them, and every commit between is this host's (``fte <agent>``).

        One ``git log`` (it runs at every publish): walked from ``head``, each commit must have one
        parent, the next one listed, and the last one's parent must be ``base`` — a linear chain
        down to ``base`` is what proves it an ancestor."""
        if base == head:
            return True
        try:
            out = self._git_input(["log", "--topo-order", "--format=%H%x00%P%x00%an%x00%s", f"{base}..{head}", "--"],
                                  b"").decode("utf-8", "replace")
        except GitCommandError:
            return False  # a commit this repository does not have
        # A fast-forward to another host's commits is linear too: every commit must be fte's own on
        # this host. A commit the person made in the vault (an Obsidian git plugin) carries the
        # repository's identity but not fte's message: it is read like any other change.
        mine = f"fte {self.agent}"
        expected = head
        for line in filter(None, out.split("\n")):
            sha, parents, author, subject = (line.split("\0", 3) + ["", "", ""])[:4]
            if sha != expected or len(parents.split()) != 1 or author != mine or not subject.startswith(f"{mine}:"):
                return False
            expected = parents
        return expected == base

    def has_commit(self, sha: str) -> bool:
        """Whether this repository holds the commit ``sha``."""
        try:
            self._git_input(["cat-file", "-e", f"{sha}^{{commit}}"], b"")
            return True
        except GitCommandError:
            return False

    def contains(self, ancestor: str, commit: str) -> bool:
        """Whether ``commit`` holds ``ancestor`` in its history (or is it)."""
        return ancestor == commit or self._is_ancestor(ancestor, commit)

    def head(self) -> str | None:
        return self._head()

    def upstream(self) -> str | None:
        return self._rev(UPSTREAM)

    def remote_head(self, timeout: float = 15.0) -> tuple[str | None, str | None]:
        """``(the remote's head now, the head last fetched)``. A remote on this machine (a path, or
        ``file://``) has its ref read from its files, and ours likewise: no process at all (an idle
        daemon looked every 2 s with three). Any other remote: one ``git ls-remote`` (a round trip
        that fetches nothing) and one ``rev-parse``. No shared state: safe from another thread than
        the sync's. :class:`Unreachable` when the remote does not answer."""
        ref = f"refs/heads/{BRANCH}"
        where = local_git_dir(self.remote, self.root) if self.remote else None
        if where is not None:
            if not where.is_dir():
                raise Unreachable(f"the remote {self.remote} is not there")
            head, last = read_ref(where, ref), self._read_ref(UPSTREAM)
            if head and last:
                return head, last
        env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0",
               "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", SSH_COMMAND)}
        try:
            listed = subprocess.run(["git", "ls-remote", REMOTE, ref], cwd=self.root, capture_output=True,
                                    timeout=timeout, env=env)
            fetched = subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/remotes/{UPSTREAM}"],
                                     cwd=self.root, capture_output=True, timeout=timeout, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unreachable(f"git ls-remote: {exc}") from exc
        if listed.returncode != 0:
            raise Unreachable(f"git ls-remote: {listed.stderr.decode(errors='replace').strip()[:200]}")
        now = next((line.split("\t")[0] for line in listed.stdout.decode().splitlines()
                    if line.endswith("\t" + ref)), None)
        return now, (fetched.stdout.decode().strip() or None)

    def ahead_behind(self) -> tuple[int, int]:
        """Commits we have that the remote has not, and the other way round (as of the last fetch)."""
        if not self.remote or self._head() is None:
            return 0, 0
        if self._rev(UPSTREAM) is None:
            return int(self.repo.git.rev_list("--count", "HEAD")), 0
        out = self.repo.git.rev_list("--left-right", "--count", f"HEAD...{UPSTREAM}")
        ahead, behind = out.split()
        return int(ahead), int(behind)

    def changes(self, old: str | None, new: str | None) -> list[Change]:
        """Paths changed from ``old`` to ``new`` (the net change: what the merged tree says), each
        with the blob it holds in ``new``; from nothing when ``old`` is None. No rename detection:
        notes are matched by their id."""
        if new is None or old == new:
            return []
        diff = self._diff_raw(["diff-tree", old or EMPTY_TREE, new])
        return [Change("D", path) if entry is None else Change("M", path, blob=entry.sha)
                for path, entry in diff.items()]

    def tree_notes(self, commit: str | None, folders: list[str]) -> list[Change]:
        """Every file under ``folders`` in ``commit``, with its blob and mode (one ``ls-tree``)."""
        if commit is None:
            return []
        out = self._git_input(["ls-tree", "-r", "-z", "--full-tree", commit, "--", *folders], b"")
        found = []
        for line in out.decode("utf-8", "surrogateescape").split("\0"):
            meta, tab, path = line.partition("\t")
            fields = meta.split()
            if tab and len(fields) == 3 and fields[1] == "blob":
                found.append(Change("M", path, blob=fields[2], mode=fields[0]))
        return found

    def history(self, old: str | None, new: str | None, folders: list[str]) -> list[Change]:
        """Every version of the paths under ``folders`` from ``old`` to ``new``, **commit by commit**
        (oldest first) — not the net change, so a version a later commit replaced is still seen
        (an execution's outcome cannot be hidden by someone's push on top of it). Merge commits add
        no version of their own. ``--full-history``: git's default simplification would skip a
        merged side whose change the merge result does not keep — exactly the versions needed."""
        if new is None or old == new:
            return []
        span = new if old is None else f"{old}..{new}"
        out = self._git_input(["log", "--full-history", "--reverse", "--topo-order", "--raw", "--no-renames", "--no-abbrev", "-z",
                               "--format=%x01%H", span, "--", *folders], b"")
        found: list[Change] = []
        tokens = iter(out.split(b"\0"))
        for token in tokens:
            token = token.lstrip(b"\n")
            if not token.startswith(b":"):
                continue  # a commit line, or the end
            _om, _nm, _os, new_sha, status = token[1:].decode().split()
            path = next(tokens, b"").decode("utf-8", "surrogateescape")
            if not status.startswith("D"):
                found.append(Change("M", path, blob=new_sha, mode=_nm))
        return found

    def read_blob(self, sha: str, limit: int) -> bytes:
        """A blob's bytes; :class:`NoteError` when it is over ``limit`` (refused without reading it)."""
        # The size from the long-lived ``cat-file --batch-check`` process GitPython keeps (one
        # subprocess per blob cost ~3 ms each: seconds for a pull of 1,000 notes).
        try:
            size = self.repo.odb.info(bytes.fromhex(sha)).size
        except ValueError as exc:  # not a full sha, or git answered "missing"
            raise GitCommandError(["git", "cat-file", "-s", sha], 128, str(exc)) from exc
        if size > limit:
            raise NoteError(f"{size} bytes is over the {limit}-byte limit for a note")
        return self._blob(sha)

    def _paths_for_id8s(self, id8s: list[str]) -> dict[str, list[str]]:
        """Tracked task notes whose name ends in ``-<id8>.md``, by id8 — one listing of the index
        (faster than one glob pathspec per id on a vault of 100,000 notes)."""
        wanted = set(id8s)
        found: dict[str, list[str]] = {}
        for p in self.repo.git.ls_files("-z").split("\0"):
            if p.endswith(".md") and p[-11:-3] in wanted and p[-12:-11] == "-" and self._is_task_note(p):
                found.setdefault(p[-11:-3], []).append(p)
        return found

    def paths_of(self, task_ids: list[str], ref: str = "HEAD") -> dict[str, list[str]]:
        """For many tasks at once: id → paths whose note name carries its short id.

        For ``HEAD`` the index answers (it equals HEAD for tracked notes right after a commit or a
        rebase); another ref is listed in full.
        """
        by_id8 = {tid[:8]: tid for tid in task_ids}
        if ref == "HEAD":
            return {by_id8[k]: v for k, v in self._paths_for_id8s(sorted(by_id8)).items()}
        found: dict[str, list[str]] = {}
        for p in self._tree_paths(ref):
            m = _ID8.search(p)
            if m and m.group(1) in by_id8 and self._is_task_note(p):
                found.setdefault(by_id8[m.group(1)], []).append(p)
        return found

    def working_changes(self, folders: list[str] | None = None) -> list[Change]:
        """Uncommitted changes in the work tree (a person's moves and edits), renames detected;
        only under ``folders`` when given (a quick look at where people act)."""
        spec = ["--", *folders] if folders else []
        # Under the host lock: `git status` refreshes the index and takes .git/index.lock to write
        # it, which made another fte process's commit (`fte mcp` beside the daemon) fail.
        with self.lock.hold():
            out = self.repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", "--renames", *spec)
        fields = [f for f in out.split("\0") if f]
        changes: list[Change] = []
        i = 0
        while i < len(fields):
            entry = fields[i]
            xy, path = entry[:2], entry[3:]
            if "R" in xy:
                changes.append(Change("R", path, fields[i + 1]))
                i += 2
                continue
            status = "A" if xy == "??" or "A" in xy else "D" if "D" in xy else "M"
            changes.append(Change(status, path))
            i += 1
        return changes


def first_line(exc: GitCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    for line in text.splitlines():
        line = line.strip().removeprefix("stderr:").strip().strip("'").strip()
        if line and not line.startswith("hint:"):
            return line
    return text[:200]



