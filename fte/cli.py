"""The command line: a thin client over the library (see README.md for every command).

Exit codes (docs/architecture.md): 0 ok, 1 failure, 2 bad usage or bad input (one-line reason on stderr),
3 not reachable.
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from fte import __version__
from fte.errors import BadInput, FteError
from fte.support.plaintext import visible

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_HOME = "~/.fte"
TABLE_WIDTH = 60  # characters of a value `fte sql` shows in a table of several columns


def _home_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> Path:
    if value is None:
        parent = ctx.parent.params.get("home") if ctx.parent else None
        value = parent or os.environ.get("FTE_HOME") or DEFAULT_HOME
    return Path(os.path.expanduser(str(value))).resolve()


def home_option(f: F) -> F:
    """``--home DIR`` on every command (and on the group), falling back to ``FTE_HOME``, then ~/.fte."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False),
        default=None,
        callback=_home_callback,
        help="The host's home folder (default: $FTE_HOME, else ~/.fte).",
    )(f)


def handle_errors(f: F) -> F:
    """Turn an :class:`FteError` into its exit code and a one-line reason on stderr."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except FteError as exc:
            click.echo(f"fte: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


# What a command needs is imported when it runs, not at start: `fte --help` and `fte --version`
# load neither the settings' tables nor the clock's zones, and the readers (`fte status`, `fte sql`)
# never load SQLAlchemy or GitPython (tests/test_rough_edges.py holds both).
def init_home(*args: Any, **kwargs: Any) -> Any:
    from fte.host.home import init_home as init

    return init(*args, **kwargs)


def load_settings(home: Path) -> Any:
    from fte.config import load_settings as load

    return load(home)


def utcnow() -> datetime:
    from fte.clock import utcnow as now

    return now()


def parse_iso(value: str) -> datetime:
    from fte.clock import parse_iso as parse

    return parse(value)


def format_table(columns: list[str], rows: list[tuple[Any, ...]], max_width: int | None = 60) -> str:
    from fte.reports.views import format_table as table

    return table(columns, rows, max_width=max_width)


def longest_value(rows: list[tuple[Any, ...]]) -> int:
    from fte.reports.views import longest_value as longest

    return longest(rows)


def task_summary(task: Any) -> dict[str, Any]:
    from fte.reports.views import task_summary as summary

    return summary(task)


class _States(tuple):  # type: ignore[type-arg]
    """The lifecycle's states for ``--state``, read from the lifecycle's table only when click
    asks (a parse of ``--state``, or ``fte tasks --help``)."""

    def __iter__(self) -> Any:
        from fte.states.lifecycle import STATES

        return iter(STATES)

    def __len__(self) -> int:
        return len(tuple(iter(self)))

    def __contains__(self, item: object) -> bool:
        return item in tuple(iter(self))


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fte")
@click.option("--home", type=click.Path(file_okay=False), default=None, help="The host's home folder (also $FTE_HOME).")
@handle_errors
def cli(home: str | None) -> None:
    """fte — a personal digital employee.

    It watches your mail and feeds, drafts replies and accounting actions, and executes only what you
    approved by moving a note in your Obsidian vault. Each host keeps its tasks in its own SQLite
    database; the vault, synced with git, is the protocol between hosts.
    """
    from fte.clock import start_clock

    start_clock()  # FTE_CLOCK, read once per command (docs/settings.md, "Environment")


@cli.command()
@click.option("--role", type=click.Choice(["cloud", "local", "all"]), default="all", show_default=True,
              help="cloud drafts only; local approves and executes; all does both.")
@click.option("--agent", default=None, help="This host's name in the vault and the audit log (default: the hostname).")
@click.option("--vault", "vault_dir", default="vault", show_default=True, help="The vault folder, relative to the home or absolute.")
@click.option("--remote", default="", help="Git remote URL of the vault (empty: no sync).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@home_option
@handle_errors
def init(role: str, agent: str | None, vault_dir: str, remote: str, as_json: bool, home: Path) -> None:
    """Create a host's home: fte.toml, fte.db at the newest schema, the vault and its git repository."""
    settings = init_home(home, role=role, agent=agent, vault=vault_dir, remote=remote)
    info = {"home": str(settings.home), "role": settings.role, "agent": settings.agent,
            "vault": str(settings.vault), "db": str(settings.db_path)}
    if as_json:
        _emit_json(info)
    else:
        click.echo(f"initialised {settings.role} host {settings.agent!r} in {settings.home}")
        click.echo(f"  vault: {settings.vault}\n  database: {settings.db_path}")
        click.echo(f"next: fte status --home {settings.home}")


