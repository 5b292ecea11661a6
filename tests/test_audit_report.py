"""Views, audit export and the briefing on a database filled through the lifecycle (not by hand)."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta

from conftest import fte_cli, new_task

from fte.models.readonly import run_query
from fte.reports.audit import export
from fte.reports.briefing import briefing_path, figures, render

WAITS = {"a": 2, "b": 5, "c": 1}  # hours each decision waits


def fill(home, clock):
    lc = home.lifecycle
    ids = {}
    for name in "abcd":
        ids[name] = new_task(home, ref=f"<{name}@x>", title=f"Task {name}").id
    clock.advance(hours=1)
    for tid in ids.values():
        lc.fire(tid, "draft", actor="template", source="daemon", changes={"body": "Hello"})
        lc.fire(tid, "sync", actor="cloud", source="daemon")
        lc.fire(tid, "present", actor="laptop", source="daemon")
    start = clock.now
    for name, hours in sorted(WAITS.items(), key=lambda kv: kv[1]):
        clock.now = start + timedelta(hours=hours)
        if name == "c":
            lc.fire(ids[name], "reject", actor="bob", source="obsidian", reason="spam")
            continue
        lc.fire(ids[name], "approve", actor="ann", source="cli", changes={"approval": {"by": "ann"}})
        lc.fire(ids[name], "claim", actor="laptop", source="daemon", changes={"claimed_by": "laptop"})
        attempt = home.store.start_execution(ids[name], f"<k{name}>", clock.now)
        if name == "a":
            home.store.finish_execution(attempt.id, "ok", clock.now, external_id="<ka>")
            lc.fire(ids[name], "complete", actor="laptop", source="daemon", external_id="<ka>")
        else:
            home.store.finish_execution(attempt.id, "error", clock.now, error="smtp down")
            lc.fire(ids[name], "fail", actor="laptop", source="daemon", changes={"last_error": "smtp down"}, error="smtp down")
    return ids


def q(home, sql):
    cols, rows = run_query(home.settings.db_path, sql)
    return [dict(zip(cols, r)) for r in rows]


def test_views_answer_with_the_numbers_of_the_lifecycle(home, clock) -> None:
    ids = fill(home, clock)
    lat = {r["task_id"]: r for r in q(home, "SELECT * FROM approval_latency")}
    assert {tid: lat[ids[n]]["seconds_waited"] for n, tid in ids.items() if n in WAITS} == {
        ids[n]: h * 3600.0 for n, h in WAITS.items()}
    assert lat[ids["c"]]["decision"] == "rejected" and lat[ids["c"]]["decided_by"] == "bob"
    outcomes = {r["task_id"]: r for r in q(home, "SELECT * FROM execution_outcomes")}
    assert outcomes[ids["a"]]["last_outcome"] == "ok" and outcomes[ids["a"]]["external_id"] == "<ka>"
    assert outcomes[ids["b"]]["last_outcome"] == "error" and outcomes[ids["b"]]["errors"] == 1
    [day] = q(home, "SELECT * FROM throughput_daily")
    assert (day["detected"], day["presented"], day["approved"], day["rejected"], day["done"], day["failed"]) == (4, 4, 2, 1, 1, 1)
    assert q(home, "SELECT cause, failures FROM failures_by_cause") == [{"cause": "smtp down", "failures": 1}]
    decisions = q(home, "SELECT person, decision, title, reason FROM decisions ORDER BY at")
    assert decisions == [{"person": "bob", "decision": "rejected", "title": "Task c", "reason": "spam"},
                         {"person": "ann", "decision": "approved", "title": "Task a", "reason": None},
                         {"person": "ann", "decision": "approved", "title": "Task b", "reason": None}]
    timeline = q(home, f"SELECT event FROM task_timeline WHERE task_id = '{ids['a']}' ORDER BY version")
    assert [r["event"] for r in timeline] == ["detect", "draft", "sync", "present", "approve", "claim", "complete"]


def test_named_queries_from_the_command_line(home, clock) -> None:
    fill(home, clock)
    listing = fte_cli("sql", "--list", "--home", str(home.settings.home))
    assert "approval-latency" in listing.output and "failures" in listing.output
    r = fte_cli("sql", "approval-latency", "--json", "--home", str(home.settings.home))
    rows = json.loads(r.output)
    assert [round(x["seconds_waited"] / 3600) for x in rows] == [5, 2, 1]
    r = fte_cli("sql", "failures", "--csv", "--home", str(home.settings.home))
    assert r.output.splitlines()[1].startswith("smtp down,email.reply,1,")


def test_audit_export_writes_one_file_per_day_in_the_original_format(home, clock) -> None:
    ids = fill(home, clock)
    written, removed = export(home.store, home.vault, "laptop", clock.now + timedelta(days=1))
    assert written == ["Logs/laptop/audit/2026-11-26.json"] and removed == []
    entries = json.loads(home.vault.path(written[0]).read_text())
    n_transitions = q(home, "SELECT count(*) AS n FROM transitions")[0]["n"]
    assert len(entries) == n_transitions
    assert set(entries[0]) == {"timestamp", "action_type", "actor", "target", "parameters", "approval_status",
                               "approved_by", "result"}
    done = [e for e in entries if e["parameters"]["task_id"] == ids["a"] and e["action_type"] == "email.reply:complete"]
    assert done[0]["result"] == "success" and done[0]["approval_status"] == "approved" and done[0]["approved_by"] == "ann"
    assert done[0]["target"] == "ann@example.com"
    failed = [e for e in entries if e["action_type"] == "email.reply:fail"]
    assert failed[0]["result"] == "failure: smtp down"
    rejected = [e for e in entries if e["action_type"] == "email.reply:reject"]
    assert rejected[0]["approval_status"] == "rejected" and rejected[0]["approved_by"] is None
    # Retention: a file older than the limit is removed.
    old = home.vault.root / "Logs/laptop/audit/2026-01-01.json"
    old.write_text("[]")
    _w, removed = export(home.store, home.vault, "laptop", clock.now, retention_days=90)
    assert removed == ["Logs/laptop/audit/2026-01-01.json"] and not old.exists()


def test_briefing_gives_the_weeks_numbers(home, clock) -> None:
    fill(home, clock)
    now = clock.now + timedelta(days=1)
    f = figures(home.store, now)
    assert (len(f.done), len(f.failed), len(f.waiting), f.detected) == (1, 1, 1, 4)
    assert f.median_wait_hours == statistics.median(WAITS.values())
    text = render(f)
    assert "4 new item(s) came in; 1 task(s) were completed; 1 failed." in text
    assert "the median decision took 2.0 h" in text
    assert "smtp down" in text and "```mermaid" in text and "Odoo is not configured" in text
    assert briefing_path(now) == "Briefings/2026-11-23_Monday_Briefing.md"  # the Monday of that week
    r = fte_cli("report", "--home", str(home.settings.home))
    assert r.exit_code == 0 and "Monday_Briefing.md" in r.output


def test_a_failure_replayed_to_done_counts_once_as_completed(home, clock) -> None:
    """Found in review: a task that failed and was replayed to done was counted both completed and
    failed; a failure seen in another host's note (no error in its transition) had an empty cell."""
    ids = fill(home, clock)
    lc = home.lifecycle
    clock.advance(hours=1)
    lc.fire(ids["b"], "replay", actor="ann", source="replay", to="approved")
    lc.fire(ids["b"], "claim", actor="laptop", source="daemon", changes={"claimed_by": "laptop"})
    lc.fire(ids["b"], "complete", actor="laptop", source="daemon", external_id="<kb>")
    f = figures(home.store, clock.now + timedelta(days=1))
    assert ([r["task_id"] for r in f.done], f.failed, f.recovered) == ([ids["a"], ids["b"]], [], 1)
    assert "2 task(s) were completed (1 of them after a failure and a replay); 0 failed." in render(f)
    # a failure another host made, taken from its note: the task's own error fills the cell
    lc.fire(ids["d"], "approve", actor="ann", source="cli", changes={"approval": {"by": "ann"}})
    lc.fire(ids["d"], "claim", actor="desktop", source="obsidian", changes={"claimed_by": "desktop"})
    lc.fire(ids["d"], "fail", actor="desktop", source="obsidian", changes={"last_error": "550 mailbox unknown"})
    f = figures(home.store, clock.now + timedelta(days=1))
    assert [(r["task_id"], r["error"]) for r in f.failed] == [(ids["d"], "550 mailbox unknown")]
