"""Safe execution's branches driven through a real home (fte/states/execution.py, docs/execution.md):
the retry schedule of a transient error, a reply refused before anything was sent, an attempt that
finished before a restart. Written from a mutation run that left them unchecked (docs/RELIABILITY.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from fte.clock import parse_iso
from fte.errors import BadInput, ExecutionError
from fte.io.channels.contract import Performed
from fte.models.tables import Task
from fte.states.execution import BACKOFF_BASE, MAX_ATTEMPTS
from fte.tick.context import TickReport

from hosts import HostRun, drop_mail


class Scripted:
    """An email executor whose sends answer in turn what ``answers`` says: an exception to raise,
    or a provider id. Its lookup finds nothing (a transient error left nothing behind)."""

    kinds = ("email.reply",)

    def __init__(self, *answers: Exception | str) -> None:
        self.answers = list(answers)
        self.calls = 0

    def key_for(self, task: Task) -> str:
        return f"<fte.{task.id}@example.com>"

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Performed(external_id=answer)

    def lookup(self, key: str) -> str | None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def approved(home_dir: Path, executor: Scripted, clock: Clock) -> tuple[HostRun, str]:
    """One reply, presented and approved by the person's move, on a host using ``executor``."""
    drop_mail(home_dir, 1)
    run = HostRun(home_dir, clock=clock)
    run.runner = type(run.runner)(run.home, executors={"email.reply": executor})
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    note.rename(run.home.vault.root / "Approved" / note.name)
    return run, task.id


def test_a_transient_error_is_retried_after_30_then_60_seconds_then_given_up(home_dir: Path) -> None:
    clock = Clock()
    busy = ExecutionError("451 4.3.2 try again later", transient=True)
    executor = Scripted(busy, busy, busy)
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    started = clock.now
    flags = run.home.store.get(tid).flags or {}
    assert run.home.store.get(tid).state == "claimed" and executor.calls == 1
    assert parse_iso(flags["retry_at"]) == started + timedelta(seconds=BACKOFF_BASE)
    clock.now = started + timedelta(seconds=BACKOFF_BASE - 1)
    run.tick()
    assert executor.calls == 1  # not before its time
    clock.now = started + timedelta(seconds=BACKOFF_BASE)
    run.tick()
    assert executor.calls == 2
    second = clock.now
    assert parse_iso((run.home.store.get(tid).flags or {})["retry_at"]) == second + timedelta(seconds=2 * BACKOFF_BASE)
    clock.now = second + timedelta(seconds=2 * BACKOFF_BASE)
    run.tick()
    row = run.home.store.get(tid)
    assert executor.calls == MAX_ATTEMPTS == 3 and row.state == "failed"
    assert [e.outcome for e in run.home.store.executions(tid)] == ["error", "error", "error"]
    run.close()


def test_a_reply_refused_before_sending_fails_alone_as_not_sent(home_dir: Path) -> None:
    """The contract: ``perform`` raises BadInput only before anything is sent — a permanent failure,
    the attempt's outcome ``error`` (so `fte replay` may retry it), never ``unknown``."""
    clock = Clock()
    executor = Scripted(BadInput("the reply has a header that cannot be encoded"))
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == "failed" and row.last_error.startswith("not sent: the reply has a header")
    assert [e.outcome for e in run.home.store.executions(tid)] == ["error"]
    run.close()


def test_an_attempt_that_finished_before_a_restart_is_recorded_not_sent_again(home_dir: Path) -> None:
    """A crash after the provider accepted and the attempt was finished, before ``done`` was
    recorded: the next start records it from the attempt, without a second send."""
    clock = Clock()
    executor = Scripted("<sent-1@example.com>")
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    assert run.home.store.get(tid).state == "done" and executor.calls == 1
    # Put the task back where the crash would have left it: claimed, the attempt finished "ok".
    with run.home.store.write() as s:
        row = s.get(Task, tid)
        row.state = "claimed"
    run.runner.executions.resume()
    row = run.home.store.get(tid)
    assert row.state == "done" and executor.calls == 1
    assert run.home.store.timeline(tid)[-1].detail.get("note") == "recorded after a restart"
    run.close()


def test_a_claim_in_the_pushed_tree_is_performed_only_when_it_is_this_hosts(home_dir: Path) -> None:
    """After the push, a claimed row whose note is in the pushed tree is performed only if this host
    made the claim: a row that took in another host's claim (its note at the same path) is not —
    whether that host's name sorts before or after this one's."""
    clock = Clock()
    run, tid = approved(home_dir, Scripted(), clock)
    run.runner.person.work_tree(TickReport())  # the person's move read: approved, not yet claimed
    ex = run.runner.executions
    [claimed] = ex.claim(limit=10)
    run.home.lifecycle.flush()
    row = run.home.store.get(tid)
    in_tree = {tid: [row.note_path]}
    assert [t.id for t in ex.settle([claimed], lambda ids: in_tree, pushed=True)] == [tid]
    assert ex.settle([claimed], lambda ids: in_tree, pushed=False) == []  # not pushed: not won
    me = run.home.settings.agent
    for other in ("a" + me, me + "z", "0-" + me):
        with run.home.store.write() as s:
            s.get(Task, tid).claimed_by = other
        assert ex.settle([claimed], lambda ids: in_tree, pushed=True) == [], other
    run.close()
