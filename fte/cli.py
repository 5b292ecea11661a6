"""The command line: a thin client over the library (see README.md for every command).

Exit codes (docs/architecture.md): 0 ok, 1 failure, 2 bad usage or bad input (one-line reason on stderr),
3 not reachable.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from fte import __version__
from fte.config import Settings, load_settings
from fte.plaintext import visible
from fte.errors import BadInput, FteError
from fte.io.channels.kinds import LINKEDIN_POST, X_POST
from fte.models import migrate
from fte.models.readonly import run_query
from fte.states.lifecycle import STATES
from fte.views import format_table, task_summary

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_HOME = "~/.fte"


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


#: One-word SQL statements that a bare word may still be (``fte sql vacuum`` is refused as a write).
_SQL_WORDS = frozenset({"vacuum", "analyze", "reindex", "begin", "commit", "rollback", "end"})


def _reader_schema(settings: Settings) -> str:
    """A reader's database at the newest schema; a missing one is made and read back from the vault
    by opening the home (loudly: its audit history is lost), never silently created empty."""
    if not settings.db_path.exists():
        open_home(settings.home).close()
    return migrate.ensure_schema(settings.db_path)


# The home, the store and git are imported when a command needs them, not at start: `fte --help`,
# `fte --version` and the readers (`fte status`, `fte sql`) never load SQLAlchemy or GitPython.
def open_home(*args: Any, **kwargs: Any) -> Any:
    from fte.home import open_home as open_

    return open_(*args, **kwargs)


def init_home(*args: Any, **kwargs: Any) -> Any:
    from fte.home import init_home as init

    return init(*args, **kwargs)


_TASK_COLUMNS = ("id, kind, state, version, title, source, origin, created_at AS created, updated_at AS updated, "
                 "note_path AS note, source_ref, params, body, expires_at AS expires, claimed_by, approval, "
                 "last_error AS error, mirrored_version, flags")
_JSON_COLUMNS = ("params", "approval", "flags", "detail")


def _read_task(settings: Settings, ref: str) -> dict[str, Any]:
    """One task and its timeline, read-only, as :func:`fte.views.task_detail` shows them; ``ref``
    is the id or at least 4 of its first characters (as :meth:`fte.models.store.Store.get`)."""
    from fte.errors import NotFound

    ref = ref.strip().lower()
    if len(ref) < 4 or not re.fullmatch(r"[0-9a-f]+", ref):
        raise NotFound(f"no task {ref!r} (give the id, or at least 4 of its first characters)")
    columns, rows = run_query(settings.db_path, f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ? OR id LIKE ? "
                              "ORDER BY id = ? DESC LIMIT 2", (ref, ref + "%", ref))
    if not rows:
        raise NotFound(f"no task {ref!r}")
    exact = [r for r in rows if r[0] == ref]
    if not exact and len(rows) > 1:
        raise BadInput(f"{ref!r} matches more than one task; give more characters")
    task = _decoded(dict(zip(columns, (exact or rows)[0])))
    columns, rows = run_query(settings.db_path, "SELECT version, at, event, from_state AS \"from\", to_state AS \"to\", "
                              "actor, host, source, detail FROM transitions WHERE task_id = ? ORDER BY version",
                              (task["id"],))
    task["timeline"] = [_decoded(dict(zip(columns, r))) for r in rows]
    return task


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_COLUMNS:
        if key in row and isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row


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
    settings = load_settings(home)
    if not settings.executes:
        raise BadInput(f"a {settings.role} host does not decide; review on a local host")
    with open_home(home, repair=False) as h:
        waiting = [t.id for t in h.store.tasks(state="pending")]
    if not waiting:
        click.echo("nothing waits for you")
        return
    for n, task_id in enumerate(waiting, 1):
        with open_home(home, repair=False) as h:
            task = h.store.get(task_id)
            now = h.lifecycle.clock()
        if task.state != "pending":
            continue  # decided meanwhile (another device, the daemon's expiry)
        _show_for_review(task, n, len(waiting), now)
        while True:
            choice = click.prompt("[a]pprove, [r]eject, [e]dit, [s]kip, [q]uit", default="s", show_default=False,
                                  type=click.Choice(["a", "r", "e", "s", "q"]), show_choices=False)
            try:
                if choice == "a":
                    _decide(home, task_id, "approve", None, None, False)
                elif choice == "r":
                    reason = click.prompt("reason (Enter for none)", default="", show_default=False)
                    _decide(home, task_id, "reject", reason.strip() or None, None, False)
                elif choice == "e":
                    if not _edit_for_review(home, task_id):
                        continue
                    if click.confirm("approve what you saved?", default=False):
                        _decide(home, task_id, "approve", None, None, False)
            except FteError as exc:
                click.echo(f"fte: {exc}", err=True)
            break
        if choice == "q":
            break


def _show_for_review(task: Any, n: int, total: int, now: Any) -> None:
    from fte.io.vault.notes import split_body

    params = task.params or {}
    left = task.expires_at - now if task.expires_at else None
    deadline = f"expires in {int(left.total_seconds() // 3600)} h" if left is not None else "no deadline"
    click.echo(f"\n── {n}/{total}  {task.short_id}  {task.kind}  {deadline}")
    click.echo(f"   {visible(task.title)}")
    for key in ("to", "subject", "partner", "amount"):
        if params.get(key):
            click.echo(f"   {key}: {visible(str(params[key]))}")
    click.echo("\n" + visible(task.body, keep_newlines=True).rstrip())
    original = task.original or split_body(task.body)[1]
    if original:
        lines = visible(original, keep_newlines=True).strip().splitlines()
        click.echo("\n   > " + "\n   > ".join(lines[:20]) + ("\n   > …" if len(lines) > 20 else ""))
    click.echo("")


def _edit_for_review(home: Path, task_id: str) -> bool:
    """The draft in $EDITOR; what was saved becomes the task's draft (an ``edit``, as a change in
    Obsidian would be). False when nothing changed."""
    with open_home(home) as h:
        task = h.store.get(task_id)
        edited = click.edit(task.body, extension=".md", require_save=True)
        if edited is None or edited.rstrip("\n") == task.body.rstrip("\n"):
            click.echo("unchanged")
            return False
        h.lifecycle.fire(task.id, "edit", actor=h.settings.person, source="cli",
                         changes={"body": edited.rstrip("\n") + "\n"})
        from fte.daemon import Runner, TickReport

        Runner(h).publish(TickReport())
    click.echo("saved as the draft")
    return True


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--offline", is_flag=True, help="Do not reach the remote or Odoo.")
@home_option
@handle_errors
def doctor(as_json: bool, offline: bool, home: Path) -> None:
    """Check this home end to end without changing anything: settings, secrets, role, database,
    vault, remote, keys, channels, Odoo. Exit 1 when something fails."""
    from fte.doctor import FAIL, diagnose

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
    settings = load_settings(home)
    revision = _reader_schema(settings)
    _cols, rows = run_query(settings.db_path, "SELECT state, count(*) FROM tasks GROUP BY state")
    counts = {state: 0 for state in STATES} | {s: n for s, n in rows}
    _c, behind = run_query(settings.db_path, "SELECT count(*) FROM tasks WHERE mirrored_version < version")
    _c, last = run_query(settings.db_path, "SELECT at, event, task_id FROM transitions ORDER BY id DESC LIMIT 1")
    _c, me = run_query(settings.db_path, "SELECT info FROM hosts WHERE agent = ?", (settings.agent,))
    _c, hosts = run_query(settings.db_path, "SELECT agent, role, last_seen FROM hosts ORDER BY agent")
    sync = json.loads(me[0][0]).get("sync") if me else None
    info = {
        "home": str(settings.home),
        "role": settings.role,
        "agent": settings.agent,
        "vault": str(settings.vault),
        "db": str(settings.db_path),
        "remote": settings.remote,
        "schema": revision,
        "tasks": sum(counts.values()),
        "counts": counts,
        "notes_behind": behind[0][0],
        "last_transition": dict(zip(("at", "event", "task_id"), last[0])) if last else None,
        "sync": sync,
        "hosts": [dict(zip(("agent", "role", "last_seen"), h)) for h in hosts],
    }
    if as_json:
        _emit_json(info)
        return
    click.echo(f"{settings.role} host {settings.agent!r} — home {settings.home}")
    click.echo(f"vault {settings.vault}; remote {settings.remote or '(none)'}; schema {revision}")
    click.echo(f"{info['tasks']} tasks: " + ", ".join(f"{s} {n}" for s, n in counts.items() if n) if info["tasks"] else "no tasks yet")
    if info["notes_behind"]:
        click.echo(f"{info['notes_behind']} notes behind their rows (repaired at the next start)")
    if last:
        click.echo(f"last transition: {last[0][1]} of {last[0][2][:8]} at {last[0][0]}")
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
@click.option("--state", type=click.Choice(list(STATES)), default=None, help="Only tasks in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print the tasks as JSON.")
@home_option
@handle_errors
def tasks(state: str | None, limit: int | None, as_json: bool, home: Path) -> None:
    """List tasks, oldest first."""
    settings = load_settings(home)
    _reader_schema(settings)  # a reader: sqlite3 read-only, no SQLAlchemy, no git
    query = ("SELECT id, kind, state, version, title, source, origin, created_at AS created, "
             "updated_at AS updated, note_path AS note FROM tasks"
             + (" WHERE state = ?" if state else "") + " ORDER BY created_at, id"
             + (" LIMIT ?" if limit else ""))
    params = tuple(x for x in (state, limit) if x)
    columns, rows = run_query(settings.db_path, query, params)
    found = [dict(zip(columns, row)) for row in rows]
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
    settings = load_settings(home)
    _reader_schema(settings)  # a reader: sqlite3 read-only, no SQLAlchemy, no git
    data = _read_task(settings, task_id)
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


#: Rows a named query shows unless ``--limit`` says otherwise.
NAMED_LIMIT = 1000


@cli.command()
@click.argument("query", required=False)
@click.option("--list", "list_named", is_flag=True, help="List the named queries.")
@click.option("--json", "fmt", flag_value="json", help="Rows as a JSON list of objects.")
@click.option("--csv", "fmt", flag_value="csv", help="Rows as CSV with a header line.")
@click.option("--timeout", type=float, default=5.0, show_default=True,
              help="Seconds the query may run; longer is refused (exit 2).")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"At most N rows (named queries: {NAMED_LIMIT} unless given; 0 = all); said on stderr when cut.")
@home_option
@handle_errors
def sql(query: str | None, list_named: bool, fmt: str | None, timeout: float, limit: int | None, home: Path) -> None:
    """Run one read-only SQL query, or a named one, over this host's database (writes are refused, exit 2).

    QUERY is SQL, or a name from --list (approval-latency, executions, throughput, failures,
    decisions, timeline, incidents, waiting). Tables: tasks, transitions (the audit log), incidents,
    executions, cursors, hosts; views: task_timeline, approval_latency, execution_outcomes,
    throughput_daily, failures_by_cause, decisions (docs/schema.md).
    """
    from fte.queries import NAMED

    if list_named:
        rows_ = [(name, about) for name, (about, _sql) in NAMED.items()]
        if fmt == "json":
            _emit_json([{"name": n, "about": a} for n, a in rows_])
        else:
            click.echo(format_table(["name", "answers"], rows_, max_width=80))
        return
    if not query:
        raise click.UsageError("give a query, a named query, or --list")
    settings = load_settings(home)
    _reader_schema(settings)
    if query in NAMED:
        query = NAMED[query][1]
        limit = NAMED_LIMIT if limit is None else limit  # years of history: the newest first, not all
    elif re.fullmatch(r"[a-z][a-z0-9_-]*", query.strip()) and query.strip().lower() not in _SQL_WORDS:
        raise BadInput(f"no named query {query.strip()!r}; the named queries: {', '.join(NAMED)} (or write SQL)")
    if limit:
        query = f"SELECT * FROM ({query.strip().rstrip(';')}) LIMIT {limit + 1}"
    columns, rows = run_query(settings.db_path, query, timeout=timeout)
    if limit and len(rows) > limit:
        rows = rows[:limit]
        click.echo(f"(the first {limit} rows; --limit 0 for all, or --limit N)", err=True)
    if fmt == "json":
        _emit_json([dict(zip(columns, r)) for r in rows])
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(format_table(columns, rows))


@cli.group()
def db() -> None:
    """The host's database: schema migrations."""


