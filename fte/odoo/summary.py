"""A note's body for an accounting task: what will be written to Odoo, in words (pure)."""

from __future__ import annotations

import json
from typing import Any


def summary(kind: str, params: dict[str, Any]) -> str:
    """The note's body for an accounting task: what will be written to Odoo, in words."""
    lines = params.get("lines") or []
    if kind in ("odoo.invoice", "odoo.bill"):
        what = "customer invoice" if kind == "odoo.invoice" else "vendor bill"
        who = params.get("partner") or params.get("partner_email") or "?"
        total = sum(float(l.get("quantity", 1) or 0) * float(l.get("price_unit", 0) or 0) for l in lines)
        rows = "\n".join(f"- {l.get('description', '')}: {l.get('quantity', 1)} × {l.get('price_unit', 0)}" for l in lines)
        return f"Create and post a {what} for {who}, total {total:.2f}:\n\n{rows}\n"
    if kind == "odoo.entry":
        rows = "\n".join(f"- {l.get('account')}: debit {l.get('debit', 0)} / credit {l.get('credit', 0)} {l.get('label', '')}"
                         for l in lines)
        return f"Post a journal entry dated {params.get('date', 'today')}:\n\n{rows}\n"
    if kind == "odoo.payment":
        return f"Register a payment of {params.get('amount', 'the open amount')} on {params.get('invoice')}.\n"
    return json.dumps(params, indent=2) + "\n"
