"""What comes in and waits for the person: detect (sources → ``detected``), draft (→ ``drafted``),
mark synced (a draft's note reached the remote), present (→ ``pending``) and expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fte.clock import iso
from fte.errors import BadInput, DraftError, FteError
from fte.io.channels.contract import Draft, Drafter, Source
from fte.io.channels.kinds import EMAIL_REPLY, ODOO_INVOICE, kind
from fte.io.channels.registry import LOCAL_SOURCES
from fte.io.channels.style import style_for
from fte.io.vault.gitrepo import SyncResult
from fte.states.service import Detection, Move
from fte.support.plaintext import visible
from fte.tick.context import Context, TickReport

#: Tries of a drafter's transient failure before the task fails.
MAX_DRAFT_ATTEMPTS = 3


def unanswerable(task: Any) -> Draft | None:
    """A message with no usable sender address is not sent to a drafter (there is no one to answer):
    its note asks the person, and it cannot be approved until someone adds a recipient."""
    declared = kind(task.kind)
    if declared is None or declared.recipient is None or str((task.params or {}).get(declared.recipient) or "").strip():
        return None
    first = (task.original or "").split("\n", 1)[0]
    sender = first if first.startswith("From:") and first[5:].strip() else "no From header"
    body = (f"This message has no usable sender address ({visible(sender)[:200]}), so there is no one to reply to "
            "and nothing will be sent.\n\nRead it below and handle it yourself, then reject this task. To answer "
            "it after all, add a `to` property with the address first.\n")
    return Draft(body=body, params=dict(task.params or {}), action="ignore", reason="no usable sender address")


class Intake:
    """``drafter`` drafts what this host drafts; ``template`` drafts accounting tasks and posts
    (their content is in their parameters: a plain summary, never model-written)."""

    def __init__(self, ctx: Context, sources: list[Source], drafter: Drafter, template: Drafter) -> None:
        self.ctx = ctx
        self.sources = sources
        self.drafter = drafter
        self.template = template

    def detect(self, report: TickReport) -> None:
        """Each source's new items since its cursor; the cursor moves in the same transaction."""
        ctx = self.ctx
        for source in self.sources:
            cursor_name = getattr(source, "cursor_name", source.name)
            try:
                before = ctx.store.cursor(cursor_name)
                polled = source.poll(before)
            except FteError as exc:  # unreachable, rate-limited, a bad token: this source waits, the rest go on
                ctx.log(f"source {source.name}: {exc}")
                report.events.append(f"{source.name}: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 — a client library choking on a hostile reply, or a bug:
                # that source waits (its cursor unmoved), and one bad source never stops the others.
                said = f"{source.name}: failed ({type(exc).__name__}: {str(exc)[:300]}); will try again next tick"
                ctx.log(f"source {said}")
                report.events.append(said)
                continue
            items = [self._detection(source.name, item) for item in polled.items]
            results = ctx.lifecycle.detect_many(items, cursor=(cursor_name, polled.cursor))
            if polled.cursor != before:  # said once, when the source's state changes (not at every poll)
                for note in polled.notices:  # sentences for the person (fte/io/channels/contract.py)
                    ctx.log(f"source {source.name}: {note}")
                    report.events.append(f"{source.name}: {note}")
            report.detected += sum(created for _t, created in results)
            forget = getattr(source, "forget", None)
            if forget is not None and items:  # a spooling source: what is a task now leaves the spool
                forget([item.source_ref for item in items])

    def _detection(self, source: str, item: Any) -> Detection:
        """A source's item as a new task: each item says what task it is (``task_fields``: its kind,
        its key at the source, its title, what a reply needs; fte/io/channels/contract.py)."""
        fields = getattr(item, "task_fields", None)
        if fields is None:
            raise BadInput(f"source {source!r} gave an item that does not say what task it is: {type(item).__name__}")
        f = fields(source)
        return self._new(f["kind"], source, f["ref"], f["title"], f["params"], f["original"], f["actor"])

    def _new(self, kind: str, source: str, ref: str, title: str, params: dict[str, Any], original: str,
             actor: str) -> Detection:
        hours = self.ctx.settings.expiry_hours.get(kind, self.ctx.settings.expiry_hours["default"])
        return Detection(kind=kind, source=source, source_ref=ref, title=title, params=params, original=original,
                         expires_at=self.ctx.now() + timedelta(hours=hours), actor=actor)

    def draft(self, report: TickReport) -> None:
        ctx = self.ctx
        detected = ctx.store.tasks(state="detected")
        if not detected:
            return  # a quiet tick reads neither the handbook nor the style memory
        handbook = self._handbook()
        drafted: list[Move] = []
        remembers = bool(ctx.store.style_examples(limit=1))  # an empty memory costs no query per task
        for task in detected:
            if not ctx.settings.drafts and task.source not in LOCAL_SOURCES:
                continue  # the cloud drafts it
            declared = kind(task.kind)
            drafter = self.drafter if declared is None or declared.llm else self.template
            try:
                style = (style_for(ctx.store, task.kind, str((task.params or {}).get(declared.recipient) or ""))
                         if remembers and declared is not None and declared.recipient else None)
                draft = unanswerable(task) or drafter.draft(task, handbook, style)
            except Exception as raised:  # noqa: BLE001 — beyond DraftError: a library choking on this mail,
                # or a bug; retried like a timeout, then this task fails with the reason; the others go on.
                exc = raised if isinstance(raised, DraftError) else DraftError(
                    f"the drafter failed ({type(raised).__name__}: {str(raised)[:300]})", transient=True)
                tries = int((task.flags or {}).get("draft_attempts", 0)) + 1
                if exc.transient and tries < MAX_DRAFT_ATTEMPTS:
                    ctx.store.set_flags(task.id, draft_attempts=tries)  # try again at a later tick
                    ctx.log(f"{task.short_id}: drafting will be retried ({exc})")
                    continue
                ctx.lifecycle.fire(task.id, "fail", actor=drafter.name, source="daemon",
                                   changes={"last_error": f"drafting failed: {exc}"}, error=str(exc), attempts=tries)
                report.failed += 1
                continue
            drafted.append(Move(task.id, "draft", changes={"body": draft.body, "params": draft.params},
                                detail={"action": draft.action, "reason": draft.reason or None}, actor=drafter.name))
            if draft.action == "invoice_request" and task.kind == EMAIL_REPLY.name:
                self._invoice_task(task)
        done, _refused = ctx.lifecycle.fire_many(drafted, actor=self.drafter.name, source="daemon")
        report.drafted += len(done)

    def _invoice_task(self, task: Any) -> None:
        """The sender asked for an invoice: an ``odoo.invoice`` task beside the reply, for the person
        to complete (amounts) and approve. Nothing reaches Odoo before that."""
        who = task.original.split("\n", 1)[0].removeprefix("From: ") if task.original else ""
        name = who.split("<", 1)[0].strip() or str((task.params or {}).get("to", ""))
        params = {"partner": name, "partner_email": str((task.params or {}).get("to", "")),
                  "lines": [{"description": task.title, "quantity": 1, "price_unit": 0}],
                  "invoice_date": None, "due_date": None, "requested_in": task.id}
        self.ctx.lifecycle.detect_many([self._new(ODOO_INVOICE.name, "derived", f"invoice-request:{task.id}",
                                                  f"Invoice for {name}", params, task.original, "drafter")])

    def mark_synced(self, result: SyncResult) -> bool:
        """Drafts whose note is in the remote's tree (or committed, with no remote) become ``synced``."""
        ctx = self.ctx
        if not result.pushed:
            return False
        ref = result.upstream if ctx.settings.remote else result.head
        if ref is None:
            return False
        in_tree = set(ctx.git.tree_paths(ref, "Updates"))
        moves = [Move(t.id, "sync", detail={"commit": ref}) for t in ctx.store.tasks(state="drafted")
                 if (ctx.settings.drafts or t.source in LOCAL_SOURCES)
                 and t.note_path in in_tree]
        done, _refused = ctx.lifecycle.fire_many(moves, actor=ctx.settings.agent, source="daemon")
        return bool(done)

    def present(self, report: TickReport) -> None:
        moves = [Move(t.id, "present") for t in self.ctx.store.tasks(state="synced")]
        done, _refused = self.ctx.lifecycle.fire_many(moves, actor=self.ctx.settings.agent, source="daemon")
        report.presented += len(done)

    def expire(self, report: TickReport) -> None:
        now = self.ctx.now()
        moves = [Move(t.id, "expire", changes={"last_error": f"expired at {iso(t.expires_at)} without a decision"})
                 for t in self.ctx.store.tasks(state="pending") if t.expires_at is not None and t.expires_at <= now]
        done, _refused = self.ctx.lifecycle.fire_many(moves, actor=self.ctx.settings.agent, source="daemon")
        report.expired += len(done)

    def _handbook(self) -> str:
        try:
            return (self.ctx.vault.root / "Company_Handbook.md").read_text(encoding="utf-8")[:20_000]
        except (OSError, UnicodeDecodeError):
            return ""
