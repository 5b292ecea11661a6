"""Safe execution's branches driven through a real home (fte/states/execution.py, docs/execution.md):
the retry schedule of a transient error, a reply refused before anything was sent, an attempt that
finished before a restart. Written from a mutation run that left them unchecked (docs/RELIABILITY.md)."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hosts import HostRun, drop_mail

from fte.clock import parse_iso
from fte.errors import AuthError, BadInput, ExecutionError, OutcomeUnknown, Unreachable
from fte.io.channels.contract import Performed
from fte.models.tables import Execution, Task
from fte.states.execution import BACKOFF_BASE, MAX_ATTEMPTS
from fte.tick.context import TickReport


class Scripted:
    """An email executor whose sends answer in turn what ``answers`` says: an exception to raise,
    or a provider id. Its lookups answer what ``lookups`` says, then find nothing."""

    kinds = ("email.reply",)

    def __init__(self, *answers: Exception | str, lookups: list[Exception | str | None] | None = None) -> None:
        self.answers = list(answers)
        self.lookups = list(lookups or [])
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
        """What ``lookups`` says next (an exception to raise, a provider id, None); None after that."""
        answer = self.lookups.pop(0) if self.lookups else None
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def approved(home_dir: Path, executor: Scripted, clock: Clock) -> tuple[HostRun, str]:
    """One reply, presented and approved by the person's move, on a host using ``executor``."""
    run = presented(home_dir, 1, executor, clock)
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    note.rename(run.home.vault.root / "Approved" / note.name)
    return run, task.id


def presented(home_dir: Path, n: int, executor: Scripted | None = None, clock: Clock | None = None) -> HostRun:
    """``n`` replies presented (pending) on a host that sends through ``executor`` when given."""
    for i in range(1, n + 1):
        drop_mail(home_dir, i)
    run = HostRun(home_dir, clock=clock)
    if executor is not None:
        run.runner = type(run.runner)(run.home, executors={"email.reply": executor})
    run.tick()
    return run


def approve_all(run: HostRun) -> None:
    """The person moves every presented reply into ``Approved/``."""
    for note in list((run.home.vault.root / "Pending_Approval" / "email").iterdir()):
        note.rename(run.home.vault.root / "Approved" / note.name)


def interrupt(run: HostRun, executor: Scripted, tid: str, clock: Clock) -> Execution:
    """An attempt row with no outcome: the call was cut short by a crash."""
    [attempt] = run.home.store.start_executions([(tid, executor.key_for(run.home.store.get(tid)))], clock())
    return attempt


def claim_now(run: HostRun) -> list[Task]:
    """The person's move read (approved) and this host's claim made, its notes written — the state a
    crash right after the claim's push leaves; nothing performed yet."""
    run.runner.person.work_tree(TickReport())
    claimed = run.runner.executions.claim(limit=10)
    run.home.lifecycle.flush()
    return claimed


def test_a_transient_error_is_retried_after_30_then_60_seconds_then_given_up(home_dir: Path) -> None:
    clock = Clock()
    busy = ExecutionError("451 4.3.2 try again later", transient=True)
    executor = Scripted(busy, busy, busy)
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    assert BACKOFF_BASE == 30.0  # docs/execution.md promises 30 s, then 60 s
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
    ex = run.runner.executions
    [claimed] = claim_now(run)
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