@cli.command()
@home_option
@handle_errors
def review(home: Path) -> None:
    """Walk through what waits, oldest first: the draft, the original and the deadline of each, then
    approve, reject (asks why), edit in $EDITOR (then approve what you saved), skip, or quit.
    Plain prompts on the terminal: works over SSH."""
    from fte.usecases import decisions, reads

    settings = load_settings(home)
    if not settings.executes:
        raise BadInput(f"a {settings.role} host does not decide; review on a local host")
    waiting = [t["id"] for t in reads.tasks(home, state="pending")]
    if not waiting:
        click.echo("nothing waits for you")
        return
    for n, task_id in enumerate(waiting, 1):
        task = reads.show(home, task_id)
        if task["state"] != "pending":
            continue  # decided meanwhile (another device, the daemon's expiry)
        _show_for_review(task, n, len(waiting), utcnow())
        while True:
            choice = click.prompt("[a]pprove, [r]eject, [e]dit, [s]kip, [q]uit", default="s", show_default=False,
                                  type=click.Choice(["a", "r", "e", "s", "q"]), show_choices=False)
            try:
                if choice == "a":
                    _said(decisions.approve(home, task_id, epoch=task["epoch"]), "approved", False)
                elif choice == "r":
                    reason = click.prompt("reason (Enter for none)", default="", show_default=False)
                    _said(decisions.reject(home, task_id, reason=reason.strip() or None, epoch=task["epoch"]),
                          "rejected", False)
                elif choice == "e":
                    edited = click.edit(task["body"], extension=".md", require_save=True)
                    if edited is None or edited.rstrip("\n") == task["body"].rstrip("\n"):
                        click.echo("unchanged")
                        continue
                    saved = decisions.edit(home, task_id, edited, epoch=task["epoch"]).task
                    click.echo("saved as the draft")
                    if click.confirm("approve what you saved?", default=False):
                        _said(decisions.approve(home, task_id, epoch=saved.epoch), "approved", False)
            except FteError as exc:
                click.echo(f"fte: {exc}", err=True)
            break
        if choice == "q":
            break


def _show_for_review(task: dict[str, Any], n: int, total: int, now: datetime) -> None:
    from fte.io.vault.notes import split_body

    params = task["params"] or {}
    left = parse_iso(task["expires"]) - now if task["expires"] else None
    deadline = f"expires in {int(left.total_seconds() // 3600)} h" if left is not None else "no deadline"
    click.echo(f"\n── {n}/{total}  {task['id'][:8]}  {task['kind']}  {deadline}")
    click.echo(f"   {visible(task['title'] or '')}")
    for key in ("to", "subject", "partner", "amount"):
        if params.get(key):
            click.echo(f"   {key}: {visible(str(params[key]))}")
    click.echo("\n" + visible(task["body"], keep_newlines=True).rstrip())
    original = task["original"] or split_body(task["body"])[1]
    if original:
        lines = visible(original, keep_newlines=True).strip().splitlines()
        click.echo("\n   > " + "\n   > ".join(lines[:20]) + ("\n   > …" if len(lines) > 20 else ""))
    click.echo("")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--offline", is_flag=True, help="Do not reach the remote or Odoo.")
@home_option
@handle_errors
def doctor(as_json: bool, offline: bool, home: Path) -> None:
    """Check this home end to end without changing anything: settings, secrets, role, database,
    vault, remote, keys, channels, Odoo. Exit 1 when something fails."""
    from fte.host.doctor import FAIL, diagnose

    found = diagnose(home, offline=offline)
    if as_json:
        _emit_json([c.as_dict() for c in found])
    else:
        for c in found:
            click.echo(f"{c.status:<5} {c.name:<9} {visible(c.detail)}")
            if c.fix:
                click.echo(f"{'':16}fix: {visible(c.fix)}")
    if any(c.status == FAIL for c in found):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@home_option
@handle_errors
def status(as_json: bool, home: Path) -> None:
    """What is where: tasks by state, notes behind their rows, the last transition."""
    from fte.usecases.reads import status as read_status

    info = read_status(home)
    counts, last, sync = info["counts"], info["last_transition"], info["sync"]
    settings = load_settings(home)
    revision = info["schema"]
    if as_json:
        _emit_json(info)
        return
    click.echo(f"{settings.role} host {settings.agent!r} — home {settings.home}")
    click.echo(f"vault {settings.vault}; remote {settings.remote or '(none)'}; schema {revision}")
    click.echo(f"{info['tasks']} tasks: " + ", ".join(f"{s} {n}" for s, n in counts.items() if n) if info["tasks"] else "no tasks yet")
    if info["notes_behind"]:
        click.echo(f"{info['notes_behind']} notes behind their rows (repaired at the next start)")
    if last:
        click.echo(f"last transition: {last['event']} of {last['task_id'][:8]} at {last['at']}")
    if not settings.remote:
        click.echo("sync: no remote (this host does not sync; set one with `fte remote set URL`)")
    elif sync:
        state = f"error since {sync.get('error_since')}: {sync['error']}" if sync.get("error") else "ok"
        click.echo(f"sync: {state}; {sync.get('ahead', 0)} ahead, {sync.get('behind', 0)} behind (at {sync.get('at')})")
        if sync.get("rewound"):
            went = sync["rewound"]
            click.echo(f"the remote went back at {went['at']}: it no longer held {went['had']} (its head was "
                       f"{went['remote']}); this host pushed its own history back (docs/protocol.md)")
    for h in info["hosts"]:
        click.echo(f"host {h['agent']} ({h['role']}) last seen {h['last_seen']}")


