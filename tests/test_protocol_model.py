"""A model-based test of the whole protocol (docs/protocol.md, "Invariants").

Hypothesis drives real hosts — one cloud and two local hosts, each its own home, SQLite file and
git working tree, on a real bare remote — through interleavings of: mail arriving, ticks of any
host, a person (moves into Approved/ or Rejected/, edits, `fte approve` on either local host, at
any moment of a host's tick too — while its sync brings notes in; `fte replay` of a send that
failed while a host's outbox was broken), an
adversary with push access (pushes an older version of a note again, forges a state, pushes a
symlink, deletes a note, rewinds or rewrites the remote, pushes tree entries no checkout makes, writes
a property twice) and a remote that goes away and comes back. After every step it checks:

* I1/I4 — every mail sent carries exactly a draft the person approved (the edits they made are
  tokens: the tokens in the sent mail are those of a draft the person saw when approving);
* I2 — at most one mail per task, over both local hosts;
* I5 — nothing is written outside the vault and the homes (a sentinel folder stays untouched);
* every host holds a decided or executed state only with a trusted signature for it;

and at the end, after every host has synced with no new input, I3 — all hosts hold the same state
for every task — and then a quiet system is quiet: more rounds make no commit but heartbeats. The bounded profile runs in CI; ``FTE_MODEL_EXAMPLES`` and ``FTE_MODEL_STEPS`` set
a long run (docs/RELIABILITY.md records one).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import fte_cli
from hosts import HostRun, bare_remote, drop_mail, make_host
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from fte.errors import NoteError
from fte.io.vault.notes import parse_note, render_note, split_body
from fte.support import crashpoints

EXAMPLES = int(os.environ.get("FTE_MODEL_EXAMPLES", "3"))
STEPS = int(os.environ.get("FTE_MODEL_STEPS", "25"))
LOCALS = ("alpha", "beta")
TOKEN = re.compile(r"edit-\d+")


def git(cwd: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check).stdout


class Protocol(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="fte-model-"))
        self.remote = bare_remote(self.tmp / "remote.git")
        self.homes = {name: make_host(self.tmp, name, role, self.remote)
                      for name, role in (("cloud", "cloud"), ("alpha", "local"), ("beta", "local"))}
        self.runs = {name: HostRun(home) for name, home in self.homes.items()}
        self.sentinel = self.tmp / "outside"
        self.sentinel.mkdir()
        (self.sentinel / "keep.md").write_text("untouched\n")
        self.device = self.tmp / "device"
        subprocess.run(["git", "clone", "-q", self.remote, str(self.device)], check=True)
        git(self.device, "config", "user.name", "adversary")
        git(self.device, "config", "user.email", "adversary@example.com")
        self.mails = 0
        self.tokens = 0
        #: task id → the sets of edit tokens of every draft the person approved
        self.approved_drafts: dict[str, list[frozenset[str]]] = {}
        self.remote_away = False
        self.outbox_broken = ""

    def quiesce(self) -> None:
        """Everything comes back, then every host syncs with no new input (before I3 is checked)."""
        if self.remote_away:
            self.remote_back()
        if self.outbox_broken:
            self.outbox_mends()
        for _ in range(4):
            for name in ("alpha", "beta", "cloud"):
                self.runs[name].tick()

    def teardown(self) -> None:
        try:
            self.quiesce()
            self.check_safety()
            known = [{t.id: t.state for t in run.home.store.tasks()} for run in self.runs.values()]
            ids = set().union(*known)
            for task_id in ids:
                seen = {name: states.get(task_id) for name, states in zip(self.runs, known)}
                assert len(set(seen.values())) == 1, f"I3: hosts disagree on {task_id[:8]}: {seen}"
            # A quiet system is quiet: more rounds with no new input make no commit but a heartbeat.
            quiet = git(Path(self.remote), "rev-parse", "main").strip()
            for _ in range(2):
                for name in ("alpha", "beta", "cloud"):
                    self.runs[name].tick()
            changed = git(Path(self.remote), "diff", "--name-only", quiet, "main").split()
            assert all(re.fullmatch(r"Logs/[a-z]+/heartbeat\.json", p) for p in changed), f"not quiet: {changed}"
        finally:
            for run in self.runs.values():
                run.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the world ---------------------------------------------------------------------------------

    @initialize()
    def three_tasks_presented(self) -> None:
        """Start where the interesting part starts: drafts waiting for a decision on every host."""
        for _ in range(3):
            self.mail_arrives()
        self.everyone_ticks()

    @rule()
    def everyone_ticks(self) -> None:
        for name in ("cloud", "alpha", "beta", "cloud"):
            self.runs[name].tick()

    @rule()
    def mail_arrives(self) -> None:
        drop_mail(self.homes["cloud"], self.mails)
        self.mails += 1

    @rule(host=st.sampled_from(("cloud", "alpha", "beta")))
    def tick(self, host: str) -> None:
        self.runs[host].tick()

    @precondition(lambda self: not self.remote_away)
    @rule()
    def remote_goes_away(self) -> None:
        Path(self.remote).rename(self.tmp / "away.git")
        self.remote_away = True

    @precondition(lambda self: self.remote_away)
    @rule()
    def remote_back(self) -> None:
        (self.tmp / "away.git").rename(self.remote)
        self.remote_away = False

    # -- the person --------------------------------------------------------------------------------

    def _pending(self, host: str) -> list[Path]:
        """The notes the person sees waiting: ones with one reading (an adversary's note that says a
        property twice is refused by the host, and put back at its next look)."""
        def readable(path: Path) -> bool:
            try:
                parse_note(path.read_bytes())
            except (NoteError, OSError):
                return False
            return True

        return [p for p in sorted((self.homes[host] / "vault" / "Pending_Approval").rglob("*.md")) if readable(p)]

    def _seen(self, path: Path) -> frozenset[str]:
        note = parse_note(path.read_bytes())
        draft = split_body(note.body, note.meta["title"])[0]
        return frozenset(TOKEN.findall(draft))

    @rule(host=st.sampled_from(LOCALS), pick=st.integers(0, 20), edit=st.booleans())
    def person_approves_by_move(self, host: str, pick: int, edit: bool) -> None:
        notes = self._pending(host)
        if not notes:
            return
        src = notes[pick % len(notes)]
        if edit:
            self._edit(src)
        task_id = parse_note(src.read_bytes()).id
        self.approved_drafts.setdefault(task_id, []).append(self._seen(src))
        os.replace(src, self.homes[host] / "vault" / "Approved" / src.name)

    @rule(host=st.sampled_from(LOCALS), pick=st.integers(0, 20))
    def person_approves_with_the_cli(self, host: str, pick: int) -> None:
        notes = self._pending(host)
        if not notes:
            return
        src = notes[pick % len(notes)]
        note = parse_note(src.read_bytes())
        seen = self._seen(src)
        r = fte_cli("approve", note.id, "--home", str(self.homes[host]), code=None)
        if r.exit_code == 0:
            self.approved_drafts.setdefault(note.id, []).append(seen)
        else:
            assert r.exit_code in (2, 3), r.output

    @rule(host=st.sampled_from(LOCALS), pick=st.integers(0, 20))
    def person_rejects(self, host: str, pick: int) -> None:
        notes = self._pending(host)
        if notes:
            src = notes[pick % len(notes)]
            os.replace(src, self.homes[host] / "vault" / "Rejected" / src.name)

    @rule(host=st.sampled_from(LOCALS), pick=st.integers(0, 20))
    def person_edits(self, host: str, pick: int) -> None:
        approved = sorted((self.homes[host] / "vault" / "Approved").glob("*.md"))
        notes = self._pending(host) + approved
        if notes:
            path = notes[pick % len(notes)]
            self._edit(path)
            if path in approved:
                # fte reads a move and the edits made before it looks as one act: the note as it
                # first sees it in Approved/ is what is approved (docs/protocol.md). If the move was
                # already recorded, the edit withdraws the approval instead.
                self.approved_drafts.setdefault(parse_note(path.read_bytes()).id, []).append(self._seen(path))

    @rule(host=st.sampled_from(LOCALS), pick=st.integers(0, 20), folder=st.sampled_from(("Approved", "Rejected", "edit")),
          point=st.sampled_from(("sync-checkout-path", "sync-checked-out", "after-note-write", "after-commit")))
    def person_decides_while_the_host_syncs(self, host: str, pick: int, folder: str, point: str) -> None:
        """The person moves or edits a waiting note at any moment of a host's tick — while the sync
        brings notes in, just after a note was written and before its row says so. A decision made
        then is a decision like any other (docs/protocol.md): never refused for its timing."""
        acted: list[Path] = []

        def person() -> None:
            notes = self._pending(host)
            if acted or not notes:
                return
            src = notes[pick % len(notes)]
            acted.append(src)
            if folder == "edit":
                self._edit(src)
                return
            if folder == "Approved":
                self.approved_drafts.setdefault(parse_note(src.read_bytes()).id, []).append(self._seen(src))
            os.replace(src, self.homes[host] / "vault" / folder / src.name)

        remove = crashpoints.on(point, person)
        try:
            self.runs[host].tick()
        finally:
            remove()

    @precondition(lambda self: not self.outbox_broken)
    @rule(host=st.sampled_from(LOCALS))
    def outbox_breaks(self, host: str) -> None:
        """Sends fail on ``host`` (its outbox is a file): what it claims fails, for the person to replay."""
        outbox = self.homes[host] / "outbox"
        os.rename(outbox, self.tmp / f"{host}-outbox")
        outbox.write_text("not a folder\n")
        self.outbox_broken = host

    @precondition(lambda self: bool(self.outbox_broken))
    @rule()
    def outbox_mends(self) -> None:
        host = str(self.outbox_broken)
        (self.homes[host] / "outbox").unlink()
        os.rename(self.tmp / f"{host}-outbox", self.homes[host] / "outbox")
        self.outbox_broken = ""

    @rule(host=st.sampled_from(LOCALS), pick=st.integers(0, 20))
    def person_replays(self, host: str, pick: int) -> None:
        failed = sorted(t.id for t in self.runs[host].home.store.tasks(state="failed"))
        if not failed:
            return
        r = fte_cli("replay", failed[pick % len(failed)], "--home", str(self.homes[host]), code=None)
        assert r.exit_code in (0, 1, 2, 3), r.output

    def _edit(self, path: Path) -> None:
        self.tokens += 1
        text = path.read_text(encoding="utf-8")
        head, sep, body = text.partition("\n---\n")
        path.write_text(head + sep + f"edit-{self.tokens} " + body, encoding="utf-8")

    # -- the adversary -----------------------------------------------------------------------------

    def _device_sync(self) -> bool:
        if self.remote_away:
            return False
        git(self.device, "fetch", "-q", "origin")
        # The adversary's own clone; a tip holding a hostile entry cannot be checked out (until a
        # host's merge takes it off): the adversary waits.
        return subprocess.run(["git", "reset", "-q", "--hard", "origin/main"], cwd=self.device,
                              capture_output=True).returncode == 0

    def _device_push(self, message: str) -> None:
        git(self.device, "add", "-A")
        if git(self.device, "status", "--porcelain").strip():
            git(self.device, "commit", "-qm", message)
            git(self.device, "push", "-q", "origin", "HEAD:main", check=False)

    def _device_notes(self) -> list[Path]:
        found = []
        for p in sorted(self.device.rglob("*.md")):
            if p.is_symlink() or p.parts[len(self.device.parts)] not in \
                    ("Updates", "Pending_Approval", "Approved", "Rejected", "In_Progress", "Done", "Failed"):
                continue
            try:
                parse_note(p.read_bytes())
            except (NoteError, OSError):
                continue
            found.append(p)
        return found

    @rule(pick=st.integers(0, 50), back=st.integers(1, 8))
    def adversary_pushes_an_old_note_again(self, pick: int, back: int) -> None:
        if not self._device_sync():
            return
        log = git(self.device, "log", "--format=%H", "--name-only", "--diff-filter=AM", f"-{back * 3}").split()
        olds = [(c, p) for c, p in zip(log, log[1:]) if len(c) == 40 and p.endswith(".md") and "/" in p
                and not p.startswith("Logs/")]
        if not olds:
            return
        commit, path = olds[pick % len(olds)]
        data = git(self.device, "show", f"{commit}:{path}").encode()
        try:
            task_id = parse_note(data).id
        except NoteError:
            return
        try:
            (self.device / path).parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            return  # a file the adversary pushed where the folder was (a hostile entry): not this move
        for current in self._device_notes():
            if current.name.endswith(f"-{task_id[:8]}.md"):
                current.unlink()
        (self.device / path).write_bytes(data)
        self._device_push("an old note again")

    @rule(pick=st.integers(0, 50), state=st.sampled_from(("approved", "rejected", "done", "claimed", "failed")))
    def adversary_forges_a_state(self, pick: int, state: str) -> None:
        if not self._device_sync():
            return
        notes = self._device_notes()
        if not notes:
            return
        src = notes[pick % len(notes)]
        note = parse_note(src.read_bytes())
        meta = dict(note.meta, state=state)
        folder = {"approved": "Approved", "rejected": "Rejected", "done": "Done/2026-11", "claimed": "In_Progress/alpha",
                  "failed": "Failed"}[state]
        dest = self.device / folder / src.name
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            return  # a file the adversary pushed where the folder was
        src.unlink()
        dest.write_bytes(render_note(meta, note.body))
        self._device_push(f"forged {state}")

    @rule(where=st.sampled_from(("Logs/alpha/conflicts", "Dashboard.md", "Quarantine", "Approved/x.md")))
    def adversary_pushes_a_symlink(self, where: str) -> None:
        if not self._device_sync():
            return
        target = self.device / where
        if target.is_symlink() or target.exists():
            if target.is_dir() and not target.is_symlink():
                return
            target.unlink()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            return  # a file the adversary pushed where the folder was
        os.symlink(self.sentinel if not where.endswith(".md") else self.sentinel / "keep.md", target)
        self._device_push("a symlink")

    @rule(pick=st.integers(0, 50))
    def adversary_deletes_a_note(self, pick: int) -> None:
        if not self._device_sync():
            return
        notes = self._device_notes()
        if notes:
            notes[pick % len(notes)].unlink()
            self._device_push("deleted")

    @rule(back=st.integers(1, 6), rewrite=st.booleans())
    def adversary_rewinds_the_remote(self, back: int, rewrite: bool) -> None:
        """A force-push back by ``back`` commits (and, rewritten, a commit of the adversary's on
        top) — of history every local host has read: what a host integrated is never lost
        (docs/protocol.md, "A host never goes backwards", which states the window left when a host
        had not read it)."""
        if self.remote_away:
            return
        remote = Path(self.remote)
        tip = git(remote, "rev-parse", "main").strip()
        for host in LOCALS:
            cursor = self.runs[host].home.store.cursor("git.integrated")
            if not cursor or subprocess.run(["git", "merge-base", "--is-ancestor", tip, cursor],
                                            cwd=remote, capture_output=True).returncode != 0:
                return  # a local host has not read the tip yet
        older = git(remote, "rev-parse", "--verify", "-q", f"main~{back}", check=False).strip()
        if not older:
            return
        git(remote, "update-ref", "refs/heads/main", older)
        if rewrite and self._device_sync():
            (self.device / "Company_Handbook.md").write_text(f"# Handbook\n\nRewritten {back}.\n")
            self._device_push("rewritten")

    @rule(entry=st.sampled_from(("..", ".git", "a" * 300 + ".md", "Pending_Approval", "Dashboard.md/x.md",
                                 ".gitignore", "In_Progress/beta")))
    def adversary_pushes_a_hostile_entry(self, entry: str) -> None:
        """An entry no checkout can make, made with git's plumbing (docs/protocol.md, "What a pulled
        tree may hold")."""
        if not self._device_sync():
            return
        data = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=self.device, input=b"*\n",
                              capture_output=True, check=True).stdout.decode().strip()
        top = [line for line in git(self.device, "ls-tree", "HEAD").splitlines() if line]
        name, _, inner = entry.partition("/")
        if inner:
            sha = subprocess.run(["git", "mktree"], cwd=self.device, input=f"100644 blob {data}\t{inner}\n".encode(),
                                 capture_output=True, check=True).stdout.decode().strip()
            line = f"040000 tree {sha}\t{name}"
        else:
            line = f"100644 blob {data}\t{name}"
        if name == "In_Progress":  # a file directly in In_Progress/, beside the hosts' folders
            current = [x for x in top if x.endswith("\tIn_Progress")]
            listing = git(self.device, "ls-tree", "HEAD:In_Progress").splitlines() if current else []
            sha = subprocess.run(["git", "mktree"], cwd=self.device, capture_output=True, check=True, input=(
                "".join(f"{x}\n" for x in listing if not x.endswith("\tbeta")) + f"100644 blob {data}\tbeta\n"
            ).encode()).stdout.decode().strip()
            line = f"040000 tree {sha}\tIn_Progress"
        top = [x for x in top if x.split("\t", 1)[1] != name] + [line]
        tree = subprocess.run(["git", "mktree"], cwd=self.device, input=("\n".join(top) + "\n").encode(),
                              capture_output=True, check=True).stdout.decode().strip()
        commit = git(self.device, "commit-tree", tree, "-p", "HEAD", "-m", "hostile").strip()
        git(self.device, "push", "-q", "origin", f"{commit}:refs/heads/main", check=False)

    @rule(pick=st.integers(0, 50))
    def adversary_writes_a_property_twice(self, pick: int) -> None:
        """A second ``to:`` in a waiting note: what Obsidian shows and what YAML's last value says differ."""
        if not self._device_sync():
            return
        notes = [p for p in self._device_notes() if "Pending_Approval" in p.parts]
        if notes:
            src = notes[pick % len(notes)]
            src.write_text(src.read_text().replace("\nto: ", "\nto: eve@evil.example\nto: ", 1))
            self._device_push("a property twice")

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def check_safety(self) -> None:
        sent: dict[str, list[str]] = {}
        for host in LOCALS:
            outbox = self.tmp / f"{host}-outbox" if self.outbox_broken == host else self.homes[host] / "outbox"
            for f in (outbox / "new").iterdir():
                msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                assert "evil" not in str(msg["To"]), f"I4: sent to {msg['To']}, which no note showed"
                sent.setdefault(str(msg["X-FTE-Task"]), []).append(msg.get_body(("plain",)).get_content())
        for task_id, bodies in sent.items():
            assert len(bodies) == 1, f"I2: {task_id[:8]} sent {len(bodies)} times"
            tokens = frozenset(TOKEN.findall(bodies[0].split("\n> ", 1)[0]))
            assert tokens in self.approved_drafts.get(task_id, []), \
                f"I1/I4: {task_id[:8]} sent with {sorted(tokens)}, approved: {self.approved_drafts.get(task_id)}"
        # Every host believes a decided or executed state only with a trusted signature for it.
        for name, run in self.runs.items():
            trust = run.home.lifecycle.trust
            for task in run.home.store.tasks():
                if task.state in ("approved", "claimed", "done") or (task.state == "failed" and task.approval):
                    reason = trust.verify_approval(task.id, task.kind, task.params or {}, task.body, task.approval)
                    assert reason is None, f"I1: {name} holds {task.short_id} {task.state}: {reason}"
                if task.state in ("rejected", "expired", "claimed", "done") or (task.state == "failed" and task.approval):
                    reason = trust.verify_assertion(task.id, task.state, task.assertion)
                    assert reason is None, f"I1: {name} holds {task.short_id} {task.state}: {reason}"
        assert sorted(os.listdir(self.sentinel)) == ["keep.md"], "I5: a write outside the vault"
        assert (self.sentinel / "keep.md").read_text() == "untouched\n", "I5: a write through a symlink"