def test_approvals_beyond_one_claim_batch_are_claimed_at_once_not_after_the_interval(home_dir: Path) -> None:
    """A tick claims at most CLAIM_BATCH tasks; the daemon then ticks again at once for the rest —
    it used to wait for the next sync interval (30 s by default), or for an unrelated event."""
    import threading

    from hosts import raise_limits

    from fte.host.home import open_home
    from fte.host.loop import run_daemon
    from fte.tick.execute import CLAIM_BATCH

    n = CLAIM_BATCH + 1
    raise_limits(home_dir, n * 10)
    for i in range(n):
        drop_mail(home_dir, i)
    run = HostRun(home_dir)
    run.tick()
    pending = run.home.vault.root / "Pending_Approval" / "email"
    for note in list(pending.iterdir()):
        note.rename(run.home.vault.root / "Approved" / note.name)
    run.close()
    toml = home_dir / "fte.toml"
    text = toml.read_text()
    for key in ("sync_interval = 30 ", "watch_interval = 1 ", "file_events = true "):
        assert key in text
    toml.write_text(text.replace("sync_interval = 30 ", "sync_interval = 900 ")
                    .replace("watch_interval = 1 ", "watch_interval = 900 ")
                    .replace("file_events = true ", "file_events = false "))
    daemon = threading.Thread(target=run_daemon, args=(home_dir,), kwargs={"log": lambda _m: None, "max_ticks": 2},
                              daemon=True)
    daemon.start()
    daemon.join(timeout=120)
    assert not daemon.is_alive(), "the second tick waited for the interval"
    with open_home(home_dir) as h:
        assert h.store.counts() == {"done": n}
    # One claim batch per tick: 500 claims in one commit, the last one in the next.
    log = subprocess.run(["git", "log", "--format=%B%x00"], cwd=home_dir / "vault", capture_output=True,
                         text=True, check=True).stdout
    per_commit = [body.count(" claim -> claimed") for body in log.split("\0")]
    assert sorted(c for c in per_commit if c) == [1, CLAIM_BATCH]


def test_after_a_lost_database_another_hosts_claim_is_never_resumed_here(home_dir: Path) -> None:
    """A claim read back from the vault after the database was lost (flag ``rebuilt``) is settled by
    looking its key up — but only this host's own: another host's claim is not attempted here,
    whichever way its name sorts."""
    clock = Clock()
    executor = Scripted("<x@example.com>")
    run, tid = approved(home_dir, executor, clock)
    ex = run.runner.executions
    claim_now(run)
    me = run.home.settings.agent
    for other in ("a" + me, me + "z"):
        with run.home.store.write() as s:
            row = s.get(Task, tid)
            row.claimed_by, row.flags = other, {"rebuilt": True}
        assert ex.resume() == [], other
        assert executor.calls == 0 and run.home.store.executions(tid) == []
    run.close()


@pytest.mark.parametrize("per_hour", [1, 2])
def test_the_rate_limit_lets_exactly_its_number_through(home_dir: Path, per_hour: int) -> None:
    """N replies an hour: of three approved, exactly N are sent in the tick; the rest wait approved."""
    from hosts import raise_limits

    raise_limits(home_dir, per_hour)
    run = presented(home_dir, 3)
    approve_all(run)
    run.tick()
    assert run.home.store.counts() == {"done": per_hour, "approved": 3 - per_hour}
    run.close()


def test_a_claim_left_without_an_attempt_is_performed_at_the_next_tick(home_dir: Path) -> None:
    """A crash between the claim's push and the call leaves this host's claim with no attempt: the
    next tick performs it (once)."""
    clock = Clock()
    executor = Scripted("<sent-1@example.com>")
    run, tid = approved(home_dir, executor, clock)
    claim_now(run)
    assert run.home.store.get(tid).state == "claimed" and executor.calls == 0
    run.tick()
    assert run.home.store.get(tid).state == "done" and executor.calls == 1
    run.close()


def test_three_interrupted_attempts_not_found_at_the_provider_give_up(home_dir: Path) -> None:
    """Each restart after an interrupted call looks the key up; not found, it tries again — three
    attempts in all, then the task fails with outcome unknown and nothing is sent a fourth time."""
    clock = Clock()
    executor = Scripted("<never@example.com>")
    run, tid = approved(home_dir, executor, clock)
    claim_now(run)
    for _ in range(3):  # three calls cut short by crashes: attempt rows with no outcome
        interrupt(run, executor, tid, clock)
    outcomes = run.runner.executions.resume()
    row = run.home.store.get(tid)
    assert [o.state for o in outcomes] == ["failed"] and executor.calls == 0
    assert row.state == "failed" and "gave up after 3 attempts" in row.last_error
    run.close()


def test_an_attempt_that_failed_before_a_restart_fails_the_task_without_a_new_call(home_dir: Path) -> None:
    """A crash after the failed attempt was finished, before the task was failed: the next start
    fails it with that attempt's error and outcome — no lookup, no second call."""
    clock = Clock()
    executor = Scripted("<never@example.com>")
    run, tid = approved(home_dir, executor, clock)
    claim_now(run)
    attempt = interrupt(run, executor, tid, clock)
    run.home.store.finish_execution(attempt.id, "error", clock(), error="550 5.1.1 no such user")
    outcomes = run.runner.executions.resume()
    row = run.home.store.get(tid)
    assert [o.state for o in outcomes] == ["failed"] and executor.calls == 0
    assert row.state == "failed" and "550 5.1.1 no such user" in row.last_error
    run.close()


