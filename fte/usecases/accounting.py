"""The accounting use cases: what ``fte mcp`` exposes as tools and ``fte odoo …`` calls.

Read tools answer from Odoo directly. **Write tools never write to Odoo**: each creates an approval
task (``odoo.invoice``, ``odoo.bill``, ``odoo.entry``, ``odoo.payment``) whose note waits in
``Pending_Approval/odoo/`` for a person; the local host performs it only after approval.

Before a task exists, its parameters are checked (:mod:`fte.odoo.validate`) and, where Odoo is
configured, its account codes and partner are looked up in Odoo, and a payment's invoice is checked
to be the company's, posted and open for at least the amount: a refused call creates nothing and
says why. Read tools refuse a filter value Odoo does not know and a period that ends before it
starts. Write tools are idempotent: a call with the ``idempotency_key`` of an earlier one — or,
without a key, the same call again within :data:`SAME_CALL_WINDOW` — answers the first call's task
(``"duplicate": true``). They share the home with a running daemon: the database serialises
writers, and the task's commit takes the host's git lock; a task that is in the database is
reported as made even if its commit must wait for the daemon's next tick.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from typing_extensions import (  # pydantic (the MCP SDK) needs this one on 3.11
    NotRequired,
    TypedDict,
)

from fte.errors import BadInput
from fte.host.home import open_home
from fte.io.channels.kinds import (
    BY_NAME,
    ODOO_BILL,
    ODOO_ENTRY,
    ODOO_INVOICE,
    ODOO_PAYMENT,
)
from fte.odoo import accounting, validate
from fte.odoo.config import configured, make_client
from fte.odoo.summary import summary

READ_TOOLS = ("get_accounts", "get_invoices", "get_balance", "get_profit_loss")
WRITE_TOOLS = ("create_invoice", "create_bill", "log_transaction", "register_payment")
#: Two identical write calls this close together are one request sent twice (a client's retry).
SAME_CALL_WINDOW = timedelta(minutes=10)


class InvoiceLine(TypedDict):
    """One line of an invoice or a bill."""

    description: str
    quantity: float
    price_unit: float
    account: NotRequired[str]  # an account code of the company's chart; default: the product's income/expense account


class EntryLine(TypedDict):
    """One line of a journal entry: a debit or a credit on an account (by code)."""

    account: str
    debit: NotRequired[float]
    credit: NotRequired[float]
    label: NotRequired[str]


class Accounting:
    """Bound to one host's home. Each call opens what it needs and closes it again."""

    def __init__(self, home: Path) -> None:
        self.home = home

    # -- reads ---------------------------------------------------------------------------------------

    def _read(self, fn: Callable[..., Any], **kw: Any) -> Any:
        with open_home(self.home, repair=False) as h:
            client = make_client(h.settings)
            try:
                return fn(client, **kw)
            finally:
                client.close()

    def get_accounts(self, account_type: str | None = None, code: str | None = None) -> list[dict[str, Any]]:
        """Chart of accounts, by type (income, expense, asset_receivable…) or code prefix."""
        return self._read(accounting.get_accounts, account_type=account_type, code=code)

    def get_invoices(self, state: str | None = None, payment_state: str | None = None, partner: str | None = None,
                     date_from: str | None = None, date_to: str | None = None) -> list[dict[str, Any]]:
        """Customer invoices, filtered by state (draft/posted/cancel), payment state, partner and dates."""
        return self._read(accounting.get_invoices, state=state, payment_state=payment_state, partner=partner,
                          date_from=date_from, date_to=date_to)

    def get_balance(self, code: str, as_of: str | None = None) -> dict[str, Any]:
        """The balance of an account (by code) from posted entries, up to a date (YYYY-MM-DD)."""
        return self._read(accounting.get_balance, code=code, as_of=as_of)

    def get_profit_loss(self, date_from: str, date_to: str) -> dict[str, Any]:
        """Income, expenses and profit of a period, from posted entries."""
        return self._read(accounting.get_profit_loss, date_from=date_from, date_to=date_to)

    # -- writes: approval tasks -------------------------------------------------------------------------

    def _task(self, kind: str, title: str, params: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        with open_home(self.home, repair=False) as h:
            now = h.lifecycle.clock()
            params = validate.params_for(BY_NAME[kind].action, params, now.date())
            if configured(h.settings):
                self._exists_in_odoo(h.settings, kind, params)
            existing, ref = self._same_call(h.store, kind, params, idempotency_key, now)
            if existing is not None:
                return self._answer(existing, duplicate=True)
            hours = h.settings.expiry_hours.get(kind, h.settings.expiry_hours["default"])
            task, created = h.lifecycle.detect(
                kind=kind, source="mcp", source_ref=ref, title=title[:validate.MAX_NAME],
                params=params, body=summary(BY_NAME[kind].action, params), via="cli", actor="mcp",
                expires_at=now + timedelta(hours=hours))
            touched = h.vault.drain_touched()
            if created and touched:
                try:
                    h.git.commit(touched, f"fte {h.settings.agent}: detect {task.short_id} ({kind} via mcp)")
                except Exception as exc:  # noqa: BLE001 — the task exists: the daemon's next tick commits its note
                    logging.getLogger(__name__).warning("task %s made; its note waits for the daemon's commit: %s",
                                                        task.short_id, exc)
        return self._answer(task, duplicate=not created)

    @staticmethod
    def _answer(task: Any, duplicate: bool) -> dict[str, Any]:
        return {"task_id": task.id, "kind": task.kind, "state": task.state, "note": task.note_path,
                "duplicate": duplicate,
                "message": "Nothing was written to Odoo. The task waits for a person's approval in Obsidian."}

    @staticmethod
    def _same_call(store: Any, kind: str, params: dict[str, Any], key: str | None, now: Any) -> tuple[Any, str]:
        """The task an earlier identical call made (or None), and the ref for a new one."""
        if key is not None:
            key = validate.text(key, "idempotency_key", 200, required=True)
            return None, "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]
        digest = hashlib.sha256(json.dumps([kind, params], sort_keys=True).encode()).hexdigest()[:32]
        window = math.floor(now.timestamp() / SAME_CALL_WINDOW.total_seconds())
        earlier = store.find_by_ref("mcp", f"same:{digest}:{window - 1}")
        if earlier is not None and now - earlier.created_at.replace(tzinfo=now.tzinfo) < SAME_CALL_WINDOW:
            return earlier, ""
        return None, f"same:{digest}:{window}"

    @staticmethod
    def _exists_in_odoo(settings: Any, kind: str, params: dict[str, Any]) -> None:
        """Account codes and the partner exist in the company (a partner may be made on purpose); the
        invoice of a payment is the company's, posted, open, and owes at least the amount."""
        client = make_client(settings)
        try:
            for i, line in enumerate(params.get("lines") or [], 1):
                if line.get("account"):
                    try:
                        accounting.account_id(client, line["account"])
                    except BadInput as exc:
                        raise BadInput(f"line {i}: {exc}") from None
            if kind in (ODOO_INVOICE.name, ODOO_BILL.name) and not params["create_partner"]:
                if accounting.find_partner(client, params["partner"], params["partner_email"]) is None:
                    who = params["partner"] or params["partner_email"]
                    raise BadInput(f"no partner {who!r} in Odoo: check the name, or pass create_partner=true "
                                   "to create it when the task is performed")
            if kind == ODOO_PAYMENT.name:
                accounting.open_invoice(client, params["invoice"], params["amount"])
        finally:
            client.close()

    def create_invoice(self, partner: str, lines: list[InvoiceLine], partner_email: str = "",
                       invoice_date: str | None = None, due_date: str | None = None, create_partner: bool = False,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Ask to create and post a customer invoice (a task a person approves; nothing is written now).
        Dates are YYYY-MM-DD. The partner must exist in Odoo unless create_partner is true.
        idempotency_key: the same key again answers the first call's task."""
        return self._task(ODOO_INVOICE.name, f"Invoice {partner}", {
            "partner": partner, "partner_email": partner_email, "lines": lines, "invoice_date": invoice_date,
            "due_date": due_date, "create_partner": create_partner}, idempotency_key)

    def create_bill(self, partner: str, lines: list[InvoiceLine], partner_email: str = "",
                    invoice_date: str | None = None, due_date: str | None = None, create_partner: bool = False,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        """Ask to record and post a vendor bill (a task a person approves; nothing is written now).
        Dates are YYYY-MM-DD. The partner must exist in Odoo unless create_partner is true."""
        return self._task(ODOO_BILL.name, f"Bill from {partner}", {
            "partner": partner, "partner_email": partner_email, "lines": lines, "invoice_date": invoice_date,
            "due_date": due_date, "create_partner": create_partner}, idempotency_key)

    def log_transaction(self, lines: list[EntryLine], date: str | None = None,
                        idempotency_key: str | None = None) -> dict[str, Any]:
        """Ask to post a journal entry: each line a debit or a credit on an account code; they must balance."""
        return self._task(ODOO_ENTRY.name, f"Journal entry {date or ''}".strip(), {"date": date, "lines": lines},
                          idempotency_key)

    def register_payment(self, invoice: str, amount: float | None = None, date: str | None = None,
                         idempotency_key: str | None = None) -> dict[str, Any]:
        """Ask to register a payment on an invoice (by its name, e.g. INV/2026/00001); no amount = the open amount."""
        return self._task(ODOO_PAYMENT.name, f"Payment on {invoice}", {"invoice": invoice, "amount": amount, "date": date},
                          idempotency_key)
