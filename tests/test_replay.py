"""Where `fte replay` sends a failed task (fte/states/replay.py, docs/execution.md), each branch driven
through a real home: a drafting failure, an unknown outcome (found, not found, not askable, with and
without --force), an approval that no longer verifies. Written from a mutation run that left these
branches unchecked (docs/RELIABILITY.md)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from hosts import HostRun, drop_mail

from fte.errors import DraftError, ExecutionError, OutcomeUnknown
from fte.host.home import open_home
from fte.io.channels.contract import Draft, Performed
from fte.models.tables import Task
from fte.states import replay


class CutShort:
    """An email executor whose send is cut short (the outcome unknown); its lookup answers what the
    test says: a provider id, nothing, or "cannot be asked"."""

    kinds = ("email.reply",)

    def __init__(self, lookup: str | None | Exception = None) -> None:
        self.answer = lookup

    def key_for(self, task: Task) -> str:
        return f"<fte.{task.id}@example.com>"

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        raise OutcomeUnknown("the connection was lost after DATA")

    def lookup(self, key: str) -> str | None:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def failed_unknown(home_dir: Path) -> str:
    """One reply approved by the person's move, sent, and cut short: failed, outcome unknown."""
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.runner = type(run.runner)(run.home, executors={"email.reply": CutShort()})
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    note.rename(run.home.vault.root / "Approved" / note.name)
    run.tick()
    assert run.home.store.get(task.id).state == "failed"
    assert run.home.store.executions(task.id)[-1].outcome == "unknown"
    run.close()
    return task.id


@pytest.mark.parametrize(("answer", "force", "target", "says"), [
    ("provider-id-1", False, "approved", "found at the provider"),
    (None, False, None, "not found at the provider: use --force"),
    (None, True, "approved", "sending again (--force)"),
    (ExecutionError("403 missing permission"), False, None, "could not be asked (403 missing permission)"),
    (ExecutionError("403 missing permission"), True, "approved", "could not be asked"),
])
def test_an_unknown_outcome_is_looked_up_before_anything_is_sent_again(home_dir: Path, answer: object, force: bool,
                                                                       target: str | None, says: str) -> None:
    tid = failed_unknown(home_dir)
    with open_home(home_dir) as h:
        assert h.lifecycle.trust is not None
        p = replay.plan(h.lifecycle, h.store.get(tid), {"email.reply": CutShort(answer)}, h.lifecycle.trust, force)
    assert p.target == target and says in p.reason, p


def test_without_the_executor_an_unknown_outcome_needs_force(home_dir: Path) -> None:
    tid = failed_unknown(home_dir)
    with open_home(home_dir) as h:
        assert h.lifecycle.trust is not None
        p = replay.plan(h.lifecycle, h.store.get(tid), {}, h.lifecycle.trust, False)
        assert p.target is None and "use --force" in p.reason
        with pytest.raises(Exception, match="use --force"):
            replay.apply(h.lifecycle, [p], actor="ann")
        assert h.store.get(tid).state == "failed", "a refused plan changes nothing"


def test_a_known_failure_is_retried_with_the_same_key(home_dir: Path) -> None:
    tid = failed_unknown(home_dir)
    with sqlite3.connect(home_dir / "fte.db") as db:  # the last attempt ended definitely (a 5xx)
        db.execute("UPDATE executions SET outcome = 'error' WHERE task_id = ?", (tid,))
    with open_home(home_dir) as h:
        assert h.lifecycle.trust is not None
        p = replay.plan(h.lifecycle, h.store.get(tid), {"email.reply": CutShort(None)}, h.lifecycle.trust, False)
        assert (p.target, p.reason) == ("approved", "retry with the same idempotency key")
        [task] = replay.apply(h.lifecycle, [p], actor="ann")
        assert task.state == "approved" and task.approval is not None and task.last_error is None


def test_an_approval_that_no_longer_verifies_goes_back_to_the_person(home_dir: Path) -> None:
    tid = failed_unknown(home_dir)
    with sqlite3.connect(home_dir / "fte.db") as db:  # the draft changed behind the approval
        db.execute("UPDATE tasks SET body = 'something else' WHERE id = ?", (tid,))
    with open_home(home_dir) as h:
        assert h.lifecycle.trust is not None
        p = replay.plan(h.lifecycle, h.store.get(tid), {"email.reply": CutShort("found")}, h.lifecycle.trust, True)
        assert p.target == "pending" and "approval no longer valid" in p.reason
        [task] = replay.apply(h.lifecycle, [p], actor="ann")
        assert task.state == "pending" and task.approval is None, "a fresh decision, not the old approval"


class Broken:
    name = "broken"

    def draft(self, task: Task, handbook: str, style: object = None) -> Draft:
        raise DraftError("the model refused", transient=False)


def test_a_drafting_failure_is_drafted_again(home_dir: Path) -> None:
    drop_mail(home_dir, 2)
    with open_home(home_dir) as h:
        from fte.daemon import Runner

        Runner(h, drafter=Broken()).tick()
        [task] = h.store.tasks(state="failed")
        assert h.lifecycle.trust is not None
        p = replay.plan(h.lifecycle, task, {}, h.lifecycle.trust, False)
        assert (p.target, p.reason) == ("detected", "drafting failed: draft again")
        [again] = replay.apply(h.lifecycle, [p], actor="ann")
        assert again.state == "detected"
        p = replay.plan(h.lifecycle, again, {}, h.lifecycle.trust, False)
        assert p.target is None and "is detected, not failed" in p.reason


def test_it_is_the_last_attempt_whose_outcome_counts(home_dir: Path) -> None:
    """A first attempt refused for sure, a second cut short: the outcome is unknown (the last one)."""
    tid = failed_unknown(home_dir)
    with sqlite3.connect(home_dir / "fte.db") as db:
        db.execute("UPDATE executions SET outcome = 'error' WHERE task_id = ?", (tid,))
        db.execute("INSERT INTO executions (task_id, attempt, idempotency_key, started_at, finished_at, outcome) "
                   "SELECT task_id, 2, idempotency_key, started_at, finished_at, 'unknown' FROM executions "
                   "WHERE task_id = ? AND attempt = 1", (tid,))
    with open_home(home_dir) as h:
        assert h.lifecycle.trust is not None
        p = replay.plan(h.lifecycle, h.store.get(tid), {"email.reply": CutShort(None)}, h.lifecycle.trust, False)
        assert p.target is None and "outcome unknown" in p.reason