def test_a_claim_that_lost_to_another_hosts_is_released_to_it(home_dir: Path) -> None:
    """The pushed tree holds another host's claim of the task, not ours: ours is released and the
    other host's note adopted; nothing is performed here."""
    clock = Clock()
    executor = Scripted("<x@example.com>")
    run, tid = approved(home_dir, executor, clock)
    ex = run.runner.executions
    [claimed] = claim_now(run)
    theirs = "In_Progress/desktop/" + run.home.store.get(tid).note_path.rsplit("/", 1)[1]
    assert ex.settle([claimed], lambda ids: {tid: [theirs]}, pushed=True) == []
    row = run.home.store.get(tid)
    assert row.state == "approved" and row.note_path == theirs and executor.calls == 0
    assert run.home.store.timeline(tid)[-1].event == "release"
    run.close()


def test_an_executor_that_breaks_on_one_task_does_not_stop_the_rest_of_the_batch(home_dir: Path) -> None:
    """A bug in an executor (any exception) fails that task alone, outcome unknown; the next task
    of the same batch is still performed in the same tick."""
    clock = Clock()
    executor = Scripted(RuntimeError("boom"), "<sent@example.com>")
    run = presented(home_dir, 2, executor, clock)
    approve_all(run)
    run.tick()
    assert executor.calls == 2 and run.home.store.counts() == {"failed": 1, "done": 1}
    [failed] = run.home.store.tasks(state="failed")
    assert "RuntimeError: boom" in failed.last_error and run.home.store.executions(failed.id)[-1].outcome == "unknown"
    run.close()


def test_the_rate_limit_counts_what_this_hour_already_sent(home_dir: Path) -> None:
    """Two replies an hour: one sent, then two more approved — one more goes, one waits."""
    from hosts import raise_limits

    raise_limits(home_dir, 2)
    run = presented(home_dir, 3)
    notes = sorted((run.home.vault.root / "Pending_Approval" / "email").iterdir())
    notes[0].rename(run.home.vault.root / "Approved" / notes[0].name)
    run.tick()
    assert run.home.store.counts() == {"done": 1, "pending": 2}
    for note in notes[1:]:
        note.rename(run.home.vault.root / "Approved" / note.name)
    run.tick()
    assert run.home.store.counts() == {"done": 2, "approved": 1}
    run.close()


def test_an_approval_that_no_longer_verifies_goes_back_alone_and_the_rest_are_claimed(home_dir: Path) -> None:
    """Of two approved tasks, one whose text changed after the approval (its signature no longer
    matches) goes back to pending; the other is still claimed in the same round."""
    run = presented(home_dir, 2)
    approve_all(run)
    run.runner.person.work_tree(TickReport())
    run.home.lifecycle.flush()
    first, second = sorted(run.home.store.tasks(state="approved"), key=lambda t: (t.created_at, t.id))
    with run.home.store.write() as s:
        s.get(Task, first.id).body = first.body + "\nP.S. sent without the person seeing this line\n"
    claimed = run.runner.executions.claim(limit=10)
    assert run.home.store.get(first.id).state == "pending"
    assert [t.id for t in claimed] == [second.id]
    run.close()


def two_approvals(home_dir: Path, executor: Scripted, clock: Clock) -> tuple[HostRun, str, Path]:
    """Two replies presented on a host using ``executor``: the first approved and claimed (its call
    not made yet), the second's pending note returned for the caller to approve later."""
    run = presented(home_dir, 2, executor, clock)
    first, second = sorted((run.home.vault.root / "Pending_Approval" / "email").iterdir())
    first.rename(run.home.vault.root / "Approved" / first.name)
    [claimed] = claim_now(run)
    return run, claimed.id, second


