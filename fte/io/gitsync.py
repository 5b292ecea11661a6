"""Git sync of the vault (DESIGN §3): commit managed paths, fetch, rebase, push — never force.

Everything here runs under the host's one git lock. The class knows git and notes, not the
database: what happened (conflicts resolved, locks cleared, rebases recovered, notes quarantined)
comes back as :class:`GitEvent` values for the caller to put in the audit log.

Conflicts are resolved, never left for a person to find in git:

* a task note changed on both sides: the **later state wins** (:func:`fte.states.lifecycle.precedence`);
  on a tie the remote's version wins (it got there first — that is what makes claim-by-move a lock);
* the losing bytes are kept as a conflict copy in ``Logs/<agent>/conflicts/``;
* any other file: the remote's version stays at its path, ours is kept beside it as
  ``<name>.conflict-<agent>-<n>.<ext>``;
* after a rebase, two notes with the same ``id`` (a move git did not see as a rename) are resolved the
  same way.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

import git
from git.exc import GitCommandError

from fte.crashpoints import crashpoint
from fte.errors import FteError, NoteError, Unreachable
from fte.io.gitlock import HostLock, clear_stale_index_lock
from fte.io.secretguard import scan
from fte.io.vault import TASK_FOLDERS, parse_note
from fte.states.lifecycle import precedence

BRANCH = "main"
REMOTE = "origin"
UPSTREAM = f"{REMOTE}/{BRANCH}"
QUARANTINE = "Quarantine"
SYNCED_SUFFIXES = (".md", ".yaml", ".yml", ".json", ".gitignore")
GITIGNORE = """# fte: only notes and small data files are synced (DESIGN §3)
*
!*/
!*.md
!*.yaml
!*.yml
!*.json
!.gitignore
.obsidian/workspace*
Quarantine/
.fte-tmp-*
.trash/
"""
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "failed to lock", "cannot lock ref",
             "failed to update ref", "stale info", "[remote rejected]")
_ID8 = re.compile(r"-([0-9a-f]{8})\.md$")


@dataclass(frozen=True)
class GitEvent:
    """Something the audit log must hear about."""

    kind: str  # conflict, duplicate, stale-index-lock, recovered-rebase, recovered-merge, quarantine
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


@dataclass
class CommitResult:
    sha: str | None
    paths: list[str] = field(default_factory=list)
    quarantined: list[GitEvent] = field(default_factory=list)
    events: list[GitEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """A path changed between two commits: ``status`` A, M, D or R (``old`` set for R)."""

    status: str
    path: str
    old: str | None = None


class GitSync:
    """The vault's git repository on this host."""

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
            GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15"))

    # -- set-up -----------------------------------------------------------------------------------

    @staticmethod
    def configure(repo: git.Repo, agent: str) -> None:
        """Settings every fte vault repository has: identity, fsync, no hooks, rename detection."""
        with repo.config_writer() as cw:
            cw.set_value("user", "name", f"fte {agent}")
            cw.set_value("user", "email", f"{agent}@fte.invalid")
            # A crash must not leave empty or torn objects (git >= 2.36).
            cw.set_value("core", "fsync", "committed,index")
            cw.set_value("core", "fsyncMethod", "fsync")
            cw.set_value("core", "hooksPath", "/dev/null")
            cw.set_value("core", "quotePath", "false")
            cw.set_value("merge", "renames", "true")
            cw.set_value("diff", "renames", "true")
            cw.set_value("pull", "rebase", "true")
            cw.set_value("rebase", "autoStash", "true")
            # A vault of 100,000 notes: index v4 and the untracked cache (manyFiles), and a split
            # index so a commit rewrites a small delta, not the whole index.
            cw.set_value("feature", "manyFiles", "true")
            cw.set_value("core", "splitIndex", "true")

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
        """Before any new work: clear a stale index.lock; finish off an interrupted rebase or merge."""
        events: list[GitEvent] = []
        with self.lock.hold():
            if clear_stale_index_lock(self.root):
                events.append(GitEvent("stale-index-lock", ".git/index.lock"))
            gitdir = self.root / ".git"
            if (gitdir / "rebase-merge").exists() or (gitdir / "rebase-apply").exists():
                try:
                    self.repo.git.rebase("--abort")
                except GitCommandError:
                    # The rebase state is unusable; our commits are still on the branch's reflog.
                    self.repo.git.rebase("--quit")
                events.append(GitEvent("recovered-rebase", None, detail={"head": self._head()}))
            if (gitdir / "MERGE_HEAD").exists():
                self.repo.git.merge("--abort")
                events.append(GitEvent("recovered-merge", None))
            if (gitdir / "CHERRY_PICK_HEAD").exists():
                self.repo.git.cherry_pick("--abort")
                events.append(GitEvent("recovered-cherry-pick", None))
            if self.repo.head.is_detached and BRANCH in [h.name for h in self.repo.heads]:
                # Left detached by a --quit above: go back to the branch, keeping the work tree.
                self.repo.git.checkout(BRANCH)
            events += self._settle_unmerged()
        return events

    def _settle_unmerged(self) -> list[GitEvent]:
        """Unmerged paths with no rebase or merge going on: an ``--autostash`` that did not re-apply.

        git leaves the stash in place and conflict markers in the files. The committed version
        (``HEAD``) stays at the path; the stashed local version is kept as a conflict copy; then
        the stash is dropped (its bytes are in the copy), so nothing is lost and nothing is stuck.
        """
        unmerged = self._unmerged_paths()
        if not unmerged or self._in_rebase() or (self.root / ".git" / "MERGE_HEAD").exists():
            return []
        has_stash = self._rev("stash@{0}") is not None
        events: list[GitEvent] = []
        for path in unmerged:
            target = self.root / path
            mine = self._blob_at("stash@{0}", path) if has_stash else None
            upstream = self._blob_at("HEAD", path)
            self.repo.git.reset("-q", "--", path)
            if upstream is None:
                if mine is not None:
                    target.write_bytes(mine)
                continue
            target.write_bytes(upstream)
            detail: dict[str, Any] = {"kept": "committed"}
            if mine is not None and mine != upstream:
                detail["copy"] = self._conflict_copy(path, mine) if self._is_task_note(path) else self._side_write(path, mine)
            events.append(GitEvent("recovered-autostash", path, None, detail))
        if has_stash and "autostash" in self.repo.git.log("-1", "--format=%gs", "-g", "refs/stash").lower():
            self.repo.git.stash("drop", "-q")
        return events

    def _side_write(self, path: str, data: bytes) -> str:
        side = self._side_copy(path)
        (self.root / side).write_bytes(data)
        return side

    # -- commit -------------------------------------------------------------------------------------

    def commit(self, paths: Iterable[str], message: str) -> CommitResult:
        """Commit exactly ``paths`` (added, changed or removed), after the secret guard.

        A file whose staged bytes hold a credential is unstaged and moved to the ignored
        ``Quarantine/`` folder; the rest is committed. Other staged or changed files are left alone.
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
            for path in list(staged):
                blob = changes[path]
                if blob is None:
                    continue  # a deletion
                findings = scan(self._blob(blob))
                if findings:
                    result.quarantined.append(self._quarantine(path, findings))
                    staged.remove(path)
            if result.quarantined:
                changes = self._staged_raw()
                staged = [p for p in changes if p in wanted_set]
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

    def _quarantine(self, path: str, findings: list[Any]) -> GitEvent:
        self.repo.git.rm("--cached", "-q", "--ignore-unmatch", "--", path)
        if self._exists_in("HEAD", path):
            self.repo.git.reset("-q", "HEAD", "--", path)
        src = self.root / path
        dest_dir = self.root / QUARANTINE
        dest_dir.mkdir(exist_ok=True)
        dest = dest_dir / path.replace("/", "__")
        task_id = None
        try:
            task_id = parse_note(src.read_bytes(), path).id
        except (NoteError, OSError):
            pass
        shutil.move(str(src), dest)
        kinds = sorted({f.kind for f in findings})
        return GitEvent("quarantine", path, task_id, {"kinds": kinds, "moved_to": f"{QUARANTINE}/{dest.name}"})

    # -- sync ---------------------------------------------------------------------------------------

    def remote_news(self) -> tuple[bool, bool]:
        """Fetch, and say whether the remote has commits we lack: (fetched, news).

        Unreachable counts as news (the caller then plays safe); no remote means no news ever.
        """
        if not self.remote:
            return False, False
        with self.lock.hold():
            try:
                self._fetch()
            except Unreachable:
                return False, True
            upstream, head = self._rev(UPSTREAM), self._head()
            return True, bool(upstream and head and not self._is_ancestor(upstream, head))

    def sync(self, attempts: int = 5, fetched: bool = False) -> SyncResult:
        """Fetch, rebase onto the remote (resolving conflicts), push. Never force-pushes.

        With no remote, there is nothing to do: committed is synced. An unreachable remote gives a
        result with ``error`` set and ``pushed`` false; commits stay local for the next try.
        """
        with self.lock.hold():
            events = self.recover()
            if not self.remote:
                return SyncResult(pushed=True, head=self._head(), upstream=None, events=events)
            error = None
            pushed = False
            for attempt in range(attempts):
                try:
                    if not (fetched and attempt == 0):
                        self._fetch()
                except Unreachable as exc:
                    error = str(exc)
                    break
                events += self._integrate()
                if self._head() is None or self._head() == self._rev(UPSTREAM):
                    pushed = True
                    break
                try:
                    self._push()
                    self._fetch()  # so origin/main is what we just pushed
                    pushed = True
                    break
                except _PushRejected as exc:
                    error = str(exc)
                    continue
                except Unreachable as exc:
                    error = str(exc)
                    break
            ahead, behind = self.ahead_behind()
            return SyncResult(pushed=pushed, head=self._head(), upstream=self._rev(UPSTREAM),
                              error=None if pushed else error, ahead=ahead, behind=behind, events=events)

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
        """Bring origin/main in: fast-forward, or rebase our commits on it, resolving every conflict."""
        upstream = self._rev(UPSTREAM)
        head = self._head()
        if upstream is None or upstream == head:
            return []
        if head is None:
            self.repo.git.checkout("-q", "-B", BRANCH, upstream)
            return []
        if self._is_ancestor(upstream, head):
            return []  # nothing new on the remote: our commits only wait to be pushed
        events: list[GitEvent] = []
        before = upstream  # what the remote had; our rebased commits and theirs are checked against it
        try:
            self.repo.git.rebase("-q", "--autostash", UPSTREAM)
        except GitCommandError:
            for _ in range(10_000):  # one round per replayed commit at most
                if not self._in_rebase():
                    break
                conflicted = self._unmerged_paths()
                by_id: dict[str, list[str]] = {}
                for path in conflicted:
                    m = _ID8.search(path)
                    if m and self._is_task_note(path):
                        by_id.setdefault(m.group(1), []).append(path)
                    else:
                        events += self._resolve(path)
                for id8, paths in by_id.items():
                    events += self._resolve_note(id8, paths)
                try:
                    if not self._staged_anything():
                        self.repo.git.rebase("--skip")
                    else:
                        self.repo.git.rebase("--continue")
                except GitCommandError:
                    continue
        events += self._settle_unmerged()
        events += self._resolve_duplicates(since=self._merge_base_of(head, before))
        return events

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

    def _in_rebase(self) -> bool:
        gitdir = self.root / ".git"
        return (gitdir / "rebase-merge").exists() or (gitdir / "rebase-apply").exists()

    def _staged_anything(self) -> bool:
        return bool(self.repo.git.diff("--cached", "--name-only").strip())

    def _unmerged_paths(self) -> list[str]:
        # ls-files -u reads the index only (no stat of the work tree): cheap on a vault of 100k notes.
        out = self.repo.git.ls_files("-u", "-z")
        return sorted({entry.partition("\t")[2] for entry in out.split("\0") if entry})

    def _blob_at(self, ref: str, path: str) -> bytes | None:
        try:
            out = self.repo.git.ls_tree("-z", ref, "--", path)
        except GitCommandError:
            return None
        entry = next((e for e in out.split("\0") if e), None)
        if entry is None:
            return None
        return self._blob(entry.split("\t", 1)[0].split()[2])

    def _note_in(self, ref: str, id8: str) -> tuple[str, bytes] | None:
        """The note whose name ends in ``-<id8>.md`` in commit ``ref`` (the later state if several)."""
        found = [(p, self._blob_at(ref, p)) for p in self._tree_paths(ref)
                 if p.endswith(f"-{id8}.md") and self._is_task_note(p)]
        notes = [(p, b) for p, b in found if b is not None]
        if not notes:
            return None
        notes.sort(key=lambda pb: precedence(_state(pb[1], pb[0]) or "detected"), reverse=True)
        return notes[0]

    def _resolve_note(self, id8: str, paths: list[str]) -> list[GitEvent]:
        """Settle a task note changed on both sides, by id: its path may differ on each side (a move).

        The later state wins (the remote's on a tie); exactly one file is left, at the winner's path;
        the loser's bytes go to a conflict copy.
        """
        upstream, mine = self._note_in("HEAD", id8), self._note_in("REBASE_HEAD", id8)
        candidates = [c for c in (upstream, mine) if c is not None]
        if not candidates:
            for path in paths:
                self.repo.git.rm("-q", "--cached", "--ignore-unmatch", "--", path)
                (self.root / path).unlink(missing_ok=True)
            return []
        if upstream is not None and mine is not None:
            win_up = self._upstream_wins(upstream[1], mine[1], upstream[0])
            (keep, data), loser = (upstream, mine) if win_up else (mine, upstream)
        else:
            win_up = upstream is not None
            (keep, data), loser = candidates[0], None
        stale = set(paths) | ({loser[0]} if loser else set())
        stale.discard(keep)
        for path in stale:
            self.repo.git.rm("-q", "--cached", "--ignore-unmatch", "--", path)
            (self.root / path).unlink(missing_ok=True)
        target = self.root / keep
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        added = [keep]
        detail: dict[str, Any] = {"kept": "remote" if win_up else "local"}
        if loser is not None and loser[1] != data:
            copy = self._conflict_copy(loser[0], loser[1])
            added.append(copy)
            detail |= {"copy": copy, "states": [_state(upstream[1], upstream[0]) if upstream else None,
                                                _state(mine[1], mine[0]) if mine else None]}
        self.repo.git.add("--", *added)
        note = self._note_or_none(data, keep)
        return [GitEvent("conflict", keep, note.id if note else None, detail)]

    def _resolve(self, path: str) -> list[GitEvent]:
        """Settle one unmerged path (not a task note) of a stopped rebase.

        The two sides are read from the commits — ``HEAD`` (the remote's side, with what was
        replayed so far) and ``REBASE_HEAD`` (our commit being replayed) — not from the index
        stages: for a rename on both sides git's stages hold a merged text *with conflict markers*.
        """
        upstream, mine = self._blob_at("HEAD", path), self._blob_at("REBASE_HEAD", path)
        target = self.root / path
        if upstream is not None and mine is not None:
            # Keep both — the remote's at its path, ours beside it.
            side = self._side_copy(path)
            target.write_bytes(upstream)
            (self.root / side).write_bytes(mine)
            self.repo.git.add("--", path, side)
            return [GitEvent("conflict", path, None, {"kept": "both", "copy": side})]
        survivor = upstream if upstream is not None else mine
        if survivor is None:  # gone on both sides (the base of a rename on each side)
            self.repo.git.rm("-q", "--cached", "--ignore-unmatch", "--", path)
            if target.exists():
                target.unlink()
            return []
        # On one side only (a move git paired with another): keep it; duplicate ids are settled next.
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(survivor)
        self.repo.git.add("--", path)
        return []

    def _upstream_wins(self, upstream: bytes, mine: bytes, path: str) -> bool:
        a, b = _state(upstream, path), _state(mine, path)
        if b is None:
            return True  # ours does not parse: the remote's stands
        if a is None:
            return False
        return precedence(a) >= precedence(b)

    def _resolve_duplicates(self, since: str | None = None) -> list[GitEvent]:
        """Two notes with one id after a rebase: keep the later state (the remote's on a tie).

        Only the ids of notes that changed since ``since`` (the head before the rebase) are
        checked — a few index lookups, not a walk of a vault of 100,000 notes.
        """
        if since is None:
            return []
        changed = self.repo.git.diff("--name-only", "-z", "--no-renames", since, "HEAD")
        id8s = sorted({m.group(1) for p in changed.split("\0") if p and (m := _ID8.search(p)) and self._is_task_note(p)})
        if not id8s:
            return []
        groups = self._paths_for_id8s(id8s)
        events: list[GitEvent] = []
        upstream_paths: set[str] = set()
        if any(len(v) > 1 for v in groups.values()) and self._rev(UPSTREAM):
            upstream_paths = set(self._tree_paths(UPSTREAM))
        removed: list[str] = []
        copies: list[str] = []
        for paths in groups.values():
            if len(paths) < 2:
                continue
            by_id = {}  # type: dict[str, list[tuple[str, bytes]]]
            for p in paths:
                data = (self.root / p).read_bytes() if (self.root / p).exists() else b""
                note = self._note_or_none(data, p)
                if note is not None:
                    by_id.setdefault(note.id, []).append((p, data))
            for task_id, notes in by_id.items():
                if len(notes) < 2:
                    continue
                notes.sort(key=lambda pd: (precedence(_state(pd[1], pd[0]) or "detected"), pd[0] in upstream_paths),
                           reverse=True)
                (keep, _), losers = notes[0], notes[1:]
                for p, data in losers:
                    copies.append(self._conflict_copy(p, data))
                    (self.root / p).unlink()
                    removed.append(p)
                events.append(GitEvent("duplicate", keep, task_id, {"removed": [p for p, _ in losers]}))
        if removed:
            self.repo.git.add("-A", "--", *removed, *copies)
            self.repo.git.commit("-q", "--no-verify", "-m", f"fte {self.agent}: resolve {len(events)} duplicate note(s)",
                                 "--", *removed, *copies)
        return events

    def _conflict_copy(self, path: str, data: bytes) -> str:
        folder = PurePosixPath("Logs", self.agent, "conflicts")
        (self.root / folder).mkdir(parents=True, exist_ok=True)
        name = PurePosixPath(path).name
        n = 1
        while (self.root / folder / f"{n:04d}-{name}").exists():
            n += 1
        rel = str(folder / f"{n:04d}-{name}")
        (self.root / rel).write_bytes(data)
        return rel

    def _side_copy(self, path: str) -> str:
        p = PurePosixPath(path)
        n = 1
        while (self.root / p.with_name(f"{p.stem}.conflict-{self.agent}-{n}{p.suffix}")).exists():
            n += 1
        return str(p.with_name(f"{p.stem}.conflict-{self.agent}-{n}{p.suffix}"))

    @staticmethod
    def _is_task_note(path: str) -> bool:
        return path.endswith(".md") and PurePosixPath(path).parts[0] in TASK_FOLDERS

    @staticmethod
    def _note_or_none(data: bytes, path: str) -> Any:
        try:
            return parse_note(data, path)
        except NoteError:
            return None

    # -- queries ------------------------------------------------------------------------------------

    def _head(self) -> str | None:
        return self._rev("HEAD")

    def _rev(self, ref: str) -> str | None:
        try:
            return self.repo.git.rev_parse("--verify", "-q", f"{ref}^{{commit}}").strip() or None
        except GitCommandError:
            return None

    def _exists_in(self, ref: str, path: str) -> bool:
        try:
            return bool(self.repo.git.ls_tree("--name-only", ref, "--", path).strip())
        except GitCommandError:
            return False

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
        """Paths changed from ``old`` to ``new`` (renames detected); from nothing when ``old`` is None."""
        if new is None or old == new:
            return []
        base = old or self.repo.git.hash_object("-t", "tree", os.devnull)
        out = self.repo.git.diff("--name-status", "-z", "-M", base, new)
        fields = [f for f in out.split("\0") if f != ""]
        changes: list[Change] = []
        i = 0
        while i < len(fields):
            status = fields[i]
            if status.startswith(("R", "C")):
                changes.append(Change("R", fields[i + 2], fields[i + 1]))
                i += 3
            else:
                changes.append(Change(status[0], fields[i + 1]))
                i += 2
        return changes

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


def _state(data: bytes, path: str) -> str | None:
    try:
        state = parse_note(data, path).meta.get("state")
    except NoteError:
        return None
    return state if isinstance(state, str) else None
