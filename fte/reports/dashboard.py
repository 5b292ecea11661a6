"""``Dashboard.md``: what the person needs to see, written by the local host only.

It is rewritten only when its content changes, so it holds no per-tick timestamps: times are shown
to the minute for events (expiry, failures) and heartbeats to the hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import PurePosixPath
from typing import Any

import yaml

from fte.models.store import Store
from fte.models.tables import Task
from fte.states.lifecycle import STATES
from fte.support.plaintext import visible

EXPIRES_SOON = timedelta(hours=12)
#: How long the Dashboard shows that the remote went back.
REWIND_SHOWN = timedelta(days=7)


def _link(task: Task, in_table: bool = False) -> str:
    """A wiki link to the task's note. Inside a table cell the alias pipe is escaped (``\\|``), or
    Obsidian reads it as a column break."""
    if not task.note_path:
        return _cell(task.title or task.short_id)
    target = str(PurePosixPath(task.note_path).with_suffix(""))
    label = visible(task.title or task.short_id).replace("|", "-").replace("]", ")").replace("[", "(")
    pipe = "\\|" if in_table else "|"
    return f"[[{target}{pipe}{label}]]"


def _cell(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")[:120]


def render_dashboard(store: Store, now: datetime, agent: str, sync: dict[str, Any] | None,
                     tz: tzinfo = timezone.utc) -> str:
    """The Dashboard's text; times in ``tz`` (the person's)."""
    def at(dt: datetime) -> str:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    counts = {s: 0 for s in STATES} | store.counts()
    pending = store.tasks(state="pending")
    soon = [t for t in pending if t.expires_at and t.expires_at - now <= EXPIRES_SOON]
    failed = store.tasks(state="failed")
    redacted = store.redacted()
    refused = store.incidents("refused-approval", last=5)
    rewound = [i for i in store.incidents("remote-rewound", last=1) if now - i.at <= REWIND_SHOWN]
    props = {"role": "dashboard", "written_by": agent, "waiting": len(pending), "failed": len(failed)}
    out = ["---", yaml.safe_dump(props, sort_keys=False).strip(), "---", "# Dashboard", ""]
    out.append("| " + " | ".join(s for s in STATES) + " |")
    out.append("|" + "---|" * len(STATES))
    out.append("| " + " | ".join(str(counts[s]) for s in STATES) + " |")
    out += ["", f"## Waiting for you ({len(pending)})", ""]
    if pending:
        out += ["| task | kind | expires |", "|---|---|---|"]
        out += [f"| {_link(t, True)} | {t.kind} | {at(t.expires_at)} |" if t.expires_at else
                f"| {_link(t, True)} | {t.kind} | — |" for t in pending[:50]]
        if len(pending) > 50:
            out.append(f"\n…and {len(pending) - 50} more in `Pending_Approval/`.")
    else:
        out.append("Nothing waits for a decision.")
    out.append("")
    out.append("Approve by moving a note into `Approved/`; reject by moving it into `Rejected/`.")
    if soon:
        out += ["", "## Expires within 12 hours", ""]
        out += [f"- {_link(t)} — {at(t.expires_at)}" for t in soon if t.expires_at]
    if failed:
        out += ["", f"## Failed ({len(failed)})", "", "| task | error |", "|---|---|"]
        out += [f"| {_link(t, True)} | {_cell(t.last_error)} |" for t in failed[:20]]
        out.append("\nRetry with `fte replay ID`.")
    elsewhere = [(h.agent, q) for h in store.hosts() if h.agent != agent for q in (h.info or {}).get("redacted", [])]
    if redacted or elsewhere:
        out += ["", "## Redacted (a secret was replaced by a `[redacted: …]` marker before the note left the host)", ""]
        out += [f"- {_link(t)} — {_cell(t.flags.get('redacted'))}; the original is in `Quarantine/` here"
                for t in redacted]
        out += [f"- {_cell(q.get('task'))} on {host} — {_cell(q.get('kinds'))}; the original is in `Quarantine/` there"
                for host, q in elsewhere]
    held = (sync or {}).get("held") or []
    if held:
        out += ["", "## Push held: a commit holds a secret", ""]
        out += [f"- commit `{_cell(h.get('commit'))}` by {_cell(h.get('author'))}: {_cell(', '.join(h.get('kinds', [])))} "
                f"in `{_cell(h.get('path'))}`" for h in held]
        out.append("\nNothing is pushed until the secret is out of those commits (fte never rewrites your "
                   "commits): `git -C <vault> reset --soft origin/main`, remove the secret from the file, and "
                   "fte commits the rest (redacted) at its next tick.")
    if rewound:
        went = rewound[0]
        out += ["", "## The remote went back", "",
                (f"At {at(went.at)} the remote no longer held `{_cell(str(went.detail.get('had'))[:12])}`, which this "
                f"host had read from it (its head was `{_cell(str(went.detail.get('remote'))[:12])}`): someone rewound "
                "or rewrote it. Nothing it lacked was taken as undone; this host pushed its history back. See who "
                "can push to the remote.")]
    if refused:
        out += ["", "## Refused approvals", ""]
        out += [f"- `{_cell(i.path)}`: {_cell(i.detail.get('reason'))}" for i in refused]
    out += ["", "## Sync", ""]
    if sync:
        if sync.get("error"):
            out.append(f"- last error: {_cell(sync['error'])} (since {sync.get('error_since', '?')[:16]})")
        else:
            out.append("- in sync with the remote" if sync.get("remote") else "- no remote: this vault is not synced")
        if sync.get("ahead"):
            out.append(f"- {sync['ahead']} commit(s) not pushed yet")
    out += ["", "## Hosts", "", "| host | role | last seen (hour) |", "|---|---|---|"]
    out += [f"| {h.agent} | {h.role} | {at(h.last_seen)[:13]}h |" for h in store.hosts()]
    return "\n".join(out) + "\n"