def test_an_interrupted_attempt_the_provider_cannot_look_up_fails_for_a_person_and_the_tick_goes_on(
        home_dir: Path) -> None:
    """After a crash mid-call, a provider that cannot tell whether the key arrived (SMTP with the
    message left in ``tmp/``) fails that task with outcome unknown, for the person; another approval
    in the same tick is still performed. The lookup's answer used to escape the tick, every tick."""
    clock = Clock()
    executor = Scripted("<sent-2@example.com>", lookups=[OutcomeUnknown("a send was interrupted; it may have been delivered")])
    run, tid, second = two_approvals(home_dir, executor, clock)
    interrupt(run, executor, tid, clock)
    second.rename(run.home.vault.root / "Approved" / second.name)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == "failed" and "may have been delivered" in row.last_error
    assert [e.outcome for e in run.home.store.executions(tid)] == ["unknown"]
    assert executor.calls == 1 and run.home.store.counts() == {"failed": 1, "done": 1}
    run.close()


@pytest.mark.parametrize("refusal", [AuthError("403 insufficient scope: cannot read Sent"),
                                     ExecutionError("LinkedIn lookup failed: 403 ACCESS_DENIED")])
def test_an_interrupted_attempt_whose_lookup_is_refused_is_not_sent_again(home_dir: Path, refusal: Exception) -> None:
    """A lookup the provider refuses (a missing permission) cannot tell whether the first call
    arrived: the task fails with outcome unknown — sending again could send twice."""
    clock = Clock()
    executor = Scripted("<again@example.com>", lookups=[refusal])
    run, tid, _second = two_approvals(home_dir, executor, clock)
    interrupt(run, executor, tid, clock)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == "failed" and executor.calls == 0
    assert run.home.store.executions(tid)[-1].outcome == "unknown" and str(refusal) in row.last_error
    run.close()


def test_an_interrupted_attempt_whose_lookup_breaks_is_left_to_a_person_and_the_tick_goes_on(home_dir: Path) -> None:
    """A lookup that raises what no provider answer should (a 200 whose body is not JSON: the
    client's ValueError) cannot tell anything: that task fails with outcome unknown, nothing is sent
    again, and the other approval of the tick is performed (the error escaped every tick)."""
    clock = Clock()
    executor = Scripted("<sent-2@example.com>", lookups=[ValueError("Expecting value: line 1 column 1 (char 0)")])
    run, tid, second = two_approvals(home_dir, executor, clock)
    interrupt(run, executor, tid, clock)
    second.rename(run.home.vault.root / "Approved" / second.name)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == "failed" and "ValueError: Expecting value" in row.last_error and "a person decides" in row.last_error
    assert executor.calls == 1 and run.home.store.counts() == {"failed": 1, "done": 1}
    run.close()


def test_a_lookup_that_breaks_after_a_transient_error_counts_as_not_found(home_dir: Path) -> None:
    """After the provider said "not done, try later", the double-check's own failure (any error)
    is "not found": the retry is scheduled, and the tick goes on."""
    clock = Clock()
    busy = ExecutionError("451 4.3.2 try again later", transient=True)
    executor = Scripted(busy, "<sent-1@example.com>", lookups=[ValueError("not JSON")])
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    assert run.home.store.get(tid).state == "claimed" and run.home.store.get(tid).flags["retry_at"]
    clock.now += timedelta(seconds=31)
    run.tick()
    assert run.home.store.get(tid).state == "done" and executor.calls == 2
    run.close()


@pytest.mark.parametrize("down", [Unreachable("Gmail not reachable"),
                                  ExecutionError("Odoo lookup failed: timed out", transient=True)])
def test_an_interrupted_attempt_waits_while_the_lookup_cannot_reach_the_provider(home_dir: Path, down: Exception) -> None:
    """The provider cannot be asked now: nothing is sent and nothing fails — the claim and its open
    attempt stay, and the lookup is made again at the next tick (here: not found, so sent once)."""
    clock = Clock()
    executor = Scripted("<sent-1@example.com>", lookups=[down, None])
    run, tid, _second = two_approvals(home_dir, executor, clock)
    interrupt(run, executor, tid, clock)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == "claimed" and executor.calls == 0
    assert [e.outcome for e in run.home.store.executions(tid)] == [None]
    run.tick()
    assert run.home.store.get(tid).state == "done" and executor.calls == 1
    run.close()


