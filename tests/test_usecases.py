"""The use-case layer under every front end (fte/usecases/): the CLI only parses and prints, a
decision needs no daemon, and a decision about a presentation the task has left is refused."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hosts import pending

from fte.errors import BadInput, NotFound, Stale
from fte.usecases import decisions, reads

CLI = Path(__file__).resolve().parents[1] / "fte" / "cli.py"


def test_the_command_line_holds_no_sql_and_no_lifecycle() -> None:
    """cli.py parses and prints: no SQL text, no store, lifecycle, runner or git of its own."""
    tree = ast.parse(CLI.read_text())
    sql = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
           and re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", n.value)]
    assert sql == []
    imported = {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names}
    for banned in ("fte.host.home.open_home", "fte.daemon.Runner", "fte.models.readonly.run_query",
                   "fte.models.store.Store", "fte.states.reconcile.approve"):
        assert banned not in imported, banned
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not attributes & {"lifecycle", "store", "fire", "git"}, attributes & {"lifecycle", "store", "fire", "git"}


def test_approving_builds_no_daemon(home_dir: Path) -> None:
    """An executor whose settings cannot be built (SMTP with no server) does not stop a decision:
    approving one task reads the tree, signs and publishes — it builds no executor, source or drafter."""
    task_id = pending(home_dir)[0]
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text().replace('transport = "maildir"', 'transport = "smtp"', 1))
    from fte.config import load_settings
    from fte.io.channels.registry import build_executors

    with pytest.raises(BadInput):
        build_executors(load_settings(home_dir))  # what a Runner would have built, and failed on
    decided = decisions.approve(home_dir, task_id[:8])
    assert decided.task.state == "approved"
    assert reads.show(home_dir, task_id)["state"] == "approved"


def test_a_decision_about_an_older_presentation_is_refused(home_dir: Path) -> None:
    first, second = pending(home_dir, 2)
    shown = reads.show(home_dir, first)
    edited = decisions.edit(home_dir, first, shown["body"] + "\nOne more line.\n", epoch=shown["epoch"]).task
    assert edited.epoch != shown["epoch"]
    with pytest.raises(Stale):
        decisions.approve(home_dir, first, epoch=shown["epoch"])  # the page still showed the old draft
    with pytest.raises(Stale):
        decisions.reject(home_dir, first, epoch=shown["epoch"])
    assert reads.show(home_dir, first)["state"] == "pending"
    assert decisions.approve(home_dir, first, epoch=edited.epoch).task.state == "approved"
    assert decisions.reject(home_dir, second, reason="not now",
                            epoch=reads.show(home_dir, second)["epoch"]).task.state == "rejected"
    with pytest.raises(BadInput, match="already decided"):
        decisions.approve(home_dir, second)


def test_reads_answer_what_the_rows_hold(home_dir: Path) -> None:
    ids = pending(home_dir, 3)
    status = reads.status(home_dir)
    assert status["counts"]["pending"] == 3 and status["tasks"] == 3
    listed = reads.tasks(home_dir, state="pending", limit=2)
    assert len(listed) == 2 and {t["id"] for t in listed} < set(ids)
    with pytest.raises(BadInput):
        reads.tasks(home_dir, state="pendingg")
    with pytest.raises(NotFound):
        reads.show(home_dir, "zzzz")
    detail = reads.show(home_dir, ids[0])
    assert [t["event"] for t in detail["timeline"]][-1] == "present"
    rows = reads.sql(home_dir, "SELECT id FROM tasks ORDER BY id", limit=2)
    assert rows.cut and len(rows.rows) == 2
    assert not reads.sql(home_dir, "SELECT id FROM tasks", limit=3).cut
