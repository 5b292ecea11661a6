"""Git sync of the vault (docs/sync.md): commit managed paths, fetch, merge, push — never force.

Everything here runs under the host's one git lock. The class knows git and notes, not the
database: what happened (conflicts resolved, locks cleared, interrupted git operations recovered,
notes redacted, the person's files kept) comes back as :class:`GitEvent` values for the caller
to put in the audit log.

**The person's working tree is never rebased, merged, stashed or reset.** The remote is
integrated at the object level: a three-way merge by task id (:mod:`fte.io.vault.treemerge`, no rename
detection) builds the merged tree in a private index and a merge commit from it; then the working
tree is brought to that commit path by path (:mod:`fte.io.vault.worktree`), writing only files that
still hold what fte last wrote or saw. A journal (``.git/fte-checkout``) makes that last step
redo-able after a crash, before anything looks at the working tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

import git
from git.exc import GitCommandError

from fte.crashpoints import crashpoint
from fte.errors import FteError, NoteError, Unreachable
from fte.io.vault import worktree
from fte.io.vault.gitlock import HostLock, clear_stale_index_lock
from fte.io.vault.secretguard import Finding, redact, scan
from fte.io.vault.treemerge import Entry, blob_sha, conflict_copy_path, plan_merge, side_copy_path
from fte.io.vault.notes import TASK_FOLDERS, has_conflict_markers, parse_note

BRANCH = "main"
REMOTE = "origin"
UPSTREAM = f"{REMOTE}/{BRANCH}"
QUARANTINE = "Quarantine"
SYNCED_SUFFIXES = (".md", ".yaml", ".yml", ".json", ".base", ".gitignore")
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
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "failed to lock", "cannot lock ref",
             "failed to update ref", "stale info", "[remote rejected]")
_ID8 = re.compile(r"-([0-9a-f]{8})\.md$")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ZERO = "0" * 40
JOURNAL = "fte-checkout"
MERGE_INDEX = "fte-merge-index"
#: commits already scanned by the secret guard (fte's own, and outgoing ones found clean)
SCANNED = "fte-scanned"
#: git files that say another git operation was left half-done in the repository.
_FOREIGN_STATE = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")


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


class GitSync:
    """The vault's git repository on this host."""

    def __init__(self, root: Path, agent: str, lock: HostLock, remote: str = "",
                 should_stop: Any = None) -> None:
        self.root = root
        self.agent = agent
        self.lock = lock
        self.remote = remote
        #: Asked between the steps of a sync and of a recovery: a SIGTERM ends them early.
        self.should_stop = should_stop or (lambda: False)
        #: Whether a version of a task note proves what it asserts (set by the host from its
        #: keyring): at a merge, only proven decisions take part in the race (fte.io.vault.treemerge).
        self.proves: Callable[[bytes, str], bool] | None = None
        self._removed: list[str] = []
        self.repo = git.Repo(root)
        # Never wait on a prompt or a dead host: a daemon has no one to type a password, and an
        # unreachable remote must fail fast so the tick goes on (and the backoff starts).
        self.repo.git.update_environment(
            GIT_EDITOR="true", GIT_TERMINAL_PROMPT="0", LC_ALL="C",
            GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15"))

    # -- set-up -----------------------------------------------------------------------------------

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

    @classmethod
    def init(cls, root: Path, agent: str, remote: str = "") -> git.Repo:
        """Create (or clone) the vault repository. With a remote that already has a vault: clone it."""
        if remote:
            try:
                git.cmd.Git().ls_remote(remote, env={"GIT_TERMINAL_PROMPT": "0"})
            except GitCommandError as exc:
                raise Unreachable(f"git remote {remote} is not reachable: {_first_line(exc)}") from exc
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

    # -- recovery -----------------------------------------------------------------------------------

    def recover(self) -> list[GitEvent]:
        """Before any new work, each step bounded and reported: clear a stale index.lock; finish a
        working-tree update a crash interrupted; forget a git operation someone left half-done
        (a rebase, merge, cherry-pick) without touching what the person has in the tree."""
        events: list[GitEvent] = []
        with self.lock.hold():
            if clear_stale_index_lock(self.root):
                events.append(GitEvent("stale-index-lock", ".git/index.lock"))
            events += self._finish_journal()
            events += self._forget_foreign_operation()
        return events

    def _finish_journal(self) -> list[GitEvent]:
        journal = self.root / ".git" / JOURNAL
        try:
            old, new = journal.read_text().split()
        except (FileNotFoundError, ValueError):
            journal.unlink(missing_ok=True)
            return []
        head = self._head()
        if head not in (old if old != ZERO else None, new):
            journal.unlink()  # the branch moved on some other way; nothing to finish
            return [GitEvent("recovered-checkout", None, detail={"skipped": True, "head": head})]
        events = self._checkout(old if old != ZERO else None, new, journal_written=True)
        return [GitEvent("recovered-checkout", None, detail={"from": old[:12], "to": new[:12]}), *events]

    def _forget_foreign_operation(self) -> list[GitEvent]:
        """A rebase, merge or cherry-pick left half-done (by an older fte, or a person's git).

        Its state files are removed (never ``--abort``, which resets the working tree); an
        autostash it held is kept in the stash list; the branch is checked out again by name; and
        every path where the index or the tree differ from ``HEAD`` is brought back to ``HEAD``
        path by path — only where the file holds what git itself wrote there (a blob of one of the
        commits involved, or conflict markers). The person's own bytes stay, to be read as the
        person's changes.
        """
        gitdir = self.root / ".git"
        events: list[GitEvent] = []
        involved: set[str] = set()
        for name in ("rebase-merge", "rebase-apply"):
            folder = gitdir / name
            if not folder.is_dir():
                continue
            detail: dict[str, Any] = {"state": name}
            for item in ("onto", "orig-head", "stopped-sha"):
                sha = _read_sha(folder / item)
                if sha:
                    involved.add(sha)
            autostash = _read_sha(folder / "autostash")
            if autostash:
                try:
                    self.repo.git.stash("store", "-m", "fte: autostash left by an interrupted rebase", autostash)
                    detail["autostash"] = "kept in `git stash list`"
                except GitCommandError as exc:
                    detail["autostash_error"] = _first_line(exc)
            head_name = (folder / "head-name").read_text().strip() if (folder / "head-name").exists() else ""
            shutil.rmtree(folder)
            if head_name.startswith("refs/heads/"):
                self.repo.git.symbolic_ref("HEAD", head_name)
            events.append(GitEvent("recovered-rebase", None, detail=detail))
        for name in _FOREIGN_STATE:
            path = gitdir / name
            if path.exists():
                sha = _read_sha(path)
                if sha:
                    involved.add(sha)
                for extra in (name, "MERGE_MSG", "MERGE_MODE", "MERGE_RR", "AUTO_MERGE", "SQUASH_MSG"):
                    (gitdir / extra).unlink(missing_ok=True)
                events.append(GitEvent(f"recovered-{name.split('_')[0].lower().replace('cherry', 'cherry-pick')}", None))
        if self._rev("HEAD") is None and not events:
            return events
        if self.repo.head.is_detached and BRANCH in [h.name for h in self.repo.heads] and events:
            self.repo.git.symbolic_ref("HEAD", f"refs/heads/{BRANCH}")
        unmerged = self._unmerged_entries()
        if events or unmerged:
            events += self._restore_to_head(involved, unmerged)
        return events

    def _unmerged_entries(self) -> dict[str, dict[int, str]]:
        """Unmerged index entries: path → {stage: blob} (reads the index only)."""
        found: dict[str, dict[int, str]] = {}
        for entry in self.repo.git.ls_files("-u", "-z").split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            _mode, sha, stage = meta.split()
            found.setdefault(path, {})[int(stage)] = sha
        return found

    def _restore_to_head(self, involved: set[str], unmerged: dict[str, dict[int, str]]) -> list[GitEvent]:
        head = self._head()
        staged = self._diff_raw(["diff-index", "--cached", head or EMPTY_TREE]) if head else {}
        paths = sorted(set(staged) | set(unmerged))
        events: list[GitEvent] = []
        index_lines: list[str] = []
        copies: list[str] = []
        for path in paths:
            if self.should_stop():
                break
            at_head = self._entry_at(head, path) if head else None
            expected: set[str | None] = {None if at_head is None else at_head.sha}
            expected |= {e.sha for e in (staged.get(path),) if e is not None}
            expected |= set(unmerged.get(path, {}).values())
            expected |= {e.sha for c in involved if (e := self._entry_at(c, path)) is not None}
            current = self._worktree_bytes(path)
            if current is not None and has_conflict_markers(current.decode("utf-8", "replace")):
                expected.add(blob_sha(current))  # git wrote the markers, not the person
                theirs = unmerged.get(path, {}).get(3)
                if theirs and (at_head is None or theirs != at_head.sha):
                    copy = self._conflict_copy_path(path, theirs)
                    self._write_blob_file(copy, self._blob(theirs))
                    copies.append(copy)
            data = None if at_head is None else self._blob(at_head.sha)
            result = worktree.apply(self.root, worktree.Update(path, data, frozenset(expected)))
            if result in (worktree.KEPT, worktree.REFUSED):
                events.append(GitEvent("kept-person-change", path, None, {"during": "recovery", "result": result}))
            index_lines.append(f"0 {ZERO}\t{path}")
            if at_head is not None:
                index_lines.append(f"{at_head.mode} {at_head.sha}\t{path}")
        if index_lines:
            self._index_info(index_lines)
        if copies:
            events.append(GitEvent("conflict", None, None, {"kept": "committed", "copy": copies}))
        return events

    def _conflict_copy_path(self, path: str, sha: str) -> str:
        if self._is_task_note(path):
            return conflict_copy_path(path, self.agent, sha)
        return side_copy_path(path, self.agent, sha)

    def _write_blob_file(self, rel: str, data: bytes) -> None:
        worktree.apply(self.root, worktree.Update(rel, data, frozenset({None})))

    def _worktree_bytes(self, rel: str) -> bytes | None:
        try:
            fd = os.open(self.root / rel, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError, OSError):
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    # -- commit -------------------------------------------------------------------------------------

    def commit(self, paths: Iterable[str], message: str) -> CommitResult:
        """Commit exactly ``paths`` (added, changed or removed), after the secret guard.

        A file whose staged bytes hold a credential is committed **redacted** (each secret replaced
        by ``[redacted: <kind>]``; the working-tree file too, if it still holds what was scanned),
        and the original is kept in the ignored ``Quarantine/`` folder. Other staged or changed
        files are left alone.
        """
        wanted = sorted({p for p in paths if p})
        result = CommitResult(sha=None)
        if not wanted:
            return result
        with self.lock.hold():
            result.events += self.recover()
            self._stage(wanted)
            # One look at the index: every staged change with its blob (what the guard scans).
            changes = self._staged_raw()
            wanted_set = set(wanted)
            staged = [p for p in changes if p in wanted_set]
            for path in staged:
                blob = changes[path]
                if blob is None:
                    continue  # a deletion
                data = self._blob(blob)
                clean, findings = redact(data)
                if findings:
                    result.redacted.append(self._redact(path, data, clean, findings))
            if result.redacted:
                changes = self._staged_raw()
            if not staged:
                return result
            crashpoint("before-git-commit")
            everything_staged = list(changes)
            head = self._head()
            if set(filter(None, everything_staged)) == set(staged) and head is not None:
                # Only our paths are staged: commit the index with plumbing (write-tree, commit-tree,
                # update-ref) — `git commit` would first lstat every file of a 100,000-note vault.
                tree = self.repo.git.write_tree().strip()
                sha = self.repo.git.commit_tree(tree, "-p", head, "-m", message).strip()
                self.repo.git.update_ref("-m", f"commit: {message.splitlines()[0]}", "HEAD", sha, head)
            else:
                self._with_pathspec(staged, "commit", "-q", "--no-verify", "-m", message)
            crashpoint("after-git-commit")
            result.sha = self._head()
            result.paths = staged
            if set(filter(None, everything_staged)) == set(staged):
                self.remember_scanned([result.sha or ""])  # every file in it went through the guard
        return result

    def _stage(self, paths: list[str]) -> None:
        """Stage exactly these paths — added, changed or removed — with ``update-index`` (no pathspec
        matching against the whole index). Only the kinds of file the vault syncs are taken: what
        ``.gitignore`` admits (``update-index`` itself does not read it)."""
        admitted = [p for p in paths if p.endswith(SYNCED_SUFFIXES) and not p.startswith(f"{QUARANTINE}/")]
        if not admitted:
            return
        spec = self.root / ".git" / "fte-update-index"
        spec.write_bytes(b"\0".join(p.encode("utf-8") for p in admitted))
        try:
            with open(spec, "rb") as fh:
                self.repo.git.update_index("--add", "--remove", "-z", "--stdin", istream=fh)
        finally:
            spec.unlink(missing_ok=True)

    def _with_pathspec(self, paths: list[str], command: str, *args: str) -> None:
        """Run ``git <command>`` on many paths without hitting the command-line length limit."""
        spec = self.root / ".git" / "fte-pathspec"
        spec.write_bytes(b"\0".join(p.encode("utf-8") for p in paths))
        try:
            getattr(self.repo.git, command)(*args, f"--pathspec-from-file={spec}", "--pathspec-file-nul")
        finally:
            spec.unlink(missing_ok=True)

    def _staged_raw(self) -> dict[str, str | None]:
        """Every staged change (index vs HEAD): path → the staged blob's sha (None for a deletion)."""
        args = ["--cached", "--raw", "-z", "--no-renames", "--no-abbrev"]
        if self._head() is None:
            args.append(self.repo.git.hash_object("-t", "tree", os.devnull))
        out = self.repo.git.diff(*args)
        fields = out.split("\0")
        staged: dict[str, str | None] = {}
        for meta, path in zip(fields[0::2], fields[1::2]):
            if not meta.startswith(":"):
                continue
            _old_mode, _new_mode, _old, new, status = meta[1:].split()
            staged[path] = None if status.startswith("D") else new
        return staged

    def _blob(self, sha: str) -> bytes:
        return bytes(self.repo.odb.stream(bytes.fromhex(sha)).read())

    def _redact(self, path: str, original: bytes, clean: bytes, findings: list[Finding]) -> GitEvent:
        """Stage ``clean`` for ``path``, keep ``original`` in ``Quarantine/`` (ignored, mode 0600), and
        bring the working-tree file along if it still holds ``original`` (else it is the person's
        newer text, scanned at the next commit)."""
        sha = self._git_input(["hash-object", "-w", "--stdin"], clean).decode().strip()
        mode = (self._staged_mode(path) or "100644")
        self._index_info([f"{mode} {sha}\t{path}"])
        kept = f"{QUARANTINE}/{path.replace('/', '__')}.{blob_sha(original)[:10]}"
        # Through the checked writer: a Quarantine that someone made a symlink is never followed.
        stored = worktree.apply(self.root, worktree.Update(kept, original, frozenset({None, blob_sha(original)})))
        if stored in (worktree.WRITTEN, worktree.UNCHANGED):
            fd = os.open(self.root / kept, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        worktree.apply(self.root, worktree.Update(path, clean, frozenset({blob_sha(original)})))
        task_id = None
        try:
            task_id = parse_note(clean, path).id
        except NoteError:
            pass
        kinds = sorted({f.kind for f in findings})
        return GitEvent("redacted", path, task_id, {
            "kinds": kinds, "original": kept if stored in (worktree.WRITTEN, worktree.UNCHANGED) else
            "not kept: Quarantine/ is not a plain folder (the database still holds it)"})

    def _staged_mode(self, path: str) -> str | None:
        out = self.repo.git.ls_files("-s", "-z", "--", path)
        return out.split(" ", 1)[0] if out else None

    # -- the guard on what leaves -------------------------------------------------------------------

    def outgoing_secrets(self) -> list[GitEvent]:
        """Every commit that would leave with the next push (``origin/main..HEAD``) whose new files
        hold a credential — the person's own commits too (an Obsidian git plugin commits in the
        vault directly). Commits found clean are remembered (``.git/fte-scanned``), so each is read
        once. A merge is judged only on what it adds beyond both parents."""
        head = self._head()
        if head is None:
            return []
        upstream = self._rev(UPSTREAM)
        span = [head] + (["--not", upstream] if upstream else [])
        commits = self._git_input(["rev-list", "--parents", *span], b"").decode().split("\n")
        known = self._scanned()
        held: list[GitEvent] = []
        clean: list[str] = []
        for line in filter(None, commits):
            sha, *parents = line.split()
            if sha in known:
                continue
            found = self._secrets_added(sha, parents)
            if found:
                held.extend(found)
            else:
                clean.append(sha)
        self.remember_scanned(clean)
        return held

    def _secrets_added(self, sha: str, parents: list[str]) -> list[GitEvent]:
        added: dict[str, str] | None = None
        for parent in parents or [EMPTY_TREE]:
            diff = {p: e.sha for p, e in self._diff_raw(["diff-tree", parent, sha]).items() if e is not None}
            added = diff if added is None else {p: b for p, b in added.items() if diff.get(p) == b}
        found = []
        for path, blob in sorted((added or {}).items()):
            data = self.read_blob(blob, 2_000_000)
            if b"\0" in data[:8000]:
                continue  # not text
            kinds = sorted({f.kind for f in scan(data)})
            if kinds:
                author = self._git_input(["log", "-1", "--format=%an <%ae>", sha], b"").decode().strip()
                found.append(GitEvent("push-held", path, None, {"commit": sha, "author": author, "kinds": kinds}))
        return found

    def _scanned(self) -> set[str]:
        try:
            return set((self.root / ".git" / SCANNED).read_text().split())
        except FileNotFoundError:
            return set()

    def remember_scanned(self, shas: Iterable[str]) -> None:
        """Commits whose files are known clean (fte's own commits went through the guard)."""
        shas = [s for s in shas if s]
        if shas:
            with open(self.root / ".git" / SCANNED, "a", encoding="ascii") as fh:
                fh.write("".join(f"{s}\n" for s in shas))

    # -- sync ---------------------------------------------------------------------------------------

    def sync(self, attempts: int = 5) -> SyncResult:
        """Fetch, merge the remote in (outside the working tree), bring the tree along, push.

        Never force-pushes. A rejected push (someone pushed first) is fetched, merged and pushed
        again, at most ``attempts`` times. With no remote, committed is synced. An unreachable
        remote gives a result with ``error`` set and ``pushed`` false; commits stay local.
        """
        with self.lock.hold():
            events = self.recover()
            if not self.remote:
                return SyncResult(pushed=True, head=self._head(), upstream=None, events=events)
            self._removed = []
            error = None
            pushed = False
            held: list[GitEvent] = []
            for attempt in range(attempts):
                if self.should_stop():
                    error = "stopped before the sync finished"
                    break
                try:
                    self._fetch()
                except Unreachable as exc:
                    error = str(exc)
                    break
                crashpoint("sync-fetched")
                events += self._integrate()
                if self._head() is None or self._head() == self._rev(UPSTREAM):
                    pushed = True
                    break
                held = self.outgoing_secrets()
                if held:
                    first = held[0]
                    error = (f"push held: commit {first.detail['commit'][:8]} by {first.detail['author']} adds "
                             f"{', '.join(first.detail['kinds'])} in {first.path}; remove it from that commit "
                             "(docs/sync.md, \"The secret guard\"); the commits stay here until then")
                    break
                try:
                    self._push()
                    self._fetch()  # so origin/main is what we just pushed
                    pushed = True
                    (self.root / ".git" / SCANNED).unlink(missing_ok=True)  # all of it is on the remote now
                    crashpoint("sync-pushed")
                    break
                except _PushRejected as exc:
                    error = str(exc)
                    continue
                except Unreachable as exc:
                    error = str(exc)
                    break
            ahead, behind = self.ahead_behind()
            return SyncResult(pushed=pushed, head=self._head(), upstream=self._rev(UPSTREAM),
                              error=None if pushed else error, ahead=ahead, behind=behind, events=events,
                              removed=self._removed, held=[] if pushed else held)

    def _fetch(self) -> None:
        try:
            self.repo.git.fetch("-q", REMOTE)
        except GitCommandError as exc:
            raise Unreachable(f"git fetch from {self.remote} failed: {_first_line(exc)}") from exc

    def _push(self) -> None:
        try:
            self.repo.git.push("-q", "--porcelain", REMOTE, f"HEAD:refs/heads/{BRANCH}")
        except GitCommandError as exc:
            text = f"{exc.stdout or ''} {exc.stderr or ''}"
            if any(marker in text for marker in _REJECTED):
                raise _PushRejected(f"push rejected: {_first_line(exc)}") from exc
            raise Unreachable(f"git push to {self.remote} failed: {_first_line(exc)}") from exc

    def _integrate(self) -> list[GitEvent]:
        """Bring origin/main in: a fast-forward, or a merge commit built outside the working tree;
        then the working tree follows, path by path."""
        upstream, head = self._rev(UPSTREAM), self._head()
        if upstream is None or upstream == head:
            return []
        if head is not None and self._is_ancestor(upstream, head):
            return []  # nothing new on the remote: our commits only wait to be pushed
        events: list[GitEvent] = []
        if head is None or self._is_ancestor(head, upstream):
            target = upstream
        else:
            target, events = self._merge(head, upstream)
        crashpoint("sync-merged")
        events += self._checkout(head, target)
        return events

    def _merge(self, head: str, upstream: str) -> tuple[str, list[GitEvent]]:
        """A merge commit of ``head`` and ``upstream`` (see :mod:`fte.io.vault.treemerge`), built in a
        private index: the person's index and working tree are not touched."""
        base = self._merge_base_of(head, upstream)
        ours = self._diff_raw(["diff-tree", base or EMPTY_TREE, head])
        # Every version the remote held since the base, not only its tip: a decision that reached
        # the remote first still wins when someone pushed an unproven note over it.
        history = [(c.path, Entry(c.mode or "100644", c.blob)) for c in self.history(base, upstream, sorted(TASK_FOLDERS))
                   if c.blob is not None] if any(self._is_task_note(p) for p in ours) else []
        plan = plan_merge(ours, self._diff_raw(["diff-tree", base or EMPTY_TREE, upstream]),
                          self._blob, self.agent, owns=self._owns, history=history, proves=self.proves)
        for data in plan.new_blobs.values():
            self._git_input(["hash-object", "-w", "--stdin"], data)
        env = {"GIT_INDEX_FILE": str(self.root / ".git" / MERGE_INDEX)}
        (self.root / ".git" / MERGE_INDEX).unlink(missing_ok=True)
        try:
            self._git_input(["read-tree", head], b"", env=env)
            lines = [f"0 {ZERO}\t{p}" if e is None else f"{e.mode} {e.sha}\t{p}" for p, e in sorted(plan.updates.items())]
            if lines:
                self._git_input(["update-index", "-z", "--index-info"], "\0".join(lines).encode() + b"\0", env=env)
            tree = self._git_input(["write-tree"], b"", env=env).decode().strip()
        finally:
            (self.root / ".git" / MERGE_INDEX).unlink(missing_ok=True)
        message = f"fte {self.agent}: merge {UPSTREAM}"
        if plan.resolutions:
            message += f" ({len(plan.resolutions)} conflict(s) resolved)"
        sha = self._git_input(["commit-tree", tree, "-p", head, "-p", upstream, "-m", message], b"").decode().strip()
        events = [GitEvent(r.kind if r.kind == "conflict" else "conflict", r.path, r.task_id, r.detail)
                  for r in plan.resolutions]
        return sha, events

    def _owns(self, path: str) -> bool:
        """Files only this host writes: its own logs, and the Dashboard (re-rendered every tick)."""
        return path == "Dashboard.md" or path.startswith(f"Logs/{self.agent}/")

    def _checkout(self, old: str | None, new: str, journal_written: bool = False) -> list[GitEvent]:
        """Move ``HEAD`` from ``old`` to ``new`` and bring the working tree along, path by path.

        A file is written (or removed) only if it still holds ``old``'s bytes — what fte last
        wrote or saw there; otherwise it is the person's and stays (reported, and read as the
        person's change at the next look, relative to ``new``). The index gets ``new``'s entries
        either way. A journal makes the whole step redo-able after a crash.
        """
        journal = self.root / ".git" / JOURNAL
        if not journal_written:
            _write_durably(journal, f"{old or ZERO} {new}\n".encode())
        changes = self._diff_raw(["diff-tree", old or EMPTY_TREE, new], with_old=True)
        events: list[GitEvent] = []
        index_lines: list[str] = []
        for path, (before, after) in changes.items():
            crashpoint("sync-checkout-path")
            index_lines.append(f"0 {ZERO}\t{path}" if after is None else f"{after.mode} {after.sha}\t{path}")
            if after is not None and after.mode not in ("100644", "100755"):
                events.append(GitEvent("refused-file", path, None, {"mode": after.mode,
                                                                    "reason": "not a regular file; never written"}))
                continue
            if after is None and before is not None:
                self._removed.append(path)
            data = None if after is None else self._blob(after.sha)
            expected = frozenset({None if before is None else before.sha})
            result = worktree.apply(self.root, worktree.Update(path, data, expected))
            if result == worktree.KEPT:
                events.append(GitEvent("kept-person-change", path, None, {"during": "sync"}))
            elif result == worktree.REFUSED:
                events.append(GitEvent("refused-file", path, None, {"reason": "the path goes through a symlink"
                                                                               " or a non-folder"}))
        if index_lines:
            self._index_info(index_lines)
        if self._head() != new:  # a redo after a crash may find HEAD already moved
            self.repo.git.update_ref("-m", f"fte {self.agent}: sync to {new[:12]}", "HEAD", new, old or ZERO)
        crashpoint("sync-checked-out")
        journal.unlink(missing_ok=True)
        return events

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
        try:
            return self.repo.git.rev_parse("--verify", "-q", f"{ref}^{{commit}}").strip() or None
        except GitCommandError:
            return None

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
        no merge lies between them, and every commit between is this host's (``fte <agent>``)."""
        if base == head:
            return True
        if not self._is_ancestor(base, head):
            return False
        if self._git_input(["rev-list", "--merges", "-n", "1", f"{base}..{head}"], b"").strip():
            return False
        # A fast-forward to another host's commits is linear too: every commit must be fte's own on
        # this host. A commit the person made in the vault (an Obsidian git plugin) carries the
        # repository's identity but not fte's message: it is read like any other change.
        subjects = self._git_input(["log", "--format=%an%x00%s", f"{base}..{head}"], b"").decode().split("\n")
        mine = f"fte {self.agent}"
        return all(line.split("\0", 1) [0] == mine and line.split("\0", 1)[1].startswith(f"{mine}:")
                   for line in subjects if line)

    def head(self) -> str | None:
        return self._head()

    def upstream(self) -> str | None:
        return self._rev(UPSTREAM)

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
        size = int(self.repo.git.cat_file("-s", sha))
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


class _PushRejected(FteError):
    pass


def _first_line(exc: GitCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    for line in text.splitlines():
        line = line.strip().removeprefix("stderr:").strip().strip("'").strip()
        if line and not line.startswith("hint:"):
            return line
    return text[:200]


def _read_sha(path: Path) -> str | None:
    """A commit id written in one of git's state files, or None."""
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if re.fullmatch(r"[0-9a-f]{40}", text) else None


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
