"""The Odoo executor: accounting tasks (``odoo.invoice``, ``odoo.bill``, ``odoo.entry``, ``odoo.payment``)
performed after approval, with ``ref = "fte:<task id>"`` as the idempotency key.

The task's parameters are the note's properties, which the person may edit before approving:

* ``odoo.invoice`` / ``odoo.bill``: ``partner``, ``partner_email``, ``lines`` (``description``,
  ``quantity``, ``price_unit``, optional ``account`` code), ``invoice_date``, ``due_date``;
* ``odoo.entry``: ``date``, ``lines`` (``account`` code, ``debit`` or ``credit``, ``label``) — refused
  before any call if unbalanced;
* ``odoo.payment``: ``invoice`` (its name, e.g. ``INV/2026/00001``, or its ``fte:`` ref), ``amount``,
  ``date``. Payments are never retried automatically (a failure needs a fresh approval).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fte.errors import BadInput, FteError
from fte.io.channels.contract import ExecutionError, OutcomeUnknown, Performed
from fte.models.tables import Task
from fte.odoo import accounting, validate
from fte.odoo.client import (
    OdooClient,
    OdooOutcomeUnknown,
    OdooUnreachable,
    OdooUserError,
)

KINDS = ("odoo.invoice", "odoo.bill", "odoo.entry", "odoo.payment")


class OdooExecutor:
    kinds = KINDS

    def __init__(self, client: OdooClient) -> None:
        self.client = client

    def key_for(self, task: Task) -> str:
        return f"fte:{task.id}"

    def lookup(self, key: str) -> str | None:
        try:
            move = accounting._existing_move(self.client, key)
            if move:
                return f"account.move:{move.id}"
            payment = accounting.find_payment(self.client, key)
            return f"account.payment:{payment}" if payment else None
        except OdooUnreachable as exc:
            raise ExecutionError(f"Odoo lookup failed: {exc}", transient=True) from exc

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        try:
            # What the person approved is checked once more before anything is sent (they may have
            # edited the note): a value Odoo cannot take fails this task alone, as permanent.
            p: dict[str, Any] = validate.params_for(task.kind.partition(".")[2], task.params or {}, now.date())
        except BadInput as exc:
            raise ExecutionError(f"not sent to Odoo: {exc}") from exc
        try:
            if task.kind in ("odoo.invoice", "odoo.bill"):
                op = accounting.create_invoice if task.kind == "odoo.invoice" else accounting.create_bill
                written = op(self.client, key, partner=str(p.get("partner", "")), partner_email=str(p.get("partner_email", "")),
                             lines=list(p.get("lines") or []), invoice_date=p.get("invoice_date"), due_date=p.get("due_date"))
            elif task.kind == "odoo.entry":
                written = accounting.log_transaction(self.client, key, list(p.get("lines") or []), p.get("date"))
            elif task.kind == "odoo.payment":
                written = accounting.register_payment(self.client, key, str(p.get("invoice", "")), p.get("amount"),
                                                      p.get("date"))
            else:
                raise ExecutionError(f"not an accounting task: {task.kind}")
        except OdooOutcomeUnknown as exc:
            raise OutcomeUnknown(str(exc)) from exc
        except OdooUnreachable as exc:
            raise ExecutionError(str(exc), transient=True) from exc
        except (BadInput, OdooUserError) as exc:
            raise ExecutionError(f"Odoo refused it: {exc}") from exc
        except FteError as exc:
            raise ExecutionError(str(exc)) from exc
        return Performed(external_id=f"{written.model}:{written.id} {written.name}".strip())
