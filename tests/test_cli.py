from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import fte_cli, new_task

from fte.cli import cli
from fte.host.home import open_home


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(prefix + (name,))
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, prefix + (name,))
    return out


@pytest.mark.parametrize("path", [()] + all_commands(cli), ids=lambda p: " ".join(p) or "fte")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = fte_cli(*path, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    cmd: click.Command = cli
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    assert cmd.help and len(cmd.help.strip()) > 20, f"{path} needs real help text"



def test_init_then_status_json(tmp_path: Path) -> None:
    home = tmp_path / "h"
    r = fte_cli("init", "--role", "local", "--agent", "desk", "--home", str(home))
    assert r.exit_code == 0, r.output
    r = fte_cli("status", "--json", "--home", str(home))
    data = json.loads(r.output)
    assert data["role"] == "local" and data["agent"] == "desk" and data["tasks"] == 0
    assert data["schema"] and set(data["counts"]) >= {"pending", "done"}
    assert (home / "vault" / ".git").is_dir() and (home / "vault" / "Pending_Approval").is_dir()
    assert (home / ".env").stat().st_mode & 0o777 == 0o600
    assert (home / "host.key").stat().st_mode & 0o777 == 0o600 and not (home / "approval.key").exists()
    keys = json.loads(fte_cli("keys", "list", "--json", "--home", str(home)).output)
    assert [k["agent"] for k in keys] == ["desk"] and keys[0]["this_host"]


def test_init_twice_is_refused(home_dir: Path) -> None:
    r = fte_cli("init", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "already an fte home" in r.output


def test_fte_home_environment_variable(home_dir: Path) -> None:
    r = fte_cli("status", "--json", env={"FTE_HOME": str(home_dir)})
    assert r.exit_code == 0 and json.loads(r.output)["home"] == str(home_dir.resolve())


def test_not_a_home_is_bad_input(tmp_path: Path) -> None:
    r = fte_cli("status", "--home", str(tmp_path), code=2)
    assert r.exit_code == 2 and "not an fte home" in r.output


def test_bad_usage_exits_2(home_dir: Path) -> None:
    fte_cli("tasks", "--state", "nope", "--home", str(home_dir), code=2)
    fte_cli("no-such-command", code=2)
    fte_cli("init", "--role", "boss", code=2)
    r = fte_cli("show", "zzzz", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "no task" in r.output


def test_tasks_and_show(home_dir: Path) -> None:
    with open_home(home_dir) as h:
        task = new_task(h, title="Where is my invoice?")
        h.lifecycle.fire(task.id, "draft", actor="template", source="daemon", changes={"body": "Here."})
    r = fte_cli("tasks", "--json", "--home", str(home_dir))
    [row] = json.loads(r.output)
    assert row["id"] == task.id and row["state"] == "drafted"
    assert fte_cli("tasks", "--state", "pending", "--json", "--home", str(home_dir)).output.strip() == "[]"
    r = fte_cli("show", task.id[:8], "--json", "--home", str(home_dir))
    shown = json.loads(r.output)
    assert shown["body"] == "Here." and [t["event"] for t in shown["timeline"]] == ["detect", "draft"]
    r = fte_cli("show", task.id[:8], "--home", str(home_dir))
    assert "detected → drafted" in r.output and "Where is my invoice?" in r.output


def _fingerprint(db: Path) -> str:
    conn = sqlite3.connect(db)
    dump = "\n".join(conn.iterdump())
    conn.close()
    return hashlib.sha256(dump.encode()).hexdigest()


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO cursors VALUES ('x', 'y', 'z')",
        "UPDATE tasks SET state = 'done'",
        "DELETE FROM tasks",
        "DROP TABLE tasks",
        "ATTACH DATABASE 'evil.db' AS evil",
        "PRAGMA user_version = 7",
        "PRAGMA journal_mode = DELETE",
        "CREATE TABLE t (x)",
        "WITH x AS (SELECT 1) DELETE FROM tasks",
        "VACUUM",
        "SELECT 1; DELETE FROM tasks",
    ],
)
@pytest.mark.parametrize("limit", [[], ["--limit", "5"]])
def test_sql_refuses_writes(home_dir: Path, query: str, limit: list[str]) -> None:
    """Also when the query is wrapped to be cut at a limit (a ')' in it cannot step out)."""
    with open_home(home_dir) as h:
        new_task(h)
    db = home_dir / "fte.db"
    before = _fingerprint(db)
    r = fte_cli("sql", query, *limit, "--home", str(home_dir), code=2)
    assert r.exit_code == 2, r.output
    assert r.output.startswith("fte: ") and len(r.output.strip().splitlines()) == 1
    assert _fingerprint(db) == before
    assert not (home_dir / "evil.db").exists() and not Path("evil.db").exists()


def test_a_named_query_shows_the_newest_rows_and_says_when_it_cut(home_dir: Path) -> None:
    """Years of history: ``timeline`` holds millions of rows; a named query shows 1,000 unless told."""
    with open_home(home_dir) as h:
        for i in range(3):
            new_task(h, ref=f"<limit-{i}@x>")
    r = fte_cli("sql", "timeline", "--json", "--limit", "2", "--home", str(home_dir))
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 2
    assert "the first 2 rows; --limit 0 for all" in r.stderr
    whole = fte_cli("sql", "timeline", "--json", "--limit", "0", "--home", str(home_dir))
    assert len(json.loads(whole.stdout)) == 3 and not whole.stderr
    assert len(json.loads(fte_cli("sql", "timeline", "--json", "--home", str(home_dir)).stdout)) == 3


def test_sql_reads_in_three_formats(home_dir: Path) -> None:
    with open_home(home_dir) as h:
        new_task(h)
    q = "SELECT event, to_state FROM transitions"
    assert json.loads(fte_cli("sql", q, "--json", "--home", str(home_dir)).output) == [{"event": "detect", "to_state": "detected"}]
    assert fte_cli("sql", q, "--csv", "--home", str(home_dir)).output.splitlines() == ["event,to_state", "detect,detected"]
    assert "detect" in fte_cli("sql", q, "--home", str(home_dir)).output
    assert "name" in fte_cli("sql", "PRAGMA table_info(tasks)", "--home", str(home_dir)).output


def test_sql_shows_one_column_whole_and_says_when_a_wider_table_cuts(home_dir: Path) -> None:
    body = "Dear Ann, " + "the quarterly figures are attached and " * 5 + "end."
    with open_home(home_dir) as h:
        new_task(h, body=body)
    one = fte_cli("sql", "SELECT body FROM tasks", "--home", str(home_dir))
    assert body in one.output and "cut" not in one.output
    two = fte_cli("sql", "SELECT state, body FROM tasks", "--home", str(home_dir))
    assert body not in two.output and "…" in two.output
    assert "longer than 60 characters are cut; --json or --csv shows them whole" in two.output  # on stderr


def test_sql_has_a_time_limit(home_dir: Path) -> None:
    """A recursive CTE hung `fte sql` for good."""
    import time

    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    started = time.monotonic()
    r = fte_cli("sql", endless, "--timeout", "0.5", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "0.5-second limit" in r.output, r.output
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("query", ["SELECT fts3_tokenizer('simple')", "SELECT load_extension('/tmp/x.so')"])
def test_sql_refuses_functions_that_reach_past_sql(home_dir: Path, query: str) -> None:
    r = fte_cli("sql", query, "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "read-only" in r.output, r.output


def test_tables_show_control_and_direction_characters_as_escapes(home_dir: Path) -> None:
    """A subject carrying a terminal escape or a right-to-left override reached the terminal raw."""
    with open_home(home_dir) as h:
        new_task(h, title="Pay \x1b[8mhidden\x1b[0m now \u202eRTL")
    out = fte_cli("tasks", "--home", str(home_dir)).output
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\u001b[8mhidden" in out and "\\u202eRTL" in out
    assert "\x1b" not in fte_cli("sql", "SELECT title FROM tasks", "--home", str(home_dir)).output


def test_db_upgrade(home_dir: Path) -> None:
    assert "already at" in fte_cli("db", "upgrade", "--home", str(home_dir)).output


def test_console_script_and_module_run(home_dir: Path) -> None:
    fte = Path(sys.executable).parent / "fte"
    for argv in ([str(fte)], [sys.executable, "-m", "fte"]):
        p = subprocess.run([*argv, "status", "--json", "--home", str(home_dir)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["agent"] == "laptop"