@db.command()
@home_option
@handle_errors
def upgrade(home: Path) -> None:
    """Bring the database to the newest schema (fte also does this on start)."""
    settings = load_settings(home)
    from fte.models.store import Store

    store = Store(settings.db_path)
    try:
        before, after = migrate.upgrade(store.engine)
    finally:
        store.close()
    click.echo(f"schema: {before or '(empty)'} → {after}" if before != after else f"schema already at {after}")
    if settings.executes:
        from fte.home import ensure_host_key

        if ensure_host_key(settings):
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
    from fte.home import public_key

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
    from fte.keys import Keyring

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
    from fte.keys import Keyring

    load_settings(home)
    changed = Keyring.of(home).trust(check_agent(agent), key, utcnow())
    click.echo(f"trusted {agent}" if changed else f"{agent} was already trusted with that key")


@keys.command("revoke")
@click.argument("agent")
@home_option
@handle_errors
def keys_revoke(agent: str, home: Path) -> None:
    """Stop trusting AGENT's signatures (what it signed no longer verifies here)."""
    from fte.keys import Keyring

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
    from fte.loop import log_line, run_daemon

    sys.exit(run_daemon(home, once=once, log=lambda m: click.echo(log_line(m, log_format), err=True)))


def _canonical(value: Any) -> str:
    """A comparable form of parameters (NaN equals NaN here: a note read back from YAML holds a new one)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _shown_fields(h: Any, task: Any) -> dict[str, Any] | None:
    """The draft and parameters the task's note shows now (None: no readable note)."""
    from fte.errors import NoteError
    from fte.io.vault.notes import note_fields, parse_note

    data = h.vault.read(task.note_path) if task.note_path else None
    if data is None:
        return None
    try:
        note = parse_note(data, task.note_path)
        return note_fields(note) if note.id == task.id else None
    except (NoteError, BadInput):
        return None