@cli.command()
@click.option("--state", type=click.Choice(_States()), default=None, help="Only tasks in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print the tasks as JSON.")
@home_option
@handle_errors
def tasks(state: str | None, limit: int | None, as_json: bool, home: Path) -> None:
    """List tasks, oldest first."""
    from fte.usecases.reads import tasks as read_tasks

    found = read_tasks(home, state, limit)
    if as_json:
        _emit_json(found)
        return
    cols = ["id", "state", "kind", "title", "updated"]
    click.echo(format_table(cols, [(t["id"][:8], t["state"], t["kind"], t["title"], t["updated"][:19]) for t in found]))


@cli.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print the task and its timeline as JSON.")
@home_option
@handle_errors
def show(task_id: str, as_json: bool, home: Path) -> None:
    """One task (by id or its first characters) and its timeline."""
    from fte.usecases.reads import show as read_show

    data = read_show(home, task_id)
    if as_json:
        _emit_json(data)
        return
    timeline = data["timeline"]
    click.echo(f"{data['id']}  {data['kind']}  {data['state']} (v{data['version']})")
    click.echo(f"title: {visible(data['title'] or '')}")
    click.echo(f"note:  {data['note']}")
    click.echo("")
    rows = [(t["at"][:19], t["event"], f"{t['from'] or '-'} → {t['to']}", t["actor"], t["host"], t["source"]) for t in timeline]
    click.echo(format_table(["at", "event", "change", "actor", "host", "source"], rows))


@cli.command()
@click.argument("query", required=False)
@click.option("--list", "list_named", is_flag=True, help="List the named queries.")
@click.option("--json", "fmt", flag_value="json", help="Rows as a JSON list of objects.")
@click.option("--csv", "fmt", flag_value="csv", help="Rows as CSV with a header line.")
@click.option("--timeout", type=float, default=5.0, show_default=True,
              help="Seconds the query may run; longer is refused (exit 2).")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="At most N rows (named queries: 1000 unless given; 0 = all); said on stderr when cut.")
@home_option
@handle_errors
def sql(query: str | None, list_named: bool, fmt: str | None, timeout: float, limit: int | None, home: Path) -> None:
    """Run one read-only SQL query, or a named one, over this host's database (writes are refused, exit 2).

    QUERY is SQL, or a name from --list (approval-latency, executions, throughput, failures,
    decisions, timeline, incidents, waiting). Tables: tasks, transitions (the audit log), incidents,
    executions, cursors, hosts; views: task_timeline, approval_latency, execution_outcomes,
    throughput_daily, failures_by_cause, decisions (docs/schema.md).
    """
    from fte.usecases import reads

    if list_named:
        rows_ = reads.named_queries()
        if fmt == "json":
            _emit_json([{"name": n, "about": a} for n, a in rows_])
        else:
            click.echo(format_table(["name", "answers"], rows_, max_width=80))
        return
    if not query:
        raise click.UsageError("give a query, a named query, or --list")
    answer = reads.sql(home, query, limit=limit, timeout=timeout)
    columns, rows = answer.columns, answer.rows
    if answer.cut:
        click.echo(f"(the first {len(rows)} rows; --limit 0 for all, or --limit N)", err=True)
    if fmt == "json":
        _emit_json([dict(zip(columns, r)) for r in rows])
    elif fmt == "csv":
        buf = io.StringIO()
        import csv

        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        # one column has nothing to align: its values are shown whole; in a wider table a long value
        # is cut, and the person is told how to see it whole
        width = None if len(columns) == 1 else TABLE_WIDTH
        if width is not None and longest_value(rows) > width:
            click.echo(f"(values longer than {width} characters are cut; --json or --csv shows them whole)",
                       err=True)
        click.echo(format_table(columns, rows, max_width=width))


@cli.group()
def db() -> None:
    """The host's database: schema migrations."""