def test_an_interrupted_attempt_found_at_the_provider_is_done_without_a_call(home_dir: Path) -> None:
    """Found at the provider: done with the provider's id, the audit saying how it was learnt; an
    ordinary completion carries no such note."""
    clock = Clock()
    executor = Scripted("<sent-2@example.com>", lookups=["provider-id-1"])
    run, tid, second = two_approvals(home_dir, executor, clock)
    interrupt(run, executor, tid, clock)
    second.rename(run.home.vault.root / "Approved" / second.name)
    run.tick()
    assert executor.calls == 1 and run.home.store.counts() == {"done": 2}
    assert run.home.store.executions(tid)[-1].external_id == "provider-id-1"
    detail = run.home.store.timeline(tid)[-1].detail
    assert detail == {"external_id": "provider-id-1", "note": "found at the provider after a restart"}
    [other] = [t for t in run.home.store.tasks(state="done") if t.id != tid]
    assert run.home.store.timeline(other.id)[-1].detail == {"external_id": "<sent-2@example.com>"}
    run.close()


@pytest.mark.parametrize(("lookup", "state"), [(AuthError("403: cannot read Sent"), "claimed"),
                                               (OutcomeUnknown("cannot tell"), "failed")])
def test_after_a_transient_error_a_refused_lookup_counts_as_not_found(home_dir: Path, lookup: Exception,
                                                                      state: str) -> None:
    """The provider said the call was not done (transient): a lookup it refuses changes nothing and
    the retry is scheduled; a lookup that says it cannot tell fails the task for a person."""
    clock = Clock()
    executor = Scripted(ExecutionError("421 4.7.0 try later", transient=True), lookups=[lookup])
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == state and executor.calls == 1
    assert ("retry_at" in (row.flags or {})) is (state == "claimed")
    run.close()


def test_after_a_restart_the_last_attempt_decides_not_the_first(home_dir: Path) -> None:
    """A first attempt that failed (transient, retry due) and a second cut short by a crash: the
    second is what is settled — looked up, then sent — not the first's error."""
    clock = Clock()
    executor = Scripted("<sent-1@example.com>")
    run, tid = approved(home_dir, executor, clock)
    claim_now(run)
    key = executor.key_for(run.home.store.get(tid))
    [first] = run.home.store.start_executions([(tid, key)], clock())
    run.home.store.finish_execution(first.id, "error", clock(), error="421 try later")
    run.home.store.start_executions([(tid, key)], clock())
    run.runner.executions.resume()
    assert run.home.store.get(tid).state == "done" and executor.calls == 1
    run.close()


def test_a_claim_that_no_longer_verifies_at_execution_fails_alone(home_dir: Path) -> None:
    """Verified again just before the call: a claimed task whose text changed since the approval
    fails without a call; the next claimed task of the batch is still performed."""
    clock = Clock()
    executor = Scripted("<sent@example.com>")
    run = presented(home_dir, 2, executor, clock)
    approve_all(run)
    first, second = sorted(claim_now(run), key=lambda t: (t.created_at, t.id))
    with run.home.store.write() as s:
        s.get(Task, first.id).body = first.body + "\nP.S. changed after the approval\n"
    outcomes = run.runner.executions.execute_many(run.home.store.tasks_by_id([first.id, second.id]))
    assert sorted(o.state for o in outcomes) == ["done", "failed"] and executor.calls == 1
    assert run.home.store.get(first.id).last_error.startswith("not executed:")
    assert run.home.store.get(second.id).state == "done"
    run.close()


def test_a_broken_executors_error_is_kept_to_500_characters(home_dir: Path) -> None:
    """An exception's text is the provider's or a library's: at most 500 characters of it are kept."""
    clock = Clock()
    executor = Scripted(RuntimeError("x" * 5000))
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    [attempt] = run.home.store.executions(tid)
    assert attempt.outcome == "unknown" and len(attempt.error) == 500
    assert attempt.error.startswith("the email.reply executor failed: RuntimeError: xxx")
    run.close()


