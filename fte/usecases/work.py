"""The person's other asks of a local host: a post to approve, the archive, the audit log's files,
the weekly briefing. Each commits what it wrote and pushes it through the host's git steps (the
same publish as a tick: the secret guard, and what the push merged in is read)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fte.clock import Clock, utcnow
from fte.errors import BadInput
from fte.host.home import Home, open_home
from fte.models.tables import Task
from fte.tick.context import TickReport
from fte.tick.desk import Desk


def post(home: Path, kind: str, text: str, *, clock: Clock = utcnow) -> Task:
    """A post task of ``kind`` with ``text``, waiting for approval like any draft, with its kind's
    expiry (``[expiry]``). The daemon presents it; it is published only once approved."""
    if not text.strip():
        raise BadInput("the post is empty")
    with open_home(home, clock) as h:
        hours = h.settings.expiry_hours.get(kind, h.settings.expiry_hours["default"])
        task, _created = h.lifecycle.detect(kind=kind, source="cli", source_ref=uuid.uuid4().hex,
                                            title=text.strip().splitlines()[0][:80], body=text, via="cli",
                                            actor=h.settings.person,
                                            expires_at=h.lifecycle.clock() + timedelta(hours=hours))
        Desk(h).publish(TickReport(), push=False, message=f"fte {h.settings.agent}: detect {task.short_id} ({kind})")
    return task


def _archiving(h: Home) -> None:
    if not h.settings.executes:
        raise BadInput(f"a {h.settings.role} host does not archive: finished notes are a local host's")


def archive(home: Path, *, clock: Clock = utcnow, log: Callable[[str], None] = lambda _m: None) -> list[tuple[str, int]]:
    """Archive now what ``[archive] after_months`` makes due (the daemon does it once a day), and
    push; (month, notes archived) for each month."""
    from fte.tick.archive import Archiver

    with open_home(home, clock) as h:
        _archiving(h)
        desk, report = Desk(h, log), TickReport()
        with h.lifecycle.batch():
            months = Archiver(desk.ctx, desk.sync.publish)(report, force=True)
            desk.publish(report)
    return months


def restore(home: Path, task_id: str, *, clock: Clock = utcnow) -> tuple[Task, str]:
    """Bring an archived task's note back where it was, byte for byte (it is not archived again);
    the task and the note's path."""
    from fte.tick.archive import restore as restore_note

    with open_home(home, clock) as h:
        _archiving(h)
        desk = Desk(h)
        task = h.store.get(task_id)
        path = restore_note(desk.ctx, task)
        desk.publish(TickReport(), message=f"fte {h.settings.agent}: restore {task.short_id} from the archive")
    return task, path


def export_audit(home: Path, *, since: date | None = None, until: date | None = None,
                 clock: Clock = utcnow) -> tuple[list[str], list[str], int]:
    """The audit log as daily JSON files in ``Logs/<agent>/audit/`` (and the retention applied):
    the files written, those removed, and the retention in days."""
    from fte.reports.audit import export

    with open_home(home, clock) as h:
        written, removed = export(h.store, h.vault, h.settings.agent, h.lifecycle.clock(), since=since, until=until,
                                  retention_days=h.settings.audit_retention_days)
        Desk(h).publish(TickReport(), message=f"fte {h.settings.agent}: audit export")
    return written, removed, h.settings.audit_retention_days


def briefing(home: Path, *, write: bool = True, clock: Clock = utcnow) -> tuple[str | None, dict[str, Any]]:
    """This week's CEO briefing (the last 7 days): its figures, and, with ``write``, the note
    written to ``Briefings/<Monday>_Monday_Briefing.md`` and pushed (its path in the vault)."""
    from fte.reports.briefing import briefing_path, figures, odoo_figures, render

    with open_home(home, clock) as h:
        now = h.lifecycle.clock()
        f = figures(h.store, now)
        odoo = odoo_figures(h.settings, f)
        data = dict(f.__dict__) | {"median_wait_hours": f.median_wait_hours, "odoo": odoo}
        if not write:
            return None, data
        rel = briefing_path(now)
        h.vault.write(rel, render(f, odoo).encode("utf-8"))
        Desk(h).publish(TickReport(), message=f"fte {h.settings.agent}: briefing")
    return rel, data


def upgrade_database(home: Path) -> tuple[str | None, str, bool]:
    """Bring the database to the newest schema (fte also does this on start): the revision before
    and after, and whether this local host's signing key was made (a home from before per-host keys)."""
    from fte.config import load_settings
    from fte.host.home import ensure_host_key
    from fte.models import migrate
    from fte.models.store import Store

    settings = load_settings(home)
    store = Store(settings.db_path)
    try:
        before, after = migrate.upgrade(store.engine)
    finally:
        store.close()
    return before, after, bool(settings.executes and ensure_host_key(settings))


def whatsapp_webhook(home: Path, public_url: str, port: int) -> Any:
    """The webhook server that receives WhatsApp messages from Twilio (signature checked, then
    spooled for the source), bound to 127.0.0.1:``port``, not yet serving. Refused on a cloud host
    (it holds no Twilio token), when the source is off (messages would never become tasks) and
    without ``FTE_TWILIO_AUTH_TOKEN``."""
    from fte.config import load_settings
    from fte.io.channels.registry import WhatsAppSourceSettings
    from fte.io.channels.whatsapp import make_server
    from fte.settings.env import load_env

    settings = load_settings(home)
    if not settings.executes:
        raise BadInput("the WhatsApp webhook runs on a local host (role local or all): a cloud host holds no "
                       "Twilio token and never answers")
    if not settings.table(WhatsAppSourceSettings).enabled:
        raise BadInput("[sources.whatsapp] enabled = true is not set in fte.toml: messages would be accepted "
                       "and never become tasks (docs/channels.md, WhatsApp)")
    token = load_env(settings.home).get("FTE_TWILIO_AUTH_TOKEN", "")
    if not token:
        raise BadInput("FTE_TWILIO_AUTH_TOKEN is not set (environment or .env)")
    return make_server(settings.home / "whatsapp", token, public_url, port)
