"""Small things a new user trips over, each fixed once and kept fixed."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from conftest import fte_cli
from hosts import HostRun, bare_remote, drop_mail, git


def test_reject_says_rejected(home_dir: Path) -> None:
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    run.close()
    r = fte_cli("reject", task.id, "--home", str(home_dir))
    assert r.exit_code == 0 and r.output.startswith(f"rejected {task.short_id}"), r.output


def test_status_without_a_remote_says_so(home_dir: Path) -> None:
    HostRun(home_dir).close()
    r = fte_cli("status", "--home", str(home_dir))
    assert "sync: no remote" in r.output and "ahead" not in r.output, r.output


def test_an_unknown_named_query_is_named(home_dir: Path) -> None:
    r = fte_cli("sql", "bogus-name", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "no named query 'bogus-name'" in r.output and "approval-latency" in r.output


def test_remote_set_keeps_the_file_and_the_daemon_syncs_there(home_dir: Path, tmp_path: Path) -> None:
    toml = home_dir / "fte.toml"
    before = toml.read_text()
    remote = bare_remote(tmp_path / "remote.git")
    r = fte_cli("remote", "set", remote, "--home", str(home_dir))
    assert r.exit_code == 0, r.output
    after = toml.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith(f'remote = "{remote}"') and "# git remote URL" in changed[0][1]
    assert git(home_dir / "vault", "remote", "get-url", "origin").strip() == remote
    run = HostRun(home_dir)
    run.tick()
    run.close()
    assert "fte laptop" in git(Path(remote), "log", "--format=%an", "main")


def test_a_remote_changed_in_fte_toml_by_hand_is_taken_at_the_next_start(home_dir: Path, tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text().replace('remote = ""', f'remote = "{remote}"', 1))
    run = HostRun(home_dir)
    run.tick()
    run.close()
    assert git(home_dir / "vault", "remote", "get-url", "origin").strip() == remote
    assert git(Path(remote), "log", "--oneline", "main").strip()


def test_remote_set_refuses_what_is_not_a_url(home_dir: Path) -> None:
    r = fte_cli("remote", "set", "--home", str(home_dir), "--", "--upload-pack=touch /tmp/x", code=2)
    assert r.exit_code == 2 and "not a git remote URL" in r.output, r.output


def test_remote_set_refuses_a_remote_that_does_not_answer_and_changes_nothing(home_dir: Path, tmp_path: Path) -> None:
    """As `fte init --remote` does: a misspelt URL is said at once (exit 3), not at every sync."""
    toml = home_dir / "fte.toml"
    before = toml.read_text()
    r = fte_cli("remote", "set", str(tmp_path / "nowhere.git"), "--home", home_dir, code=3)
    assert "is not reachable" in r.output
    assert toml.read_text() == before and "origin" not in git(home_dir / "vault", "remote")
    fte_cli("remote", "set", str(tmp_path / "nowhere.git"), "--no-check", "--home", home_dir)
    assert fte_cli("remote", "show", "--home", home_dir).output.strip() == str(tmp_path / "nowhere.git")


def test_remote_unset_goes_back_to_no_remote(home_dir: Path, tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    fte_cli("remote", "set", remote, "--home", home_dir)
    r = fte_cli("remote", "unset", "--home", home_dir)
    assert "no longer syncs" in r.output
    assert fte_cli("remote", "show", "--home", home_dir).output.startswith("(none")
    assert 'remote = ""' in (home_dir / "fte.toml").read_text()
    assert "origin" not in git(home_dir / "vault", "remote")
    run = HostRun(home_dir)
    assert run.tick().sync_error is None
    run.close()


def test_the_home_and_the_database_are_private(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    assert fte_cli("init", "--home", str(home), "--role", "all", "--agent", "p").exit_code == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "fte.db").stat().st_mode) == 0o600
    HostRun(home).close()
    for name in ("fte.db-wal", "fte.db-shm"):
        if (home / name).exists():
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name


def test_an_edit_does_not_reset_the_measured_wait(home_dir: Path) -> None:
    from conftest import FakeClock

    from fte.models.readonly import run_query

    clock = FakeClock()
    drop_mail(home_dir, 1)
    run = HostRun(home_dir, clock=clock)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    clock.advance(hours=2)
    note = run.home.vault.path(task.note_path)
    note.write_text(note.read_text().replace("Hello", "Hi", 1))
    run.tick()
    assert run.home.store.timeline(task.id)[-1].event == "edit"
    clock.advance(hours=1)
    note = run.home.vault.path(run.home.store.get(task.id).note_path)
    note.rename(run.home.vault.root / "Approved" / note.name)
    run.tick()
    _cols, rows = run_query(home_dir / "fte.db", "SELECT seconds_waited FROM approval_latency")
    assert rows == [(3 * 3600.0,)]  # from the presentation, through the edit, to the approval
    run.close()


def test_an_adopted_task_was_detected_when_the_cloud_says(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from conftest import FakeClock
    from hosts import make_host

    remote = bare_remote(tmp_path / "remote.git")
    cloud_clock = FakeClock(datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc))
    local_clock = FakeClock(datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc))
    cloud_home, local_home = make_host(tmp_path, "cloud", "cloud", remote), make_host(tmp_path, "laptop", "local", remote)
    drop_mail(cloud_home, 1)
    cloud, local = HostRun(cloud_home, clock=cloud_clock), HostRun(local_home, clock=local_clock)
    cloud.tick()
    local.tick()
    [task] = local.home.store.tasks()
    detect = local.home.store.timeline(task.id)[0]
    assert detect.event == "detect" and detect.at.replace(tzinfo=timezone.utc) == cloud_clock.now
    cloud.close(), local.close()


def test_only_task_notes_and_mail_wake_the_daemon(tmp_path: Path) -> None:
    from fte.host.loop import worth_waking

    vault = tmp_path / "vault"
    wakes = ["Pending_Approval/email/x-12345678.md", "Approved/x-12345678.md", "In_Progress/laptop",
             "Rejected/y.md"]
    sleeps = [".obsidian/workspace.json", ".obsidian/plugins/x/data.json", "Logs/laptop/heartbeat.json",
              "Dashboard.md", "Quarantine/a.md", "Briefings/2026-11-23_Monday_Briefing.md", "My notes/idea.md",
              ".git/index", "Approved/.fte-tmp-abc", "Approved/.x.md.swp", "Approved/picture.png"]
    for rel in wakes:
        assert worth_waking(vault / rel, vault), rel
    for rel in sleeps:
        assert not worth_waking(vault / rel, vault), rel
    assert worth_waking(tmp_path / "inbox" / "new" / "1764.mail", vault)  # incoming mail


def test_the_daemon_logs_the_persons_decisions_and_edits(home_dir: Path) -> None:
    from fte.daemon import Runner
    from fte.host.home import open_home

    drop_mail(home_dir, 1)
    drop_mail(home_dir, 2)
    lines: list[str] = []
    home = open_home(home_dir)
    runner = Runner(home, log=lines.append)
    runner.tick()
    first, second = home.store.tasks(state="pending")
    note = home.vault.path(first.note_path)
    note.write_text(note.read_text().replace("Hello", "Hi", 1))
    other = home.vault.path(second.note_path)
    other.rename(home.vault.root / "Rejected" / other.name)
    runner.tick()
    home.close()
    assert any(line.startswith(f"edit: {first.id[:8]}") and "by person -> pending" in line for line in lines), lines
    assert any(line.startswith(f"reject: {second.id[:8]}") and "-> rejected" in line for line in lines), lines


def test_dashboard_tables_keep_their_columns_with_aliased_links(home_dir: Path) -> None:
    """Read by a real Markdown parser (GFM tables): an alias pipe in a wiki link inside a cell must
    be escaped, or the row gets a column too many in Obsidian."""
    from markdown_it import MarkdownIt

    drop_mail(home_dir, 1, subject="Quote | urgent [draft]")
    run = HostRun(home_dir)
    run.tick()
    run.close()
    text = (home_dir / "vault" / "Dashboard.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(text.split("---\n", 2)[2])
    rows: list[list[str]] = []
    for n, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("td_open", "th_open"):
            rows[-1].append(tokens[n + 1].content)
    waiting = [r for r in rows if r and r[0].startswith("[[Pending_Approval/")]
    assert len(waiting) == 1, rows
    link, kind, _expires = waiting[0]
    assert link.endswith("|Quote - urgent (draft) 1]]") and kind == "email.reply", waiting


@pytest.mark.parametrize(("from_line", "to", "greeted"), [
    ("From: Dana Lee <dana1@example.com>", "dana1@example.com", "Dana"),
    ("From: Chloé Martin <chloe@example.fr>", "chloe@example.fr", "Chloé"),
    ('From: "Lee, Dana" <dl@example.com>', "dl@example.com", "Dana"),
    ("From: dana.lee@example.com", "dana.lee@example.com", "Dana"),
    ("From: x9z@example.com", "x9z@example.com", "there"),
])
def test_drafts_greet_by_the_name_the_sender_gave(from_line: str, to: str, greeted: str) -> None:
    from fte.io.channels.drafters import TemplateDrafter
    from fte.models.tables import Task

    task = Task(id="a" * 32, kind="email.reply", title="Question", params={"to": to},
                original=f"{from_line}\nDate: x\nSubject: Question\n\nhi")
    assert TemplateDrafter().draft(task, "").body.startswith(f"Hello {greeted},\n")


def test_drafts_are_signed_as_the_handbook_says(home_dir: Path) -> None:
    handbook = home_dir / "vault" / "Company_Handbook.md"
    handbook.write_text(handbook.read_text().replace('owner: ""', "owner: Ann Lee", 1))
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    assert task.body.rstrip().endswith("Best regards,\nAnn"), task.body
    run.close()


def test_a_from_setting_with_a_display_name_is_sent_as_such(home_dir: Path) -> None:
    import email
    import email.policy

    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text().replace('from = "fte@localhost"', 'from = "Ann Lee <ann@example.com>"', 1))
    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    run.close()
    assert fte_cli("approve", task.id, "--home", str(home_dir)).exit_code == 0
    run = HostRun(home_dir)
    run.tick()
    run.close()
    [sent] = (home_dir / "outbox" / "new").iterdir()
    msg = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert msg["From"] == "Ann Lee <ann@example.com>"
    assert msg["Message-ID"] == f"<fte.{task.id}@example.com>"


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """`fte --help`, `--version` and the readers load neither SQLAlchemy, Alembic, GitPython nor
    the transitions library (the time itself is measured in bench/cli_start.py)."""
    import sys as _sys

    code = ("import sys, fte.cli, fte.models.readonly, fte.models.migrate; "
            "heavy = [m for m in ('sqlalchemy', 'alembic', 'git', 'transitions') if m in sys.modules]; "
            "assert not heavy, heavy; fte.models.migrate.head_revision(); fte.states.lifecycle.STATES")
    result = subprocess.run([_sys.executable, "-c", "import fte.states.lifecycle; " + code],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_daemon_opening_a_current_database_does_not_load_alembic(home_dir: Path) -> None:
    """The writer's open checks the stamp with one query; Alembic (~0.3 s of imports and an empty
    upgrade at every `fte daemon --once`) is loaded only when there is something to migrate."""
    import sys as _sys

    code = ("import sys; from pathlib import Path; from fte.host.home import open_home\n"
            f"with open_home(Path({str(home_dir)!r})) as h: h.store.counts()\n"
            "assert 'alembic' not in sys.modules")
    result = subprocess.run([_sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from fte.models import migrate

    assert migrate.head_revision() == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_tasks_as_a_reader_lists_what_the_store_holds(home_dir: Path) -> None:
    import json

    from fte.reports.views import task_summary

    for i in range(3):
        drop_mail(home_dir, i)
    run = HostRun(home_dir)
    run.tick()
    expected = [task_summary(t) for t in run.home.store.tasks()]
    pending = [task_summary(t) for t in run.home.store.tasks(state="pending", limit=2)]
    run.close()
    assert json.loads(fte_cli("tasks", "--json", "--home", str(home_dir)).output) == expected
    assert json.loads(fte_cli("tasks", "--json", "--state", "pending", "--limit", "2", "--home", str(home_dir)).output) == pending


def test_a_bare_write_word_is_refused_as_a_write(home_dir: Path) -> None:
    r = fte_cli("sql", "vacuum", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "fte sql is read-only: refused" in r.output, r.output


def test_daemon_logs_as_json_lines_for_log_shippers(home_dir: Path) -> None:
    import json
    import sys as _sys

    drop_mail(home_dir, 1)
    result = subprocess.run([_sys.executable, "-m", "fte", "daemon", "--once", "--log-format", "json",
                             "--home", str(home_dir)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert records and all({"at", "level", "message"} <= set(r) for r in records)
    from fte.host.loop import log_line

    record = json.loads(log_line("approve: 1234abcd 'Quote' by ann -> approved", "json"))
    assert (record["event"], record["task"], record["actor"]) == ("approve", "1234abcd", "ann")


def test_show_as_a_reader_shows_what_the_store_holds(home_dir: Path) -> None:
    import json

    from fte.reports.views import task_detail, transition_view

    drop_mail(home_dir, 1)
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks()
    note = run.home.vault.path(task.note_path)
    note.write_text(note.read_text().replace("Hello", "Hi", 1))
    run.tick()
    task = run.home.store.get(task.id)
    expected = task_detail(task) | {"timeline": [transition_view(t) for t in run.home.store.timeline(task.id)]}
    run.close()
    assert json.loads(fte_cli("show", task.id[:6], "--json", "--home", str(home_dir)).output) == json.loads(
        json.dumps(expected, default=str))
    r = fte_cli("show", "zzzz", "--home", str(home_dir), code=2)
    assert r.exit_code == 2 and "no task" in r.output


def _imported_by(*args: str) -> tuple[str, set[str]]:
    """What ``python -m fte ARGS`` prints, and every module it imported (``-X importtime``)."""
    import os

    from conftest import fte_process

    result = fte_process(*args, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    modules = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return result.stdout, modules


def test_fte_version_builds_no_command_line_and_help_reads_no_settings() -> None:
    """`fte --version` is answered before the command line is built (no click, no fte.cli: most of a
    start-up, docs/BENCHMARKS.md §16), with click's own line; `fte --help` builds the command line
    but loads neither the settings' tables nor the clock's zones."""
    from conftest import fte_cli

    out, modules = _imported_by("--version")
    assert out == fte_cli("--version").output
    assert not {m for m in modules if m == "click" or m.startswith(("click.", "fte.cli", "fte.config"))}, modules
    out, modules = _imported_by("--help")
    assert "Usage: " in out
    heavy = {m for m in modules if m.startswith(("fte.config", "fte.settings.", "fte.clock", "zoneinfo",
                                                  "fte.io.", "sqlalchemy", "git"))}
    assert not heavy, heavy
