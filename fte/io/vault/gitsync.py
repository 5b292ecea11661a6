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
from pathlib import Path
from typing import Any, Callable, Iterable

from git.exc import GitCommandError

from fte.errors import FteError, NoteError, Unreachable
from fte.io.vault import worktree
from fte.io.vault.gitlock import HostLock, clear_stale_index_lock
from fte.io.vault.gitrepo import (
    BRANCH,
    EMPTY_TREE,
    GITIGNORE,
    REMOTE,
    UPSTREAM,
    ZERO,
    CommitResult,
    GitEvent,
    GitRepo,
    SyncResult,
    first_line,
)
from fte.io.vault.notes import (
    FOLDERS,
    TASK_FOLDERS,
    has_conflict_markers,
    parse_note,
    redacted_note,
)
from fte.io.vault.secretguard import Finding, redact, scan
from fte.io.vault.treecheck import (
    GIT_CONFIG_NAMES,
    prefixes,
    refused_reason,
    shown_path,
)
from fte.io.vault.treemerge import (
    Entry,
    MergePolicy,
    blob_sha,
    conflict_copy_path,
    plan_merge,
    side_copy_path,
)
from fte.support.crashpoints import crashpoint

__all__ = ["GitSync", "QUARANTINE", "SYNCED_SUFFIXES"]

_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "failed to lock", "cannot lock ref",
             "failed to update ref", "stale info", "[remote rejected]")
JOURNAL = "fte-checkout"
MERGE_INDEX = "fte-merge-index"
#: commits already scanned by the secret guard (fte's own, and outgoing ones found clean)
SCANNED = "fte-scanned"
#: git files that say another git operation was left half-done in the repository.
_FOREIGN_STATE = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")
QUARANTINE = "Quarantine"
SYNCED_SUFFIXES = (".md", ".yaml", ".yml", ".json", ".base", ".gitignore")