def test_one_restart_settles_every_claim_whatever_each_ones_state(home_dir: Path) -> None:
    """Six claims after a restart, in the order they are read: another host's, one with no attempt
    yet, one whose attempt finished, one waiting for its retry, one whose attempt failed, one cut
    short. Each is settled as its own state says and none stops the round for the ones after it."""
    from hosts import raise_limits

    raise_limits(home_dir)
    clock = Clock()
    executor = Scripted("<sent-6@example.com>")
    run = presented(home_dir, 6, executor, clock)
    approve_all(run)
    claims = claim_now(run)
    other, fresh, finished, waiting, failed, cut = [t.id for t in sorted(claims, key=lambda t: (t.created_at, t.id))]
    store = run.home.store
    key = {t.id: executor.key_for(t) for t in claims}
    with store.write() as s:
        s.get(Task, other).claimed_by = run.home.settings.agent + "z"
    for tid in (finished, waiting, failed, cut):
        store.start_executions([(tid, key[tid])], clock())
    store.finish_executions([(store.executions(finished)[-1].id, "ok", "<sent-3@example.com>")], clock())
    store.finish_execution(store.executions(waiting)[-1].id, "error", clock(), error="421 try later")
    store.set_flags(waiting, retry_at=(clock.now + timedelta(minutes=5)).isoformat())
    store.finish_execution(store.executions(failed)[-1].id, "error", clock(), error="550 5.1.1 no such user")
    outcomes = {o.task_id: o for o in run.runner.executions.resume()}
    assert {tid: store.get(tid).state for tid in (other, fresh, finished, waiting, failed, cut)} == {
        other: "claimed", fresh: "claimed", finished: "done", waiting: "claimed", failed: "failed", cut: "done"}
    assert outcomes[finished].detail == "<sent-3@example.com>" and set(outcomes) == {finished, failed, cut}
    assert executor.calls == 1 and store.executions(other) == [] and store.executions(fresh) == []
    # another host's is never stale here, whichever way its name sorts
    assert [t.id for t in run.runner.executions.stale_claims()] == [fresh]
    with store.write() as s:
        s.get(Task, other).claimed_by = "0-" + run.home.settings.agent
    assert [t.id for t in run.runner.executions.stale_claims()] == [fresh]
    run.close()


@pytest.mark.parametrize("first", [ExecutionError("550 5.1.1 no such user"),
                                   ExecutionError("421 4.3.2 try later", transient=True),
                                   OutcomeUnknown("the connection was lost after DATA"),
                                   BadInput("a header that cannot be encoded")])
def test_an_error_on_the_first_task_of_a_batch_does_not_stop_the_second(home_dir: Path, first: Exception) -> None:
    clock = Clock()
    executor = Scripted(first, "<sent-2@example.com>")
    run = presented(home_dir, 2, executor, clock)
    approve_all(run)
    run.tick()
    assert executor.calls == 2 and run.home.store.counts().get("done") == 1
    run.close()


def test_the_pushed_tree_decides_the_claim_when_it_holds_more_than_ours(home_dir: Path) -> None:
    """Pushed, and the tree holds our claim and another host's: not ours alone — nothing is
    performed here and ours is released. A row no longer claimed (converged back meanwhile) is
    never performed, even with our note where it was."""
    clock = Clock()
    run, tid = approved(home_dir, Scripted(), clock)
    ex = run.runner.executions
    [claimed] = claim_now(run)
    ours = run.home.store.get(tid).note_path
    theirs = "In_Progress/desktop/" + ours.rsplit("/", 1)[1]
    with run.home.store.write() as s:
        s.get(Task, tid).state = "approved"
    assert ex.settle([claimed], lambda ids: {tid: [ours]}, pushed=True) == []
    with run.home.store.write() as s:
        s.get(Task, tid).state = "claimed"
    assert ex.settle([claimed], lambda ids: {tid: [ours, theirs]}, pushed=True) == []
    assert run.home.store.get(tid).state == "approved" and run.home.store.get(tid).note_path == theirs
    run.close()


def test_a_claim_lost_in_the_local_tree_is_released_even_when_the_push_failed(home_dir: Path) -> None:
    """Not pushed (the remote is away): a claim with only our note stays for the next push, and
    the next claim in the round — whose note the merge replaced with another host's — is released."""
    clock = Clock()
    executor = Scripted()
    run, first, second = two_approvals(home_dir, executor, clock)
    second.rename(run.home.vault.root / "Approved" / second.name)
    claims = sorted(claim_now(run) + [run.home.store.get(first)], key=lambda t: (t.created_at, t.id))
    a, b = claims[0].id, claims[1].id
    theirs = "In_Progress/desktop/" + run.home.store.get(b).note_path.rsplit("/", 1)[1]
    in_tree = {a: [run.home.store.get(a).note_path], b: [theirs]}
    assert run.runner.executions.settle(claims, lambda ids: in_tree, pushed=False) == []
    assert run.home.store.get(a).state == "claimed" and run.home.store.get(b).state == "approved"
    run.close()


