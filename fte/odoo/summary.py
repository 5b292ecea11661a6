"""A note's body for an accounting task: what will be written to Odoo, in words (pure).

Names and descriptions come from whoever asked (an MCP client, a mail): they are written as plain
text — Markdown, HTML, Obsidian's wiki links, comments (``%%``), highlights and maths escaped, line
breaks and hidden characters removed — so the note shows the person exactly what it holds.
"""

from __future__ import annotations

import json
from typing import Any

from fte.support.plaintext import plain


def summary(action: str, params: dict[str, Any]) -> str:
    """The note's body for an accounting task — ``action`` is what it does in Odoo (``invoice``,
    ``bill``, ``entry``, ``payment``) — what will be written, in words."""
    lines = params.get("lines") or []
    if action in ("invoice", "bill"):
        what = "customer invoice" if action == "invoice" else "vendor bill"
        who = params.get("partner") or params.get("partner_email") or "?"
        total = sum(float(l.get("quantity", 1) or 0) * float(l.get("price_unit", 0) or 0) for l in lines)
        rows = "\n".join(f"- {plain(l.get('description', ''))}: {plain(l.get('quantity', 1))} × "
                         f"{plain(l.get('price_unit', 0))}" for l in lines)
        return f"Create and post a {what} for {plain(who)}, total {total:.2f}:\n\n{rows}\n"
    if action == "entry":
        rows = "\n".join(f"- {plain(l.get('account'))}: debit {plain(l.get('debit', 0))} / credit "
                         f"{plain(l.get('credit', 0))} {plain(l.get('label', ''))}" for l in lines)
        return f"Post a journal entry dated {plain(params.get('date') or 'today')}:\n\n{rows}\n"
    if action == "payment":
        amount = params.get("amount")
        return f"Register a payment of {plain(amount if amount is not None else 'the open amount')} on " \
               f"{plain(params.get('invoice'))}.\n"
    return json.dumps(params, indent=2) + "\n"