class GitSync(GitRepo):
    """The vault's git sync on this host: recovery, commits through the secret guard, and the sync
    (fetch, merge by task id outside the working tree, bring the tree along, push — never force)."""

    def __init__(self, root: Path, agent: str, lock: HostLock, remote: str = "",
                 should_stop: Callable[[], bool] | None = None, *, policy: MergePolicy) -> None:
        super().__init__(root, agent, lock, remote)
        #: Which version of a task changed on both sides stays at a merge (the lifecycle's rules,
        #: ``fte.states.convergence``): the git work here knows paths and ids, not states.
        self.policy = policy
        #: Asked between the steps of a sync and of a recovery: a SIGTERM ends them early.
        self.should_stop = should_stop or (lambda: False)
        #: Whether a version of a task note proves what it asserts (set by the host from its
        #: keyring): at a merge, only proven decisions take part in the race (fte.io.vault.treemerge).
        self.proves: Callable[[bytes, str], bool] | None = None
        self._removed: list[str] = []
        #: Paths whose name holds a secret, already said (each is said once per process).
        self._secret_paths_said: set[str] = set()
        #: The index file (inode, size, mtime) last seen without unmerged entries, or None.
        self._clean_index: tuple[int, int, int] | None = None

    # -- recovery -----------------------------------------------------------------------------------

    def recover(self, full: bool = True) -> list[GitEvent]:
        """Before any new work, each step bounded and reported: clear a stale index.lock; finish a
        working-tree update a crash interrupted; forget a git operation someone left half-done
        (a rebase, merge, cherry-pick) without touching what the person has in the tree.

        ``full=False`` (before each commit and sync inside a tick): the index's unmerged entries
        are listed only if the index changed since it was last seen clean, other than by fte's
        own writes since — the listing reads the whole index (5–10 ms at 24,000 notes, seven
        times a busy tick). The tick's first recovery is always full."""
        events: list[GitEvent] = []
        with self.lock.hold():
            if clear_stale_index_lock(self.root):
                events.append(GitEvent("stale-index-lock", ".git/index.lock"))
            events += self._finish_journal()
            events += self._forget_foreign_operation(trust_clean=not full)
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

    def _forget_foreign_operation(self, trust_clean: bool = False) -> list[GitEvent]:
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
                    detail["autostash_error"] = first_line(exc)
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
        unmerged = self._unmerged_entries(trust_clean=trust_clean and not events)
        if events or unmerged:
            events += self._restore_to_head(involved, unmerged)
        return events

    def _unmerged_entries(self, trust_clean: bool = False) -> dict[str, dict[int, str]]:
        """Unmerged index entries: path → {stage: blob} (reads the index only). ``trust_clean``:
        none, without looking, when the index is the very file last seen without any."""
        stamp = _index_stamp(self.root)
        if trust_clean and stamp is not None and stamp == self._clean_index:
            return {}
        found: dict[str, dict[int, str]] = {}
        for entry in self.repo.git.ls_files("-u", "-z").split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            _mode, sha, stage = meta.split()
            found.setdefault(path, {})[int(stage)] = sha
        self._clean_index = None if found else stamp
        return found

    def _index_clean_now(self) -> bool:
        """Whether the index is still the file last seen without unmerged entries."""
        return self._clean_index is not None and _index_stamp(self.root) == self._clean_index

    def _index_written(self, was_clean: bool) -> None:
        """After fte's own write of the index (staging, a commit, a checkout — none of which makes
        an unmerged entry): a clean index stays known clean; anything else is listed next time."""
        self._clean_index = _index_stamp(self.root) if was_clean else None

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
        for path in [p for p in wanted if scan(p.encode("utf-8", "surrogateescape"))]:
            # A name is in every commit and every clone's history: one holding a secret stays here
            # (fte's own names are made from redacted text; this is a file the person named).
            wanted.remove(path)
            if path in self._secret_paths_said or not os.path.lexists(self.root / path):
                continue
            self._secret_paths_said.add(path)
            result.events.append(GitEvent("secret-in-path", shown_path(path), None, {
                "kinds": sorted({f.kind for f in scan(path.encode("utf-8", "surrogateescape"))}),
                "reason": "a file whose name holds a secret is never committed; rename it"}))
        if not wanted:
            return result
        with self.lock.hold():
            result.events += self.recover(full=False)
            was_clean = self._index_clean_now()
            try:
                self._commit_staged(wanted, message, result)
            finally:
                self._index_written(was_clean)
        return result

    def _commit_staged(self, wanted: list[str], message: str, result: CommitResult) -> None:
        """:meth:`commit`'s work, under the lock: stage, guard, commit."""
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
            clean, findings = redacted_note(data, path) if path.endswith(".md") else redact(data)
            if findings:
                result.redacted.append(self._redact(path, data, clean, findings))
        if result.redacted:  # a redacted file may now hold what HEAD holds: nothing of it to commit
            changes = self._staged_raw()
            staged = [p for p in staged if p in changes]
        if not staged:
            return
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
            named = {f.kind for f in scan(path.encode("utf-8", "surrogateescape"))}  # the name is pushed too
            kinds = sorted(named | ({f.kind for f in scan(data)} if b"\0" not in data[:8000] else set()))
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

    def sync(self, attempts: int = 5, fetch_first: bool = True, push: bool = True,
             before_merge: Callable[[str | None], object] | None = None) -> SyncResult:
        """Fetch, merge the remote in (outside the working tree), bring the tree along, push.

        Never force-pushes. A rejected push (someone pushed first) is fetched, merged and pushed
        again, at most ``attempts`` times. With no remote, committed is synced. An unreachable
        remote gives a result with ``error`` set and ``pushed`` false; commits stay local.

        ``fetch_first=False`` (a publish, right after the tick's own fetch): when this host's
        commits sit on top of the remote's last known head, push them straight away — the push
        is refused if the remote moved meanwhile (that refusal is the claim's lock), and only then
        is the remote fetched and merged. Two fetches fewer per publish.

        ``push=False`` (the tick's pull): fetch and merge only; this host's commits wait for the
        tick's next publish, which pushes them with whatever it adds (one push fewer per tick).
        ``pushed`` is then true only when there was nothing to push.

        ``before_merge(upstream)`` is called once, under the lock, before anything is merged: with
        the remote's fetched head, or ``None`` when there is no remote or it could not be fetched.
        The tick commits the person's moves there unless the remote holds nothing it has not read,
        so a merge never steps around them, and otherwise they wait for the tick's next commit
        instead of making one of their own.
        """
        with self.lock.hold():
            events = self.recover(full=False)
            if not self.remote:
                if before_merge is not None:
                    before_merge(None)
                return SyncResult(pushed=True, head=self._head(), upstream=None, events=events)
            was_clean = self._index_clean_now()
            try:
                return self._sync(events, attempts, fetch_first, push, before_merge)
            finally:
                self._index_written(was_clean)

    def _sync(self, events: list[GitEvent], attempts: int, fetch_first: bool, push: bool,
              before_merge: Callable[[str | None], object] | None) -> SyncResult:
        """:meth:`sync`'s work, under the lock, after the recovery."""
        self._removed = []
        error = None
        pushed = False
        held: list[GitEvent] = []
        optimistic = not fetch_first and self._ahead_of_upstream()
        for attempt in range(attempts):
            if self.should_stop():
                error = "stopped before the sync finished"
                break
            if not (optimistic and attempt == 0):
                try:
                    self._fetch()
                except Unreachable as exc:
                    error = str(exc)
                    if before_merge is not None:
                        before_merge(None)
                    break
                crashpoint("sync-fetched")
                if before_merge is not None:
                    before_merge(self._rev(UPSTREAM))
                    before_merge = None
                events += self._integrate()
            if self._head() is None or self._head() == self._rev(UPSTREAM):
                pushed = True
                break
            held = self.outgoing_secrets()  # said at the pull already, before the Dashboard
            if not push and not held:
                break
            if held:
                first = held[0]
                error = (f"push held: commit {first.detail['commit'][:8]} by {first.detail['author']} adds "
                         f"{', '.join(first.detail['kinds'])} in {first.path}; remove it from that commit "
                         "(docs/sync.md, \"The secret guard\"); the commits stay here until then")
                break
            try:
                self._push()
                if self._rev(UPSTREAM) != self._head():
                    self._fetch()  # so origin/main is what we just pushed (a push to a named
                    # remote moves it itself, unless the remote has no fetch refspec for it)
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

    def _ahead_of_upstream(self) -> bool:
        """Whether HEAD is the remote's last fetched head plus commits of this repository only."""
        upstream, head = self._rev(UPSTREAM), self._head()
        return upstream is not None and head is not None and upstream != head and self._is_ancestor(upstream, head)

    def _fetch(self) -> None:
        try:
            self.repo.git.fetch("-q", REMOTE)
        except GitCommandError as exc:
            raise Unreachable(f"git fetch from {self.remote} failed: {first_line(exc)}") from exc

    def _push(self) -> None:
        try:
            self.repo.git.push("-q", "--porcelain", REMOTE, f"HEAD:refs/heads/{BRANCH}")
        except GitCommandError as exc:
            text = f"{exc.stdout or ''} {exc.stderr or ''}"
            if any(marker in text for marker in _REJECTED):
                raise _PushRejected(f"push rejected: {first_line(exc)}") from exc
            raise Unreachable(f"git push to {self.remote} failed: {first_line(exc)}") from exc

    def _integrate(self) -> list[GitEvent]:
        """Bring origin/main in: a fast-forward, or a merge commit built outside the working tree;
        then the working tree follows, path by path."""
        upstream, head = self._rev(UPSTREAM), self._head()
        if upstream is None or upstream == head:
            return []
        if head is not None and self._is_ancestor(upstream, head):
            return []  # nothing new on the remote: our commits only wait to be pushed
        fast_forward = head is None or self._is_ancestor(head, upstream)
        base = head if fast_forward or head is None else self._merge_base_of(head, upstream)
        theirs = self._diff_raw(["diff-tree", base or EMPTY_TREE, upstream])
        refused = self._refused_entries(theirs, head)
        events = [GitEvent("refused-entry", shown_path(path), None, {"reason": reason})
                  for path, reason in sorted(refused.items()) if theirs[path] is not None]
        if fast_forward and not refused:
            target = upstream
        else:  # a merge, also where a fast-forward would do: it leaves what was refused out
            target, merged = self._merge(head or EMPTY_TREE, upstream, base, theirs, refused)
            events += merged
        crashpoint("sync-merged")
        events += self._checkout(head, target)
        return events

    def _refused_entries(self, theirs: dict[str, Entry | None], head: str | None) -> dict[str, str]:
        """The entries of a pulled change that may not enter this host's tree, with why
        (:mod:`fte.io.vault.treecheck`): judged alone, then against ``head``'s tree — a file where it
        has a folder, a folder where it has a file — and against the vault's own folders."""
        refused = {path: reason for path, entry in theirs.items()
                   if (reason := refused_reason(path, None if entry is None else entry.mode))}
        added = [p for p, e in theirs.items() if e is not None and p not in refused]
        folders = prefixes(added)
        config = [p for p in refused if p.rsplit("/", 1)[-1].lower() in GIT_CONFIG_NAMES]
        kinds: dict[str, str] = {}
        shas: dict[str, str] = {}
        if head is not None and (added or config):
            asked = sorted(set(added) | folders | set(config))
            out = self._git_input(["cat-file", "--batch-check=%(objecttype) %(objectname)"],
                                  "".join(f"{head}:{p}\n" for p in asked).encode("utf-8", "surrogateescape"))
            for p, line in zip(asked, out.decode().splitlines()):
                words = line.split()
                kinds[p] = words[-1] if words[-1] == "missing" else words[0]
                shas[p] = words[1] if len(words) == 2 else ""
        for path in config:  # the same configuration as this host's own (two vaults made alike) changes nothing
            entry = theirs[path]
            mine = shas.get(path) if head is not None else _sha_of(self._worktree_bytes(path))
            if entry is not None and (mine == entry.sha or (path == ".gitignore" and entry.sha == _FTE_GITIGNORE)):
                del refused[path]  # fte's own .gitignore, as every vault fte makes holds it
        for path in added:
            parts = path.split("/")
            if kinds.get(path) == "tree" or path in FOLDERS or path in folders or (
                    parts[0] == "In_Progress" and len(parts) == 2):
                refused[path] = "a file where the vault has a folder"
            elif any(kinds.get(f) == "blob" or f in OWN_FILES for f in prefixes([path])):
                refused[path] = "a folder where the vault has a file"
        return refused

    def _merge(self, head: str, upstream: str, base: str | None, theirs: dict[str, Entry | None],
               refused: dict[str, str]) -> tuple[str, list[GitEvent]]:
        """A merge commit of ``head`` and ``upstream`` (see :mod:`fte.io.vault.treemerge`) without the
        ``refused`` entries, built in a private index: the person's index and working tree are not
        touched. ``head`` may be the empty tree (a host with no commit yet): the commit then has
        ``upstream`` alone as its parent."""
        ours = self._diff_raw(["diff-tree", base or EMPTY_TREE, head])
        theirs = {p: e for p, e in theirs.items() if p not in refused}
        # Every version the remote held since the base, not only its tip: a decision that reached
        # the remote first still wins when someone pushed an unproven note over it.
        history = [(c.path, Entry(c.mode or "100644", c.blob)) for c in self.history(base, upstream, sorted(TASK_FOLDERS))
                   if c.blob is not None and c.path not in refused] if any(self._is_task_note(p) for p in ours) else []
        plan = plan_merge(ours, theirs, self._blob, self.agent, self.policy, owns=self._owns, history=history,
                          proves=self.proves, base=lambda path: self._blob_at(base, path))
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
        if refused:
            message += f" ({len(refused)} entr{'y' if len(refused) == 1 else 'ies'} refused)"
        parents = ["-p", upstream] if head == EMPTY_TREE else ["-p", head, "-p", upstream]
        sha = self._git_input(["commit-tree", tree, *parents, "-m", message], b"").decode().strip()
        events = [GitEvent(r.kind if r.kind == "conflict" else "conflict", r.path, r.task_id, r.detail)
                  for r in plan.resolutions]
        return sha, events

    def _blob_at(self, commit: str | None, path: str) -> bytes | None:
        """The bytes of ``path`` in ``commit`` (None: no such file there)."""
        if commit is None:
            return None
        listing = self._git_input(["ls-tree", "-z", commit, "--", path], b"").decode("utf-8", "surrogateescape")
        fields = listing.split("\t", 1)[0].split()
        if len(fields) != 3 or fields[1] != "blob":
            return None
        return self._blob(fields[2])

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


#: Files at the top of the vault that a pulled folder may never take the place of.
OWN_FILES = frozenset({"Dashboard.md"})


class _PushRejected(FteError):
    pass


#: The blob of the ``.gitignore`` fte writes in every vault.
_FTE_GITIGNORE = blob_sha(GITIGNORE.encode("utf-8"))


def _sha_of(data: bytes | None) -> str | None:
    return None if data is None else blob_sha(data)


def _index_stamp(root: Path) -> tuple[int, int, int] | None:
    """Which file the index is: git replaces it (a new inode) at every write."""
    try:
        st = os.stat(root / ".git" / "index")
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


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