def test_a_retry_past_its_time_is_made_at_the_next_tick(home_dir: Path) -> None:
    """The daemon seldom ticks at the very second a retry is due: any tick after it makes it."""
    clock = Clock()
    executor = Scripted(ExecutionError("421 try later", transient=True), "<sent@example.com>")
    run, tid = approved(home_dir, executor, clock)
    run.tick()
    clock.now += timedelta(seconds=BACKOFF_BASE + 17)
    run.tick()
    assert executor.calls == 2 and run.home.store.get(tid).state == "done"
    run.close()


def test_a_rate_limit_already_exceeded_this_hour_claims_nothing(home_dir: Path) -> None:
    """Three sent this hour under a limit of 5, then the limit lowered to 2: the hour is already
    past it, so nothing more is claimed (not "one more, since the count is not exactly 2")."""
    from hosts import raise_limits

    raise_limits(home_dir, 5)
    run = presented(home_dir, 4)
    notes = sorted((run.home.vault.root / "Pending_Approval" / "email").iterdir())
    for note in notes[:3]:
        note.rename(run.home.vault.root / "Approved" / note.name)
    run.tick()
    assert run.home.store.counts() == {"done": 3, "pending": 1}
    run.close()
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text().replace('"email.reply" = 5\n', '"email.reply" = 2\n', 1))
    run = HostRun(home_dir)
    notes[3].rename(run.home.vault.root / "Approved" / notes[3].name)
    run.tick()
    assert run.home.store.counts() == {"done": 3, "approved": 1}
    run.close()


def test_a_limit_of_zero_claims_nothing_and_no_limit_claims_all(home_dir: Path) -> None:
    from hosts import raise_limits

    raise_limits(home_dir, 0)
    run = presented(home_dir, 3)
    approve_all(run)
    run.tick()
    assert run.home.store.counts() == {"approved": 3}
    run.runner.executions.rate_limits.pop("email.reply")  # a kind with no limit at all
    run.tick()
    assert run.home.store.counts() == {"done": 3}
    run.close()


@pytest.mark.parametrize(("answer", "state"), [(Unreachable("not reachable"), "claimed"),
                                               (OutcomeUnknown("cannot tell"), "failed")])
def test_a_lookup_that_settles_nothing_for_one_claim_does_not_hold_back_the_next(
        home_dir: Path, answer: Exception, state: str) -> None:
    """Two attempts cut short: the first's provider cannot be asked now (it waits) or cannot tell
    (it fails for the person); the second's answers "found" — done in the same round."""
    from hosts import raise_limits

    raise_limits(home_dir)
    clock = Clock()
    executor = Scripted(lookups=[answer, "provider-id-2"])
    run, first, second = two_approvals(home_dir, executor, clock)
    second.rename(run.home.vault.root / "Approved" / second.name)
    claims = sorted([run.home.store.get(first), *claim_now(run)], key=lambda t: (t.created_at, t.id))
    for task in claims:
        interrupt(run, executor, task.id, clock)
    run.runner.executions.resume()
    assert [run.home.store.get(t.id).state for t in claims] == [state, "done"] and executor.calls == 0
    run.close()


def test_a_refused_lookups_long_answer_is_kept_to_500_characters(home_dir: Path) -> None:
    clock = Clock()
    executor = Scripted(lookups=[AuthError("403 " + "insufficient scope " * 100)])
    run, tid, _second = two_approvals(home_dir, executor, clock)
    interrupt(run, executor, tid, clock)
    run.tick()
    row = run.home.store.get(tid)
    assert row.state == "failed" and len(row.last_error) == 500
    assert len(run.home.store.executions(tid)[-1].error) == 500
    run.close()


