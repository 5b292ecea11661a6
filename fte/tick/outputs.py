"""What a tick leaves for the person and the other hosts: the Dashboard, the weekly briefing, the
daily audit export, the heartbeat, and notices (docs/notifications.md)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from fte.clock import iso, parse_iso
from fte.reports.audit import export
from fte.reports.briefing import briefing_path, figures, odoo_figures, render
from fte.reports.dashboard import render_dashboard
from fte.reports.notify import Notice, Notifier, overruled_notices, task_notices
from fte.settings.tables import NotifySettings, WebSettings
from fte.tick.context import Context
from fte.tick.sync import Sync


class Outputs:
    def __init__(self, ctx: Context, sync: Sync, notifier: Notifier | None) -> None:
        self.ctx = ctx
        self.sync = sync  # read only: the last sync's result and since when it fails
        self.notifier = notifier
        self._told: set[str] = set()  # held pushes and sync failures already told (per process)
        self._last_heartbeat: datetime | None = None
        self._last_redacted: list[dict[str, Any]] = []

    def writes_shared_files(self) -> bool:
        """Whether this host speaks for the local hosts — writes ``Dashboard.md`` and the weekly
        briefing, and sends the notices about tasks: the first by name of the local hosts it trusts
        that were seen alive (a heartbeat within three intervals), itself always counted. Every
        local host reaches the same answer from the same synced heartbeats; when the writer has
        been silent for three intervals, the next one takes over (docs/sync.md, "One voice")."""
        ctx = self.ctx
        if not ctx.settings.executes:
            return False
        trust = ctx.lifecycle.trust
        trusted = set(trust.keyring.entries) if trust is not None else set()
        window = timedelta(seconds=3 * ctx.settings.heartbeat_interval)
        now = ctx.now()
        alive = {h.agent for h in ctx.store.hosts()
                 if h.agent in trusted and h.role in ("local", "all") and now - h.last_seen <= window}
        return ctx.settings.agent <= min(alive | {ctx.settings.agent})

    def write_dashboard(self) -> None:
        ctx = self.ctx
        host = next((h for h in ctx.store.hosts() if h.agent == ctx.settings.agent), None)
        sync = (host.info or {}).get("sync") if host else None
        text = render_dashboard(ctx.store, ctx.now(), ctx.settings.agent, sync, ctx.vault.tz)
        ctx.vault.write("Dashboard.md", text.encode("utf-8"))

    def weekly_briefing(self) -> str | None:
        """The first tick of each week (UTC, from Monday) writes that week's briefing."""
        ctx = self.ctx
        rel = briefing_path(ctx.now())
        if ctx.vault.path(rel).exists():
            return None
        f = figures(ctx.store, ctx.now())
        text = render(f, odoo_figures(ctx.settings, f))
        ctx.vault.write(rel, text.encode("utf-8"))
        ctx.log(f"wrote {rel}")
        return rel

    def daily_audit(self) -> None:
        """Once a day, the audit files of the days that ended since the last export."""
        ctx = self.ctx
        today = ctx.now().date()
        last = ctx.store.cursor("audit.exported")
        if last == today.isoformat():
            return
        # One day at a time (memory stays bounded however long the history), within the retention.
        oldest = today - timedelta(days=ctx.settings.audit_retention_days)
        day = max(date.fromisoformat(last), oldest) if last else oldest
        while day < today:
            export(ctx.store, ctx.vault, ctx.settings.agent, ctx.now(), since=day, until=day,
                   retention_days=ctx.settings.audit_retention_days)
            day += timedelta(days=1)
        ctx.store.set_cursor("audit.exported", today.isoformat(), ctx.now())

    def heartbeat(self) -> None:
        """The heartbeat: in the database every tick; in ``Logs/<agent>/heartbeat.json`` now and then.

        The file also lists this host's redacted notes (ids and kinds of secret only — never
        titles, which could hold the secret), so the local Dashboard can tell the person.
        """
        ctx = self.ctx
        now = ctx.now()
        ctx.store.heartbeat(ctx.settings.agent, ctx.settings.role, now)
        redacted = [{"task": t.short_id, "kinds": t.flags["redacted"]} for t in ctx.store.redacted()]
        due = (self._last_heartbeat is None or redacted != self._last_redacted
               or (now - self._last_heartbeat).total_seconds() >= ctx.settings.heartbeat_interval)
        if due:
            self._last_heartbeat, self._last_redacted = now, redacted
            data = {"agent": ctx.settings.agent, "role": ctx.settings.role, "at": iso(now), "redacted": redacted}
            rel = f"Logs/{ctx.settings.agent}/heartbeat.json"
            ctx.vault.write(rel, (json.dumps(data, indent=2) + "\n").encode())

    def notify(self) -> None:
        """Tell the person what needs them (fte/reports/notify.py): what waits, expires soon, failed; a push
        held by the secret guard; a sync failing for an hour. Never stops the tick."""
        if self.notifier is None:
            return
        ctx = self.ctx
        notices = task_notices(ctx.store, ctx.now(), ctx.settings.table(NotifySettings).include_text,
                               ctx.settings.table(WebSettings).public_url) \
            if self.writes_shared_files() else []  # one notice per event, from one host
        notices += overruled_notices(ctx.store)  # only the host where that decision was made knows
        sync = self.sync.last
        for event in (sync.held if sync else []):
            key = f"held:{event.detail['commit']}:{event.path}"
            if key not in self._told:
                self._told.add(key)
                notices.append(Notice("fte: a push is held: a commit holds a secret",
                                      f"commit {event.detail['commit'][:8]} by {event.detail['author']}: "
                                      f"{', '.join(event.detail['kinds'])} in {event.path}. See the Dashboard."))
        since = self.sync.error_since
        if since and (ctx.now() - parse_iso(since)).total_seconds() >= 3600 and f"sync:{since}" not in self._told:
            self._told.add(f"sync:{since}")
            notices.append(Notice("fte: sync has failed for an hour", f"since {since}: {sync.error if sync else ''}"))
        for notice in notices:
            self.notifier.send(notice)