@db.command()
@home_option
@handle_errors
def upgrade(home: Path) -> None:
    """Bring the database to the newest schema (fte also does this on start)."""
    from fte.usecases.work import upgrade_database

    before, after, key_made = upgrade_database(home)
    click.echo(f"schema: {before or '(empty)'} → {after}" if before != after else f"schema already at {after}")
    if key_made:
        click.echo("this host's signing key: made, trusted, and the old shared approval.key retired "
                   "(tasks approved with it go back to pending; `fte keys show` for the other hosts)")


@cli.group()
def keys() -> None:
    """Signing keys: this host's own (local hosts), and the keyring of hosts whose signatures count.

    Each local host signs its decisions with its own key. Every host — the cloud too — believes
    an approval, a rejection, a claim or an outcome pulled from the vault only when it is signed by
    a host in its keyring. Trust is decided here, by a person, never by what the vault says.
    """


@keys.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def keys_show(as_json: bool, home: Path) -> None:
    """Print this host's public key, as the command to run on the other hosts."""
    from fte.host.home import public_key

    agent, key = public_key(home)
    if as_json:
        _emit_json({"agent": agent, "key": key})
    else:
        click.echo(f"fte keys trust {agent} {key}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def keys_list(as_json: bool, home: Path) -> None:
    """The hosts this host trusts."""
    from fte.host.keys import Keyring

    settings = load_settings(home)
    rows = [{"agent": a, "key": e.get("key", ""), "trusted_at": e.get("trusted_at", ""),
             "this_host": a == settings.agent} for a, e in sorted(Keyring.of(home).entries.items())]
    if as_json:
        _emit_json(rows)
    elif not rows:
        click.echo("no trusted hosts: this host believes no signed decision (fte keys trust AGENT KEY)")
    else:
        click.echo(format_table(["agent", "key", "trusted_at", "this_host"],
                                [(r["agent"], r["key"], r["trusted_at"], "yes" if r["this_host"] else "") for r in rows]))


@keys.command("trust")
@click.argument("agent")
@click.argument("key")
@home_option
@handle_errors
def keys_trust(agent: str, key: str, home: Path) -> None:
    """Trust AGENT's signatures: KEY is what `fte keys show` prints on that host."""
    from fte.clock import utcnow
    from fte.config import check_agent
    from fte.host.keys import Keyring

    load_settings(home)
    changed = Keyring.of(home).trust(check_agent(agent), key, utcnow())
    click.echo(f"trusted {agent}" if changed else f"{agent} was already trusted with that key")


@keys.command("revoke")
@click.argument("agent")
@home_option
@handle_errors
def keys_revoke(agent: str, home: Path) -> None:
    """Stop trusting AGENT's signatures (what it signed no longer verifies here)."""
    from fte.host.keys import Keyring

    load_settings(home)
    if not Keyring.of(home).revoke(agent):
        raise BadInput(f"{agent} is not in this host's keyring")
    click.echo(f"revoked {agent}")


@cli.command()
@click.option("--once", is_flag=True, help="Run exactly one full tick and exit.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one object per line (at, level, message; event, task, actor for decisions) for log shippers.")
@home_option
@handle_errors
def daemon(once: bool, log_format: str, home: Path) -> None:
    """Run this host's loop: sync, draft (cloud/all), approve, claim and execute (local/all).

    Acts on the person's moves in the vault within about a second (file-system events); syncs with
    the remote every daemon.sync_interval seconds. SIGTERM/SIGINT finish the current tick and exit 0;
    SIGHUP reloads fte.toml. A second daemon on the same home is refused.
    """
    from fte.host.loop import log_line, run_daemon

    sys.exit(run_daemon(home, once=once, log=lambda m: click.echo(log_line(m, log_format), err=True)))


def _said(decided: Any, verb: str, as_json: bool) -> None:
    task = decided.task
    if as_json:
        _emit_json(task_summary(task) | {"sync_error": decided.sync_error})
        return
    click.echo(f"{verb} {task.short_id} ({visible(task.title)}); note: {task.note_path}")
    if decided.sync_error:
        click.echo(f"not pushed yet: {decided.sync_error}", err=True)


@cli.command()
@click.argument("task_id")
@click.option("--by", default=None, help="Who approves (default: the 'person' setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@home_option
@handle_errors
def approve(task_id: str, by: str | None, as_json: bool, home: Path) -> None:
    """Approve a pending task: the same as moving its note into Approved/ (signed, then pushed)."""
    from fte.usecases.decisions import approve as approve_task

    _said(approve_task(home, task_id, by=by), "approved", as_json)


@cli.command()
@click.argument("task_id")
@click.option("--reason", default=None, help="Why (kept in the audit log and the note).")
@click.option("--by", default=None, help="Who rejects (default: the 'person' setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@home_option
@handle_errors
def reject(task_id: str, reason: str | None, by: str | None, as_json: bool, home: Path) -> None:
    """Reject a pending task: the same as moving its note into Rejected/."""
    from fte.usecases.decisions import reject as reject_task

    _said(reject_task(home, task_id, reason=reason, by=by), "rejected", as_json)


@cli.command()
@click.argument("task_ids", nargs=-1)
@click.option("--all", "all_failed", is_flag=True, help="Every failed task.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--force", is_flag=True, help="Also replay executions whose outcome is unknown (after a lookup found nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@home_option
@handle_errors
def replay(task_ids: tuple[str, ...], all_failed: bool, dry_run: bool, force: bool, as_json: bool, home: Path) -> None:
    """Retry failed tasks safely: back to approved, pending (payments, stale approvals) or detected (drafting)."""
    from fte.usecases.decisions import replay as replay_tasks

    if not task_ids and not all_failed:
        raise click.UsageError("give task ids, or --all")
    plans = replay_tasks(home, list(task_ids), all_failed=all_failed, dry_run=dry_run, force=force)
    if as_json:
        _emit_json([{"id": p.task_id, "target": p.target, "reason": p.reason, "done": not dry_run} for p in plans])
    else:
        for p in plans:
            verb = "would replay" if dry_run else "replayed"
            click.echo(f"{verb} {p.task_id[:8]} → {p.target}: {p.reason}" if p.target
                       else f"refused {p.task_id[:8]}: {p.reason}")
        if not plans:
            click.echo("nothing failed")
    if dry_run and any(p.target is None for p in plans):
        raise BadInput("some tasks cannot be replayed")


@cli.command()
@click.option("--keep/--no-keep", default=True, show_default=True, help="Keep the demo folder afterwards.")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default=None, help="Where to build the demo (default: a new temporary folder).")
def demo(keep: bool, folder: str | None) -> None:
    """The whole flow, offline: cloud drafts → git → local → the person approves → the reply is sent.

    Builds a bare git remote and two hosts (cloud, local) in a temporary folder, drops sample mails
    into the cloud's Maildir, and runs the daemons' ticks, narrating each step. No network, no
    credentials; under 30 seconds.
    """
    from fte.host.demo import run_demo

    sys.exit(run_demo(Path(folder) if folder else None, keep=keep, echo=click.echo))


@cli.group()
def archive() -> None:
    """Finished notes, one note per month in Archive/ (docs/sync.md, "Archive")."""


@archive.command("run")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print what was archived as JSON.")
@handle_errors
def archive_run(home: Path, as_json: bool) -> None:
    """Archive now what [archive] after_months makes due (the daemon does it once a day), and push."""
    from fte.usecases.work import archive as archive_now

    months = archive_now(home, log=lambda m: click.echo(m, err=True))
    if as_json:
        _emit_json([{"month": m, "archived": n} for m, n in months])
    else:
        for m, n in months:
            click.echo(f"{m}: {n} note(s) archived into Archive/{m}.md")
        if not months:
            click.echo("nothing to archive")


@archive.command("restore")
@click.argument("task_id")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print the restored note's path as JSON.")
@handle_errors
def archive_restore(task_id: str, home: Path, as_json: bool) -> None:
    """Bring an archived task's note back where it was, byte for byte (it is not archived again)."""
    from fte.usecases.work import restore

    task, path = restore(home, task_id)
    if as_json:
        _emit_json({"id": task.id, "note": path})
    else:
        click.echo(f"restored {task.short_id} to {path}")


@cli.group()
def audit() -> None:
    """The audit log, as daily JSON files in the vault."""


@audit.command("export")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Only this UTC day (YYYY-MM-DD).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="This UTC day and every later one.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@home_option
@handle_errors
def audit_export(day: Any, since: Any, as_json: bool, home: Path) -> None:
    """Write the audit log as daily JSON files in Logs/<agent>/audit/ (and apply the retention)."""
    from fte.usecases.work import export_audit

    if day and since:
        raise click.UsageError("give --day or --since, not both")
    start = (day or since).date() if (day or since) else None
    written, removed, retention = export_audit(home, since=start, until=day.date() if day else None)
    vault = load_settings(home).vault
    if as_json:
        _emit_json({"written": written, "removed": removed})
    else:
        for rel in written:
            click.echo(f"wrote {vault / rel}")
        for rel in removed:
            click.echo(f"removed {rel} (older than {retention} days)")
        if not written:
            click.echo("no transitions in that period")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of writing the note.")
@home_option
@handle_errors
def report(as_json: bool, home: Path) -> None:
    """Write this week's CEO briefing to Briefings/<Monday>_Monday_Briefing.md (the last 7 days)."""
    from fte.usecases.work import briefing

    rel, data = briefing(home, write=not as_json)
    if as_json:
        _emit_json(data)
        return
    click.echo(f"wrote {load_settings(home).vault / str(rel)}")


@cli.group()
def post() -> None:
    """Draft a post for approval (it is published only after a person approves it)."""


@post.command("linkedin")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the new task as JSON.")
@home_option
@handle_errors
def post_linkedin(text: str, as_json: bool, home: Path) -> None:
    """Create a linkedin.post task with TEXT; it goes to Pending_Approval/ like any draft."""
    from fte.io.channels.kinds import LINKEDIN_POST

    _post(home, LINKEDIN_POST.name, text, as_json)


@post.command("x")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the new task as JSON.")
@home_option
@handle_errors
def post_x(text: str, as_json: bool, home: Path) -> None:
    """Create an x.post task with TEXT (at most 280 characters as X counts them: a link 23, an emoji
    or a CJK character 2); it goes to Pending_Approval/ like any draft, and is posted once approved."""
    from fte.io.channels.kinds import X_POST
    from fte.io.channels.x import check_post

    _post(home, X_POST.name, check_post(text), as_json)


def _post(home: Path, kind: str, text: str, as_json: bool) -> None:
    from fte.usecases.work import post

    task = post(home, kind, text)
    if as_json:
        _emit_json(task_summary(task))
    else:
        click.echo(f"drafted {kind} {task.short_id}; the daemon presents it for approval")


@cli.group()
def whatsapp() -> None:
    """WhatsApp through Twilio."""


@whatsapp.command("serve")
@click.option("--port", type=int, default=8088, show_default=True, help="Port on 127.0.0.1 (put a TLS proxy in front).")
@click.option("--public-url", required=True, help="The URL Twilio calls (what X-Twilio-Signature is computed over).")
@home_option
@handle_errors
def whatsapp_serve(port: int, public_url: str, home: Path) -> None:
    """Run the webhook that receives WhatsApp messages from Twilio (signature checked, then spooled)."""
    from fte.usecases.work import whatsapp_webhook

    server = whatsapp_webhook(home, public_url, port)
    click.echo(f"listening on http://127.0.0.1:{server.server_address[1]} for {public_url}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.group(invoke_without_command=True)
@click.option("--listen", default=None, help="Address to listen on (default: [web] listen, 127.0.0.1). Not loopback: "
                                             "use --tls-cert, or a reverse proxy with TLS.")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: [web] port, 8089; 0: any free).")
@click.option("--tls-cert", default=None, help="TLS certificate (PEM); default: [web] tls_cert.")
@click.option("--tls-key", default=None, help="Its private key (PEM), if not in the certificate's file.")
@home_option
@handle_errors
@click.pass_context
def web(ctx: click.Context, listen: str | None, port: int | None, tls_cert: str | None, tls_key: str | None,
        home: Path) -> None:
    """Serve the waiting tasks as a page for a phone: approve, reject, edit (docs/web.md).

    Devices sign in with a token from `fte web token add NAME`. SIGINT/SIGTERM stop it.
    """
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from fte.frontends.web import WebApp, is_loopback, make_server
    from fte.settings.tables import WebSettings

    cfg = load_settings(home).table(WebSettings)
    listen = listen or cfg.listen
    cert, key = tls_cert or cfg.tls_cert, tls_key or cfg.tls_key
    server = make_server(WebApp(home, secure=bool(cert)), listen, cfg.port if port is None else port, cert, key)
    from fte.support.signals import SignalRelay

    wake, stopping = threading.Event(), {"now": False}

    def on_stop(_sig: int, _frame: Any) -> None:
        stopping["now"] = True  # only a flag: the relay wakes the wait below (fte/support/signals.py)

    relay = SignalRelay(wake)  # before saying it listens: a signal right after is handled
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_stop)
    scheme = "https" if cert else "http"
    bound = server.server_address[1]
    click.echo(f"fte web: {scheme}://{listen}:{bound}/ — sign in with a token from `fte web token add NAME`", err=True)
    if not is_loopback(listen) and not cert:
        click.echo("fte web: WARNING: listening beyond this machine without TLS: tokens and drafts cross the "
                   "network in clear. Use --tls-cert, a reverse proxy with TLS, or a tailnet (docs/web.md).", err=True)
    thread = threading.Thread(target=server.serve_forever, name="fte-web", daemon=True)
    thread.start()
    while not stopping["now"]:
        wake.wait(1.0)  # the relay wakes it at once; the timeout only bounds a lost wake
        wake.clear()
    server.shutdown()
    server.server_close()
    relay.close()


@web.group("token")
def web_token() -> None:
    """The devices that may sign in to `fte web` (tokens kept hashed in the home)."""


@web_token.command("add")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the device and its token as JSON.")
@home_option
@handle_errors
def web_token_add(name: str, as_json: bool, home: Path) -> None:
    """A token for device NAME, shown once: type it on the device's sign-in page."""
    from fte.host.devices import Devices

    load_settings(home)
    token = Devices(home).add(name, utcnow())
    if as_json:
        _emit_json({"name": name, "token": token})
    else:
        click.echo(f"{name}: {token}")
        click.echo("shown once: keep it in the device's password manager; `fte web token revoke NAME` ends it", err=True)


@web_token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def web_token_list(as_json: bool, home: Path) -> None:
    """The devices that may sign in (never their tokens)."""
    from fte.host.devices import Devices

    load_settings(home)
    devices = Devices(home).list()
    if as_json:
        _emit_json(devices)
    elif not devices:
        click.echo("no devices (fte web token add NAME)")
    else:
        click.echo(format_table(["name", "added"], [(d["name"], d["added"]) for d in devices]))


@web_token.command("revoke")
@click.argument("name")
@home_option
@handle_errors
def web_token_revoke(name: str, home: Path) -> None:
    """Stop NAME's token; its open sessions end at their next request."""
    from fte.host.devices import Devices

    load_settings(home)
    Devices(home).revoke(name)
    click.echo(f"revoked {name}")


@cli.group()
def style() -> None:
    """What the drafters learned from your edits of their drafts (docs/style.md)."""


@style.command("show")
@click.argument("recipient", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def style_show(recipient: str | None, as_json: bool, home: Path) -> None:
    """What was learned, per recipient (or for RECIPIENT), and from which tasks."""
    from fte.usecases.style import show

    found = show(home, recipient)
    if as_json:
        _emit_json(found)
        return
    if not found:
        click.echo("nothing learned yet: drafts you edit before approving teach it")
    for r in found:
        click.echo(f"{visible(r['recipient'])}: {r['examples']} replies, {r['edited']} of the last ones edited")
        for label, value in (("greeting", r["greeting"]), ("sign-off", r["signoff"])):
            if value:
                click.echo(f"  {label}: {visible(value, keep_newlines=False)}")
        for line in r["removed"]:
            click.echo(f"  always removed: {visible(line)}")
        for line in r["added"]:
            click.echo(f"  always added: {visible(line)}")
        if r["from_tasks"]:
            click.echo(f"  from tasks: {', '.join(t[:8] for t in r['from_tasks'])}")


@style.command("forget")
@click.argument("recipient", required=False)
@click.option("--all", "everything", is_flag=True, help="Forget everything learned.")
@home_option
@handle_errors
def style_forget(recipient: str | None, everything: bool, home: Path) -> None:
    """Forget what was learned for RECIPIENT (or --all)."""
    from fte.usecases.style import forget

    if bool(recipient) == everything:
        raise click.UsageError("give a recipient, or --all")
    n = forget(home, None if everything else recipient)
    click.echo(f"forgot {n} example{'s' if n != 1 else ''}")


@cli.group()
def remote() -> None:
    """The vault's git remote: where this host syncs with the others."""


@remote.command("set")
@click.argument("url")
@click.option("--no-check", is_flag=True, help="Set it even if it does not answer now (it is tried at every sync).")
@home_option
@handle_errors
def remote_set(url: str, no_check: bool, home: Path) -> None:
    """Sync the vault with URL from now on: the `remote` line of fte.toml (comments kept) and the
    vault's origin. The remote must answer first (exit 3 and nothing changed when it does not), as
    for `fte init --remote`. A running daemon takes it at its next SIGHUP or start."""
    from fte.host.home import set_remote

    settings = set_remote(home, url, check=not no_check)
    click.echo(f"remote {settings.remote}; the vault's origin is set. Reload a running daemon: kill -HUP <pid>")


@remote.command("unset")
@home_option
@handle_errors
def remote_unset(home: Path) -> None:
    """Stop syncing: `remote = ""` in fte.toml and the vault's origin removed. The vault and its
    history stay; `fte remote set URL` syncs again. A running daemon takes it at its next SIGHUP."""
    from fte.host.home import set_remote

    set_remote(home, "", allow_none=True)
    click.echo("no remote: this host no longer syncs. Reload a running daemon: kill -HUP <pid>")


@remote.command("show")
@home_option
@handle_errors
def remote_show(home: Path) -> None:
    """The remote this host syncs with."""
    click.echo(load_settings(home).remote or "(none: this host does not sync)")


@cli.group()
def odoo() -> None:
    """Odoo accounting: check the connection and read (writes only ever go through approved tasks)."""


def _accounting(home: Path) -> Any:
    from fte.usecases.accounting import Accounting

    return Accounting(home)


def _print_rows(data: Any, as_json: bool) -> None:
    if as_json or not isinstance(data, list):
        _emit_json(data)
        return
    if not data:
        click.echo("nothing")
        return
    cols = list(data[0].keys())
    click.echo(format_table(cols, [tuple(r.get(c) for c in cols) for r in data]))


@odoo.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@home_option
@handle_errors
def odoo_check(as_json: bool, home: Path) -> None:
    """Connection, server version, transport (JSON-RPC or JSON-2), the company fte works in and its
    currency, and the user's read rights. A company the login cannot access: exit 2."""
    from fte.odoo.accounting import check
    from fte.odoo.config import make_client

    client = make_client(load_settings(home))
    try:
        info = check(client)
    finally:
        client.close()
    if as_json:
        _emit_json(info)
    else:
        company = info["company"]
        click.echo(f"Odoo {info['version']} at {info['url']} (db {info['db']}) over {info['transport']}, "
                   f"company {company['name']} ({company['id']}), figures in {company['currency']}")
        for model, right in info["rights"].items():
            click.echo(f"  {model}: {right}")


@odoo.command("accounts")
@click.option("--type", "account_type", default=None, help="An account type, e.g. income, expense, asset_receivable.")
@click.option("--code", default=None, help="A code prefix, e.g. 4.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def odoo_accounts(account_type: str | None, code: str | None, as_json: bool, home: Path) -> None:
    """List the chart of accounts, by type or code prefix."""
    _print_rows(_accounting(home).get_accounts(account_type=account_type, code=code), as_json)


@odoo.command("invoices")
@click.option("--state", type=click.Choice(["draft", "posted", "cancel"]), default=None, help="Invoice state.")
@click.option("--payment-state", default=None, help="not_paid, in_payment, paid, partial…")
@click.option("--partner", default=None, help="Part of the partner's name.")
@click.option("--from", "date_from", default=None, help="Invoice date from (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Invoice date to (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def odoo_invoices(state: str | None, payment_state: str | None, partner: str | None, date_from: str | None,
                  date_to: str | None, as_json: bool, home: Path) -> None:
    """List customer invoices, filtered by state, payment state, partner and dates."""
    _print_rows(_accounting(home).get_invoices(state=state, payment_state=payment_state, partner=partner,
                                               date_from=date_from, date_to=date_to), as_json)


@odoo.command("balance")
@click.argument("code")
@click.option("--as-of", default=None, help="Up to this date (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def odoo_balance(code: str, as_of: str | None, as_json: bool, home: Path) -> None:
    """The balance of an account (by code) from posted entries, up to a date."""
    _emit_json(_accounting(home).get_balance(code=code, as_of=as_of))


@odoo.command("pnl")
@click.option("--from", "date_from", required=True, help="Period start (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Period end (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def odoo_pnl(date_from: str, date_to: str, as_json: bool, home: Path) -> None:
    """Profit and loss of a period: income, expenses, profit."""
    _emit_json(_accounting(home).get_profit_loss(date_from=date_from, date_to=date_to))


@cli.command()
@click.option("--verbose", is_flag=True, help="Log everything to stderr (default: warnings and errors only).")
@home_option
@handle_errors
def mcp(verbose: bool, home: Path) -> None:
    """Serve the Odoo accounting tools over MCP (stdio). Write tools only create approval tasks."""
    from fte.frontends.mcp import serve

    load_settings(home)
    serve(home, verbose=verbose)


@cli.group()
def auth() -> None:
    """Credentials for the services (stored in the home, mode 0600; never in the vault)."""


@auth.command("gmail")
@click.option("--client-secrets", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The OAuth client file (a Desktop app) from the Google Cloud console.")
@click.option("--purpose", type=click.Choice(["read", "send"]), default=None,
              help="read (cloud: gmail.readonly) or send (local: gmail.send + gmail.readonly for lookups); "
                   "default by the host's role.")
@click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
@home_option
@handle_errors
def auth_gmail(client_secrets: str, purpose: str | None, no_browser: bool, home: Path) -> None:
    """Authorise Gmail with the installed-app OAuth flow; the token is stored in the home (0600)."""
    from fte.io.channels.gmail import authorize

    settings = load_settings(home)
    purpose = purpose or ("read" if settings.role == "cloud" else "send")
    path = authorize(settings.home, Path(client_secrets), purpose, open_browser=not no_browser)
    click.echo(f"Gmail token ({purpose}) stored in {path}")


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="fte")