def test_the_retry_is_announced_with_its_number_and_delay(home_dir: Path) -> None:
    """What the daemon's log tells the person reading it: which retry of how many, and when."""
    clock = Clock()
    busy = ExecutionError("421 4.3.2 try later", transient=True)
    run, _tid = approved(home_dir, Scripted(busy, busy), clock)
    said: list[str] = []
    run.runner.executions.log = said.append
    run.tick()
    clock.now += timedelta(seconds=BACKOFF_BASE)
    run.tick()
    retries = [line.split(": ", 1)[1] for line in said if "retry" in line]
    assert retries == ["421 4.3.2 try later; retry 2/3 after 30 s", "421 4.3.2 try later; retry 3/3 after 60 s"]
    run.close()


@pytest.mark.parametrize("state", ["done", "approved"])
def test_settling_a_claim_the_row_has_left_changes_nothing(home_dir: Path, state: str) -> None:
    """Between the claim and the settling, the row learnt that another host performed the task
    (``done``, its note elsewhere), or went back to ``approved``: nothing is released (there is no
    claim left to release) and nothing performed."""
    clock = Clock()
    run, tid = approved(home_dir, Scripted(), clock)
    [claimed] = claim_now(run)
    theirs = "Done/2026-11/" + run.home.store.get(tid).note_path.rsplit("/", 1)[1]
    with run.home.store.write() as s:
        s.get(Task, tid).state = state
    assert run.runner.executions.settle([claimed], lambda ids: {tid: [theirs]}, pushed=True) == []
    assert run.home.store.get(tid).state == state and run.home.store.timeline(tid)[-1].event == "claim"
    run.close()


def test_settling_skips_a_claim_whose_row_is_gone_and_goes_on(home_dir: Path) -> None:
    """A claim whose row no longer exists (a database rebuilt meanwhile) is skipped; the claim
    after it in the same round is still settled — and won."""
    clock = Clock()
    run, tid = approved(home_dir, Scripted(), clock)
    [claimed] = claim_now(run)
    ghost = Task(id="0" * 32, kind="email.reply", state="claimed")
    path = run.home.store.get(tid).note_path
    won = run.runner.executions.settle([ghost, claimed], lambda ids: {tid: [path]}, pushed=True)
    assert [t.id for t in won] == [tid]
    run.close()


@pytest.mark.parametrize("host", ["desktop", "zz-desktop"])
def test_another_hosts_claim_is_adopted_whichever_way_its_path_sorts(home_dir: Path, host: str) -> None:
    clock = Clock()
    run, tid = approved(home_dir, Scripted(), clock)
    [claimed] = claim_now(run)
    theirs = f"In_Progress/{host}/" + run.home.store.get(tid).note_path.rsplit("/", 1)[1]
    assert run.runner.executions.settle([claimed], lambda ids: {tid: [theirs]}, pushed=True) == []
    assert run.home.store.get(tid).note_path == theirs and run.home.store.get(tid).state == "approved"
    run.close()


def test_a_finished_row_with_our_note_in_the_tree_is_never_performed(home_dir: Path) -> None:
    """Whatever state sorts after ``claimed`` (done, failed, rejected…), only a claimed row is
    performed — even with exactly our note in the pushed tree."""
    clock = Clock()
    run, tid = approved(home_dir, Scripted(), clock)
    [claimed] = claim_now(run)
    path = run.home.store.get(tid).note_path
    for state in ("done", "rejected"):
        with run.home.store.write() as s:
            s.get(Task, tid).state = state
        assert run.runner.executions.settle([claimed], lambda ids: {tid: [path]}, pushed=True) == [], state
    run.close()


def test_the_rate_limit_counts_the_last_hour_only(home_dir: Path) -> None:
    """One reply an hour: a send 61 minutes ago does not count any more."""
    from hosts import raise_limits

    raise_limits(home_dir, 1)
    clock = Clock()
    run = presented(home_dir, 2, clock=clock)
    first, second = sorted((run.home.vault.root / "Pending_Approval" / "email").iterdir())
    first.rename(run.home.vault.root / "Approved" / first.name)
    run.tick()
    assert run.home.store.counts() == {"done": 1, "pending": 1}
    clock.now += timedelta(minutes=61)
    second.rename(run.home.vault.root / "Approved" / second.name)
    run.tick()
    assert run.home.store.counts() == {"done": 2}
    run.close()