def _decide(home: Path, task_id: str, decision: str, reason: str | None, by: str | None, as_json: bool) -> None:
    from fte.daemon import Runner, TickReport
    from fte.states.reconcile import approve as approve_task, check_deadline

    with open_home(home) as h:
        if not h.settings.executes:
            raise BadInput(f"a {h.settings.role} host does not decide; approvals are made on a local host")
        runner = Runner(h)
        report = TickReport()
        before = h.store.get(task_id)
        runner.work_tree(report)  # the note as the person sees it now: their edits count first
        task = h.store.get(task_id)
        person = by or h.settings.person
        if task.state != "pending":
            decided = task.state in ("approved", "claimed", "done", "failed", "rejected", "expired")
            raise BadInput(
                f"task {task.short_id} is already decided ({task.state})" if decided
                else f"task {task.short_id} is {task.state}, not waiting for a decision")
        if decision == "approve" and task.epoch != before.epoch:
            # What the note shows is not what this command was about to sign: record it, and ask.
            runner.publish(report)
            raise BadInput(f"the note of {task.short_id} was changed since it was presented; the change is "
                           f"recorded as an edit — look at {task.note_path} again, then approve")
        shown = _shown_fields(h, task) if decision == "approve" else None
        if shown is not None and (shown["body"] != task.body or _canonical(shown["params"]) != _canonical(task.params or {})):
            # The note shows another draft than the row holds, and not as an uncommitted change (a
            # git plugin committed the person's edit, or a pull left it): what is signed must be
            # what was seen, so the note's draft becomes the task's, and the person looks again.
            h.lifecycle.fire(task.id, "edit", actor=person, source="cli", adopt_note=task.note_path,
                             changes={"body": shown["body"], "params": shown["params"]},
                             reason="the note showed another draft than this host held")
            runner.publish(report)
            raise BadInput(f"the note of {task.short_id} showed another draft than this host held; it is "
                           f"recorded as an edit — look at {task.note_path} again, then approve")
        check_deadline(task, h.lifecycle.clock())
        if decision == "approve":
            task = approve_task(h.lifecycle, runner.trust, task, person, "cli", detail={"via": "cli"})
        else:
            task = h.lifecycle.fire(task.id, "reject", actor=person, source="cli", reason=reason,
                                    changes={"last_error": f"rejected: {reason}" if reason else None})
        runner.publish(report)
    if as_json:
        _emit_json(task_summary(task) | {"sync_error": report.sync_error})
    else:
        done = {"approve": "approved", "reject": "rejected"}[decision]
        click.echo(f"{done} {task.short_id} ({visible(task.title)}); note: {task.note_path}")
        if report.sync_error:
            click.echo(f"not pushed yet: {report.sync_error}", err=True)