Protocol.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize="FTE_MODEL_SEED" not in os.environ,
    suppress_health_check=list(HealthCheck), database=None,
)
TestProtocol = Protocol.TestCase


#: Counterexamples of the long runs, replayed step by step (docs/RELIABILITY.md): each one is a plain
#: regression test, whatever the model's random choices become.
RUN_6 = [
    ('three_tasks_presented', dict()),
    ('everyone_ticks', dict()),
    ('person_edits', dict(host='beta', pick=2)),
    ('remote_goes_away', dict()),
    ('adversary_deletes_a_note', dict(pick=23)),
    ('adversary_pushes_an_old_note_again', dict(back=1, pick=43)),
    ('person_approves_by_move', dict(edit=False, host='beta', pick=13)),
    ('person_approves_by_move', dict(edit=False, host='beta', pick=12)),
    ('person_approves_with_the_cli', dict(host='beta', pick=2)),
    ('remote_back', dict()),
    ('remote_goes_away', dict()),
    ('person_edits', dict(host='beta', pick=19)),
    ('everyone_ticks', dict()),
    ('person_edits', dict(host='beta', pick=10)),
    ('adversary_deletes_a_note', dict(pick=27)),
    ('adversary_deletes_a_note', dict(pick=2)),
    ('person_edits', dict(host='beta', pick=17)),
    ('person_approves_by_move', dict(edit=True, host='beta', pick=14)),
    ('adversary_pushes_an_old_note_again', dict(back=6, pick=32)),
    ('person_approves_by_move', dict(edit=True, host='alpha', pick=1)),
    ('adversary_deletes_a_note', dict(pick=32)),
    ('person_approves_with_the_cli', dict(host='alpha', pick=8)),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('person_approves_with_the_cli', dict(host='alpha', pick=0)),
    ('everyone_ticks', dict()),
    ('adversary_deletes_a_note', dict(pick=1)),
    ('remote_back', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('person_approves_by_move', dict(edit=False, host='alpha', pick=1)),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
    ('everyone_ticks', dict()),
]


def test_long_run_6_a_done_of_an_older_presentation_is_believed() -> None:
    """Run 6 (2026-11-27): alpha sent presentation 1 while beta's claim of presentation 2 lost its
    merge; the cloud refused alpha's signed done as older, stayed claimed, and the note was deleted
    and written again at every tick."""
    machine = Protocol()
    for name, args in RUN_6:
        getattr(machine, name)(**args)
        machine.check_safety()
    machine.teardown()


#: Run 12 (session 11, the first long run with the adversary's new moves), shrunk to the steps that matter:
#: beta's edit reached the remote; alpha, not having seen it, rejected the old draft while beta
#: approved the new one (the remote away). Alpha's merge rightly let the edit beat its rejection, but
#: beta took that losing rejection, found in the history, as a "no" that reached the remote first and
#: dropped its claim: beta held rejected, the others claimed, for ever.
RUN_12 = [
    ("three_tasks_presented", dict()),
    ("person_approves_by_move", dict(edit=False, host="alpha", pick=8)),
    ("person_edits", dict(host="beta", pick=18)),
    ("everyone_ticks", dict()),
    ("person_approves_by_move", dict(edit=False, host="alpha", pick=19)),
    ("remote_goes_away", dict()),
    ("person_rejects", dict(host="alpha", pick=11)),
    ("person_approves_with_the_cli", dict(host="beta", pick=6)),
    ("everyone_ticks", dict()),
]


def test_long_run_12_a_rejection_of_a_replaced_draft_does_not_beat_a_claim_of_the_new_one() -> None:
    machine = Protocol()
    for name, args in RUN_12:
        getattr(machine, name)(**args)
        machine.check_safety()
    machine.teardown()
