"""The accounting tools, as plain functions: what ``fte mcp`` exposes and the command line calls.

Read tools answer from Odoo directly. **Write tools never write to Odoo**: each creates an approval
task (``odoo.invoice``, ``odoo.bill``, ``odoo.entry``, ``odoo.payment``) whose note waits in
``Pending_Approval/odoo/`` for a person; the local host performs it only after approval.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable

from fte.home import open_home
from fte.odoo import accounting
from fte.odoo.config import make_client
from fte.odoo.summary import summary

READ_TOOLS = ("get_accounts", "get_invoices", "get_balance", "get_profit_loss")
WRITE_TOOLS = ("create_invoice", "create_bill", "log_transaction", "register_payment")


class Tools:
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

    def _task(self, kind: str, title: str, params: dict[str, Any]) -> dict[str, Any]:
        with open_home(self.home) as h:
            task, _ = h.lifecycle.detect(kind=kind, source="mcp", source_ref=uuid.uuid4().hex, title=title,
                                         params=params, body=summary(kind, params), via="cli", actor="mcp")
            touched = h.vault.drain_touched()
            if touched:
                h.git.commit(touched, f"fte {h.settings.agent}: detect {task.short_id} ({kind} via mcp)")
        return {"task_id": task.id, "kind": kind, "state": task.state, "note": task.note_path,
                "message": "Nothing was written to Odoo. The task waits for a person's approval in Obsidian."}

    def create_invoice(self, partner: str, lines: list[dict[str, Any]], partner_email: str = "",
                       invoice_date: str | None = None, due_date: str | None = None) -> dict[str, Any]:
        """Ask to create a customer invoice. lines: [{description, quantity, price_unit, account?}]."""
        return self._task("odoo.invoice", f"Invoice {partner}", {"partner": partner, "partner_email": partner_email,
                          "lines": lines, "invoice_date": invoice_date, "due_date": due_date})

    def create_bill(self, partner: str, lines: list[dict[str, Any]], partner_email: str = "",
                    invoice_date: str | None = None, due_date: str | None = None) -> dict[str, Any]:
        """Ask to record a vendor bill. lines: [{description, quantity, price_unit, account?}]."""
        return self._task("odoo.bill", f"Bill from {partner}", {"partner": partner, "partner_email": partner_email,
                          "lines": lines, "invoice_date": invoice_date, "due_date": due_date})

    def log_transaction(self, lines: list[dict[str, Any]], date: str | None = None) -> dict[str, Any]:
        """Ask to post a journal entry. lines: [{account (code), debit or credit, label}]; must balance."""
        accounting.check_balanced(lines)  # refused here already: no task for an unbalanced entry
        return self._task("odoo.entry", f"Journal entry {date or ''}".strip(), {"date": date, "lines": lines})

    def register_payment(self, invoice: str, amount: float | None = None, date: str | None = None) -> dict[str, Any]:
        """Ask to register a payment on an invoice (by its name, e.g. INV/2026/00001)."""
        return self._task("odoo.payment", f"Payment on {invoice}", {"invoice": invoice, "amount": amount, "date": date})


def serve(home: Path, verbose: bool = False) -> None:
    """``fte mcp``: the tools over MCP on stdio (the ``mcp`` package: ``pip install 'fte[mcp]'``).

    MCP clients show whatever a server writes to stderr as noise, so only warnings and errors are
    logged (not the migrations' or the HTTP client's info lines); ``verbose`` logs everything."""
    try:
        from mcp.server.mcpserver import MCPServer  # mcp 2.x
    except ImportError:
        from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef,attr-defined]  # mcp 1.x

    tools = Tools(home)
    server = MCPServer("fte-odoo", instructions="Odoo accounting. Read tools answer from Odoo; write tools only "
                                                "create tasks that a person must approve in Obsidian.",
                       log_level="DEBUG" if verbose else "WARNING")
    for name in READ_TOOLS + WRITE_TOOLS:
        server.tool(name=name)(getattr(tools, name))
    server.run("stdio")