@cli.command()
@click.argument("task_id")
@click.option("--by", default=None, help="Who approves (default: the 'person' setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@home_option
@handle_errors
def approve(task_id: str, by: str | None, as_json: bool, home: Path) -> None:
    """Approve a pending task: the same as moving its note into Approved/ (signed, then pushed)."""
    _decide(home, task_id, "approve", None, by, as_json)


@cli.command()
@click.argument("task_id")
@click.option("--reason", default=None, help="Why (kept in the audit log and the note).")
@click.option("--by", default=None, help="Who rejects (default: the 'person' setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@home_option
@handle_errors
def reject(task_id: str, reason: str | None, by: str | None, as_json: bool, home: Path) -> None:
    """Reject a pending task: the same as moving its note into Rejected/."""
    _decide(home, task_id, "reject", reason, by, as_json)


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
    from fte.daemon import Runner, TickReport
    from fte.io.channels.registry import build_executors
    from fte.states import replay as replaying

    if not task_ids and not all_failed:
        raise click.UsageError("give task ids, or --all")
    with open_home(home) as h:
        runner = Runner(h) if h.settings.executes else None
        assert h.lifecycle.trust is not None
        executors = build_executors(h.settings) if h.settings.executes else {}
        tasks = h.store.tasks(state="failed") if all_failed else [h.store.get(t) for t in task_ids]
        plans = [replaying.plan(h.lifecycle, t, executors, h.lifecycle.trust, force) for t in tasks]
        if not dry_run:
            replaying.apply(h.lifecycle, plans, actor=h.settings.person)  # all or nothing
            if runner is not None:
                runner.publish(TickReport())
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
    from fte.demo import run_demo

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
    from fte.daemon import Runner, TickReport

    with open_home(home) as h:
        runner = Runner(h, log=lambda m: click.echo(m, err=True))
        if runner.archiver is None:
            raise BadInput(f"a {h.settings.role} host does not archive: finished notes are a local host's")
        report = TickReport()
        with h.lifecycle.batch():
            months = runner.archiver(report, force=True)
            runner.publish(report)
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
    from fte.daemon import Runner, TickReport
    from fte.tick.archive import restore
    from fte.tick.context import Context

    with open_home(home) as h:
        if not h.settings.executes:
            raise BadInput(f"a {h.settings.role} host does not archive: finished notes are a local host's")
        runner = Runner(h)
        task = h.store.get(task_id)
        path = restore(Context(h, lambda m: None), task)
        runner.publish(TickReport(), message=f"fte {h.settings.agent}: restore {task.short_id} from the archive")
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
    from fte.audit import export

    if day and since:
        raise click.UsageError("give --day or --since, not both")
    with open_home(home) as h:
        start = (day or since).date() if (day or since) else None
        until = day.date() if day else None
        written, removed = export(h.store, h.vault, h.settings.agent, h.lifecycle.clock(), since=start, until=until,
                                  retention_days=h.settings.audit_retention_days)
        touched = h.vault.drain_touched()
        if touched:
            h.git.commit(touched, f"fte {h.settings.agent}: audit export")
            h.git.sync()
    if as_json:
        _emit_json({"written": written, "removed": removed})
    else:
        for rel in written:
            click.echo(f"wrote {h.settings.vault / rel}")
        for rel in removed:
            click.echo(f"removed {rel} (older than {h.settings.audit_retention_days} days)")
        if not written:
            click.echo("no transitions in that period")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of writing the note.")
@home_option
@handle_errors
def report(as_json: bool, home: Path) -> None:
    """Write this week's CEO briefing to Briefings/<Monday>_Monday_Briefing.md (the last 7 days)."""
    from fte.report import briefing_path, figures, odoo_figures, render

    with open_home(home) as h:
        now = h.lifecycle.clock()
        f = figures(h.store, now)
        odoo = odoo_figures(h.settings, f)
        if as_json:
            _emit_json({k: v for k, v in f.__dict__.items()} | {"median_wait_hours": f.median_wait_hours, "odoo": odoo})
            return
        rel = briefing_path(now)
        h.vault.write(rel, render(f, odoo).encode("utf-8"))
        touched = h.vault.drain_touched()
        if touched:
            h.git.commit(touched, f"fte {h.settings.agent}: briefing")
            h.git.sync()
    click.echo(f"wrote {h.settings.vault / rel}")


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
    if not text.strip():
        raise BadInput("the post is empty")
    _post(home, LINKEDIN_POST.name, text, as_json)


@post.command("x")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the new task as JSON.")
@home_option
@handle_errors
def post_x(text: str, as_json: bool, home: Path) -> None:
    """Create an x.post task with TEXT (at most 280 characters as X counts them: a link 23, an emoji
    or a CJK character 2); it goes to Pending_Approval/ like any draft, and is posted once approved."""
    from fte.io.channels.x import check_post

    _post(home, X_POST.name, check_post(text), as_json)


def _post(home: Path, kind: str, text: str, as_json: bool) -> None:
    """A post task, waiting for approval like any draft, with its kind's expiry (``[expiry]``)."""
    import uuid
    from datetime import timedelta

    with open_home(home) as h:
        hours = h.settings.expiry_hours.get(kind, h.settings.expiry_hours["default"])
        task, _created = h.lifecycle.detect(kind=kind, source="cli", source_ref=uuid.uuid4().hex,
                                            title=text.strip().splitlines()[0][:80], body=text, via="cli",
                                            actor=h.settings.person,
                                            expires_at=h.lifecycle.clock() + timedelta(hours=hours))
        touched = h.vault.drain_touched()
        if touched:
            h.git.commit(touched, f"fte {h.settings.agent}: detect {task.short_id} ({kind})")
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
    from fte.config import load_env
    from fte.io.channels.whatsapp import make_server

    settings = load_settings(home)
    if not settings.executes:
        raise BadInput("the WhatsApp webhook runs on a local host (role local or all): a cloud host holds no "
                       "Twilio token and never answers")
    source = settings.section("sources.whatsapp")
    if not source.get("enabled"):
        raise BadInput("[sources.whatsapp] enabled = true is not set in fte.toml: messages would be accepted "
                       "and never become tasks (docs/channels.md, WhatsApp)")
    token = load_env(settings.home).get("FTE_TWILIO_AUTH_TOKEN", "")
    if not token:
        raise BadInput("FTE_TWILIO_AUTH_TOKEN is not set (environment or .env)")
    server = make_server(settings.home / "whatsapp", token, public_url, port)
    click.echo(f"listening on http://127.0.0.1:{server.server_address[1]} for {public_url}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


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
    from fte.home import set_remote

    settings = set_remote(home, url, check=not no_check)
    click.echo(f"remote {settings.remote}; the vault's origin is set. Reload a running daemon: kill -HUP <pid>")


@remote.command("unset")
@home_option
@handle_errors
def remote_unset(home: Path) -> None:
    """Stop syncing: `remote = ""` in fte.toml and the vault's origin removed. The vault and its
    history stay; `fte remote set URL` syncs again. A running daemon takes it at its next SIGHUP."""
    from fte.home import set_remote

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


def _odoo_read(home: Path, fn_name: str, as_json: bool, **kw: Any) -> None:
    from fte.mcp_server import Tools

    data = getattr(Tools(home), fn_name)(**kw)
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
    _odoo_read(home, "get_accounts", as_json, account_type=account_type, code=code)


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
    _odoo_read(home, "get_invoices", as_json, state=state, payment_state=payment_state, partner=partner,
               date_from=date_from, date_to=date_to)


@odoo.command("balance")
@click.argument("code")
@click.option("--as-of", default=None, help="Up to this date (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def odoo_balance(code: str, as_of: str | None, as_json: bool, home: Path) -> None:
    """The balance of an account (by code) from posted entries, up to a date."""
    _odoo_read(home, "get_balance", True, code=code, as_of=as_of)


@odoo.command("pnl")
@click.option("--from", "date_from", required=True, help="Period start (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Period end (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@handle_errors
def odoo_pnl(date_from: str, date_to: str, as_json: bool, home: Path) -> None:
    """Profit and loss of a period: income, expenses, profit."""
    _odoo_read(home, "get_profit_loss", True, date_from=date_from, date_to=date_to)


@cli.command()
@click.option("--verbose", is_flag=True, help="Log everything to stderr (default: warnings and errors only).")
@home_option
@handle_errors
def mcp(verbose: bool, home: Path) -> None:
    """Serve the Odoo accounting tools over MCP (stdio). Write tools only create approval tasks."""
    from fte.mcp_server import serve

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
