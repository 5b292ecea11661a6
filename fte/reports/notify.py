"""Notifications: tell the person when something waits for them, is about to expire, failed, or when
a push is held — through Apprise (ntfy, Telegram, Slack, Matrix, mail, desktop and ~100 more).

Settings (docs/settings.md): ``[notify] urls = ["ntfy://ntfy.sh/${FTE_NTFY_TOPIC}", …]`` — a
``${NAME}`` is filled from the environment or the home's ``.env``, so tokens stay out of
``fte.toml`` and the vault — and ``include_text`` (default false: a notice names tasks by title and
never carries a draft's text). A notice that cannot be delivered is logged and never stops a tick.

What is sent, at the end of a tick, at most one notice of each kind:

* tasks that started waiting for a decision (batched: "3 tasks wait for you");
* tasks whose deadline is less than 12 hours away (once per task);
* tasks that failed (once per failure);
* a push held by the secret guard, and a sync that has failed for an hour (once per spell).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fte.errors import BadInput

_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def expand(url: str, env: dict[str, str]) -> str:
    """``url`` with each ``${NAME}`` filled from ``env``; a name that is not set is an error."""
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise BadInput(f"[notify] urls: {name} is not set (environment or .env)")
        return env[name]
    return _VAR.sub(fill, url)


@dataclass(frozen=True)
class Notice:
    """One message: a title and a body (plain text)."""

    title: str
    body: str


class Notifier:
    """Delivers notices to every configured URL; returns whether at least one took it."""

    def __init__(self, urls: list[str], env: dict[str, str] | None = None,
                 log: Callable[[str], None] = print) -> None:
        env = dict(os.environ) | (env or {})
        self.urls = [expand(u, env) for u in urls]
        self.log = log
        self._apprise: Any = None

    def _client(self) -> Any:
        if self._apprise is None:
            try:
                import apprise  # imported only when notifications are set up
            except ImportError as exc:
                raise BadInput("notifications need Apprise: pip install 'fte[notify]'") from exc
            client = apprise.Apprise()
            for url in self.urls:
                if not client.add(url):
                    raise BadInput(f"[notify] urls: Apprise does not understand {redact_url(url)!r}")
            self._apprise = client
        return self._apprise

    def check(self) -> int:
        """How many URLs Apprise takes; :class:`BadInput` names the first it does not understand."""
        return len(self._client())

    def send(self, notice: Notice) -> bool:
        try:
            delivered = bool(self._client().notify(title=notice.title, body=notice.body))
        except BadInput as exc:
            self.log(f"notify: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 — a notice never stops a tick
            self.log(f"notify: {type(exc).__name__}: {exc}")
            return False
        if not delivered:
            self.log(f"notify: not delivered: {notice.title}")
        return delivered


def redact_url(url: str) -> str:
    """A URL fit for a log line: what follows the scheme is cut after the host."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('@')[-1]}/…" if rest else url


EXPIRY_WARNING_HOURS = 12
_LIST = 10  # tasks named in one notice; the rest are counted


def task_link(public_url: str, task_id: str) -> str:
    """The address of a task's page on ``fte web`` (it holds only the task's id: the device's
    session is what lets it decide)."""
    return f"{public_url.rstrip('/')}/task/{task_id}"


def _names(tasks: list[Any], include_text: bool, public_url: str = "") -> str:
    lines = []
    for t in tasks[:_LIST]:
        line = f"- {t.short_id} {t.title} ({t.kind})"
        if public_url:
            line += "\n  " + task_link(public_url, t.id)
        if include_text and t.body:
            line += "\n  " + t.body.strip().replace("\n", "\n  ")[:500]
        lines.append(line)
    if len(tasks) > _LIST:
        lines.append(f"…and {len(tasks) - _LIST} more")
    return "\n".join(lines)


def overruled_notices(store: Any) -> list[Notice]:
    """The decisions the person made on this host that did not stand (another device's decision
    did: docs/protocol.md, "Convergence"), each told once. Only the host where the overruled
    decision was made knows it, so every host sends these, not only the one that speaks for all."""
    told = [t for t in store.flagged("overruled") if not (t.flags or {}).get("notified_overruled")]
    if not told:
        return []
    for t in told:
        store.set_flags(t.id, notified_overruled=True)
    n = len(told)
    return [Notice(f"fte: {n} decision{'s' if n != 1 else ''} you made here did not stand",
                   "\n".join(f"- {t.short_id} {t.title}: now {t.state} — {t.flags['overruled']}"[:400]
                             for t in told[:_LIST]))]


def task_notices(store: Any, now: Any, include_text: bool = False, public_url: str = "") -> list[Notice]:
    """The notices the tasks call for now; each task is flagged so it is told once. With
    ``public_url`` (``[web] public_url``), each waiting task's line links to its page."""
    from datetime import timedelta

    notices: list[Notice] = []
    pending = store.tasks(state="pending")
    waiting = [t for t in pending if not (t.flags or {}).get("notified_pending")]
    if waiting:
        notices.append(Notice(f"fte: {len(waiting)} task{'s' if len(waiting) != 1 else ''} wait for you",
                              _names(waiting, include_text, public_url) + "\n\nDecide "
                              + ("on the page linked above, " if public_url else "")
                              + "in Obsidian (Pending_Approval/) or with fte approve / fte reject."))
    soon = [t for t in pending if t.expires_at is not None and t.expires_at - now <= timedelta(hours=EXPIRY_WARNING_HOURS)
            and t.expires_at > now and not (t.flags or {}).get("notified_expiry")]
    if soon:
        notices.append(Notice(f"fte: {len(soon)} task{'s' if len(soon) != 1 else ''} expire within "
                              f"{EXPIRY_WARNING_HOURS} hours", _names(soon, include_text)))
    failed = [t for t in store.tasks(state="failed") if (t.flags or {}).get("notified_failed") != t.version]
    if failed:
        body = "\n".join(f"- {t.short_id} {t.title}: {(t.last_error or '')[:200]}" for t in failed[:_LIST])
        notices.append(Notice(f"fte: {len(failed)} task{'s' if len(failed) != 1 else ''} failed",
                              body + "\n\nRetry with fte replay ID once you have looked."))
    for t in waiting:
        store.set_flags(t.id, notified_pending=True)
    for t in soon:
        store.set_flags(t.id, notified_expiry=True)
    for t in failed:
        store.set_flags(t.id, notified_failed=t.version)
    return notices
