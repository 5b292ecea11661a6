"""Accounting operations over :class:`~fte.odoo.client.OdooClient` — plain values in, plain values out.

Reads: :func:`get_accounts`, :func:`get_invoices`, :func:`get_balance`, :func:`get_profit_loss`.
Writes (only ever run by an executor after a person's approval): :func:`create_invoice`,
:func:`create_bill`, :func:`log_transaction`, :func:`register_payment`. Every write carries
``ref = "fte:<task id>"`` and **looks it up first**, so a retry never makes a second record (Odoo has
no idempotency key of its own). Field differences between Odoo 17, 18 and 19 (``account.account``:
``company_id`` → ``company_ids`` in 18, ``deprecated`` → ``active`` in 19; the payment's ``ref`` →
``memo`` in 19) are handled here.

Every read and write is in the client's one company (:meth:`OdooClient.company`): the context
scopes it, and the reads of accounts and journal items say the company in their domain too. Every
figure names its company and currency. The definitions (docs/odoo.md, "Figures") follow Odoo's own
Profit and Loss report (addons/account/data/profit_and_loss.xml): posted entries only; income =
−balance of ``income`` and ``income_other`` accounts; expenses = balance of ``expense_direct_cost``
(cost of revenue), ``expense``, ``expense_depreciation`` and ``expense_other``; both ends of the
date range included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fte.clock import utcnow
from fte.errors import BadInput
from fte.odoo import validate
from fte.odoo.client import OdooClient, OdooError

INCOME_TYPES = ("income", "income_other")
EXPENSE_TYPES = ("expense_direct_cost", "expense", "expense_depreciation", "expense_other")
#: the moves a payment may be registered on: invoices, bills and their credit notes
PAYABLE_MOVES = ("out_invoice", "in_invoice", "out_refund", "in_refund")


@dataclass(frozen=True)
class Written:
    model: str
    id: int
    name: str
    existed: bool  # found by its ref: nothing new was written

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "id": self.id, "name": self.name, "existed": self.existed}


def _money(value: Any, what: str) -> float:
    try:
        amount = round(float(value), 2)
    except (TypeError, ValueError):
        raise BadInput(f"{what} must be a number, not {value!r}") from None
    if amount < 0:
        raise BadInput(f"{what} must not be negative")
    return amount


def account_fields(client: OdooClient) -> list[str]:
    fields = ["code", "name", "account_type"]
    fields.append("company_id" if client.major <= 17 else "company_ids")
    fields.append("active" if client.major >= 19 else "deprecated")
    return fields


def _company_accounts(client: OdooClient) -> list[Any]:
    """The domain leaf that keeps ``account.account`` to the client's company (17: ``company_id``;
    18+: ``company_ids``, an account may be shared)."""
    cid = client.company().id
    return ["company_id", "=", cid] if client.major <= 17 else ["company_ids", "in", [cid]]


def _in_company(client: OdooClient) -> dict[str, Any]:
    company = client.company()
    return {"company": company.name, "currency": company.currency}


def selection(client: OdooClient, model: str, field: str) -> tuple[str, ...]:
    """The values Odoo accepts in a selection field, as the server says (``fields_get``)."""
    answer = client.call(model, "fields_get", allfields=[field], attributes=["selection"])
    return tuple(str(pair[0]) for pair in (answer.get(field) or {}).get("selection") or ())


def _one_of(client: OdooClient, model: str, field: str, value: Any, what: str) -> str | None:
    """``value`` if Odoo has it in the selection ``field`` (None for none): a filter Odoo does not
    know would answer an empty list, which reads as "there are none"."""
    if value is None or value == "":
        return None
    values = selection(client, model, field)
    if not isinstance(value, str) or value not in values:
        raise BadInput(f"{what} must be one of {', '.join(values)}; not {value!r}"[:400])
    return value


def get_accounts(client: OdooClient, account_type: str | None = None, code: str | None = None) -> list[dict[str, Any]]:
    domain: list[Any] = [_company_accounts(client)]
    account_type = _one_of(client, "account.account", "account_type", account_type, "account_type")
    if account_type:
        domain.append(["account_type", "=", account_type])
    if code:
        code = validate.account_code(code, "code")
        domain.append(["code", "=like", f"{code}%"])  # a prefix: "4" lists every 4xxxxx account
    if client.major <= 18:
        domain.append(["deprecated", "=", False])
    rows = client.search_read("account.account", domain, account_fields(client), order="code asc")
    return [{"id": r["id"], "code": r["code"], "name": r["name"], "type": r["account_type"]} for r in rows]


def account_id(client: OdooClient, code: str) -> int:
    rows = client.search_read("account.account", [["code", "=", str(code)], _company_accounts(client)], ["code"], limit=1)
    if not rows:
        raise BadInput(f"no account with code {code!r} in Odoo")
    return int(rows[0]["id"])


def find_partner(client: OdooClient, name: str = "", email: str = "") -> int | None:
    """The partner by email, else by exact name (case-insensitive), or None."""
    for field, value in (("email", email), ("name", name)):
        if value:
            # =ilike is a pattern: % and _ in a name must match themselves
            pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = client.search_read("res.partner", [[field, "=ilike", pattern]], ["id"], limit=1)
            if rows:
                return int(rows[0]["id"])
    return None


def find_or_create_partner(client: OdooClient, name: str = "", email: str = "", supplier: bool = False) -> int:
    """The partner by email, else by exact name; created (as customer or supplier) if missing."""
    found = find_partner(client, name, email)
    if found is not None:
        return found
    if not (name or email):
        raise BadInput("an invoice needs a partner: a name or an email")
    vals: dict[str, Any] = {"name": name or email, "email": email or False, "is_company": False}
    vals["supplier_rank" if supplier else "customer_rank"] = 1
    return client.create("res.partner", vals)


def _existing_move(client: OdooClient, ref: str) -> Written | None:
    rows = client.search_read("account.move", [["ref", "=", ref]], ["name", "state"], limit=1)
    if rows:
        return Written("account.move", int(rows[0]["id"]), str(rows[0]["name"] or ""), True)
    return None


def _post(client: OdooClient, move_id: int) -> str:
    client.call("account.move", "action_post", ids=[move_id])
    [row] = client.call("account.move", "read", ids=[move_id], fields=["name"])
    return str(row["name"])


def _invoice(client: OdooClient, move_type: str, ref: str, partner: str, partner_email: str,
             lines: list[dict[str, Any]], invoice_date: str | None, due_date: str | None, post: bool) -> Written:
    if not lines:
        raise BadInput("an invoice needs at least one line")
    commands = []
    for i, line in enumerate(lines, 1):
        vals: dict[str, Any] = {"name": str(line.get("description") or line.get("name") or f"Line {i}"),
                                "quantity": _money(line.get("quantity", 1), f"line {i} quantity"),
                                "price_unit": _money(line.get("price_unit", line.get("price", 0)), f"line {i} price")}
        if line.get("account"):
            vals["account_id"] = account_id(client, str(line["account"]))
        commands.append([0, 0, vals])
    found = _existing_move(client, ref)
    if found:
        return found
    partner_id = find_or_create_partner(client, partner, partner_email, supplier=move_type == "in_invoice")
    vals = {"move_type": move_type, "partner_id": partner_id, "ref": ref, "invoice_line_ids": commands}
    if invoice_date:
        vals["invoice_date"] = str(invoice_date)
    if due_date:
        vals["invoice_date_due"] = str(due_date)
    move_id = client.create("account.move", vals)
    return Written("account.move", move_id, _post(client, move_id) if post else "", False)


def create_invoice(client: OdooClient, ref: str, partner: str = "", partner_email: str = "",
                   lines: list[dict[str, Any]] | None = None, invoice_date: str | None = None,
                   due_date: str | None = None, post: bool = True) -> Written:
    """A customer invoice (``out_invoice``), posted."""
    return _invoice(client, "out_invoice", ref, partner, partner_email, lines or [], invoice_date, due_date, post)


def create_bill(client: OdooClient, ref: str, partner: str = "", partner_email: str = "",
                lines: list[dict[str, Any]] | None = None, invoice_date: str | None = None,
                due_date: str | None = None, post: bool = True) -> Written:
    """A vendor bill (``in_invoice``), posted."""
    return _invoice(client, "in_invoice", ref, partner, partner_email, lines or [], invoice_date, due_date, post)


def check_balanced(lines: list[dict[str, Any]]) -> tuple[float, float]:
    """Refuse an unbalanced or malformed entry **before** any call to Odoo."""
    if len(lines) < 2:
        raise BadInput("a journal entry needs at least two lines")
    debit = credit = 0.0
    for i, line in enumerate(lines, 1):
        d, c = _money(line.get("debit", 0), f"line {i} debit"), _money(line.get("credit", 0), f"line {i} credit")
        if (d > 0) == (c > 0):
            raise BadInput(f"line {i} must have either a debit or a credit")
        if not line.get("account"):
            raise BadInput(f"line {i} has no account code")
        debit, credit = debit + d, credit + c
    if round(debit - credit, 2) != 0:
        raise BadInput(f"the entry is not balanced: debits {debit:.2f} ≠ credits {credit:.2f}")
    return round(debit, 2), round(credit, 2)


def log_transaction(client: OdooClient, ref: str, lines: list[dict[str, Any]], entry_date: str | None = None,
                    post: bool = True) -> Written:
    """A balanced journal entry (``entry``)."""
    check_balanced(lines)
    found = _existing_move(client, ref)
    if found:
        return found
    commands = [[0, 0, {"account_id": account_id(client, str(l["account"])), "name": str(l.get("label") or l.get("name") or ref),
                        "debit": _money(l.get("debit", 0), "debit"), "credit": _money(l.get("credit", 0), "credit")}]
                for l in lines]
    vals: dict[str, Any] = {"move_type": "entry", "ref": ref, "line_ids": commands}
    if entry_date:
        vals["date"] = str(entry_date)
    move_id = client.create("account.move", vals)
    return Written("account.move", move_id, _post(client, move_id) if post else "", False)


def get_invoices(client: OdooClient, state: str | None = None, payment_state: str | None = None,
                 partner: str | None = None, date_from: str | None = None, date_to: str | None = None,
                 move_type: str = "out_invoice", limit: int = 200) -> list[dict[str, Any]]:
    state = _one_of(client, "account.move", "state", state, "state")
    payment_state = _one_of(client, "account.move", "payment_state", payment_state, "payment_state")
    date_from, date_to = validate.period(date_from, date_to)
    partner = validate.text(partner, "partner", validate.MAX_NAME)
    domain: list[Any] = [["move_type", "=", move_type]]
    if state:
        domain.append(["state", "=", state])
    if payment_state:
        domain.append(["payment_state", "=", payment_state])
    if partner:
        domain.append(["partner_id.name", "ilike", partner])
    if date_from:
        domain.append(["invoice_date", ">=", str(date_from)])
    if date_to:
        domain.append(["invoice_date", "<=", str(date_to)])
    fields = ["name", "partner_id", "ref", "invoice_date", "invoice_date_due", "amount_total", "amount_residual",
              "state", "payment_state"]
    fields.append("currency_id")
    rows = client.search_read("account.move", domain, fields, limit=limit, order="invoice_date desc")
    for r in rows:
        r["partner"] = r.pop("partner_id")[1] if r.get("partner_id") else None
        currency = r.pop("currency_id", None)
        r["currency"] = currency[1] if isinstance(currency, list) else client.company().currency
    return rows


def _sum_balance(client: OdooClient, domain: list[Any]) -> float:
    """Σ ``balance`` (in the company's currency) of the company's posted journal items matching ``domain``."""
    scope = [["parent_state", "=", "posted"], ["company_id", "=", client.company().id]]
    rows = client.search_read("account.move.line", domain + scope, ["balance"])
    return round(sum(float(r["balance"]) for r in rows), 2)


def get_balance(client: OdooClient, code: str, as_of: str | None = None) -> dict[str, Any]:
    """The balance (debit − credit) of posted lines on an account, up to a date (included)."""
    code = validate.account_code(code, "code")
    as_of = validate.day(as_of, "as_of") or utcnow().date().isoformat()
    account_id(client, code)  # an account that does not exist is an error, not a balance of 0
    balance = _sum_balance(client, [["account_id.code", "=", str(code)], ["date", "<=", as_of]])
    return {"account": str(code), "as_of": as_of, "balance": balance} | _in_company(client)


def get_profit_loss(client: OdooClient, date_from: str, date_to: str) -> dict[str, Any]:
    """Income, expenses and profit of a period (both ends included), as Odoo's P&L report counts them."""
    start, end = validate.period(date_from, date_to, required=True)
    period = [["date", ">=", str(start)], ["date", "<=", str(end)]]
    income = -_sum_balance(client, period + [["account_id.account_type", "in", list(INCOME_TYPES)]])
    expenses = _sum_balance(client, period + [["account_id.account_type", "in", list(EXPENSE_TYPES)]])
    return {"from": str(start), "to": str(end), "income": round(income, 2), "expenses": round(expenses, 2),
            "profit": round(income - expenses, 2)} | _in_company(client)


def payment_memo_field(client: OdooClient) -> str:
    return "memo" if client.major >= 19 else "ref"


def find_payment(client: OdooClient, ref: str) -> int | None:
    rows = client.search_read("account.payment", [[payment_memo_field(client), "=", ref]], ["id"], limit=1)
    return int(rows[0]["id"]) if rows else None


def open_invoice(client: OdooClient, invoice: str, amount: float | None = None) -> dict[str, Any]:
    """The invoice or bill a payment is for, by its name or ref, in the client's company: it exists,
    is posted, is still open, and ``amount`` (None: the open amount) is not more than what is open.
    Asked when a payment task is made and again before the payment is registered."""
    where = client.company()
    rows = client.search_read("account.move", ["|", ["name", "=", invoice], ["ref", "=", invoice],
                                               ["company_id", "=", where.id]],
                              ["name", "move_type", "state", "payment_state", "amount_residual"], limit=1)
    if not rows:
        raise BadInput(f"no invoice {invoice!r} in Odoo's company {where.name}")
    move = rows[0]
    name = move["name"] or invoice
    if move["move_type"] not in PAYABLE_MOVES:
        raise BadInput(f"{name} is not an invoice or a bill ({move['move_type']}): a payment needs one")
    if move["state"] != "posted":
        raise BadInput(f"{name} is {move['state']}, not posted: only a posted invoice can be paid")
    if move["payment_state"] in ("paid", "in_payment"):
        raise BadInput(f"{name} is already paid")
    if move["payment_state"] in ("reversed", "blocked"):
        raise BadInput(f"{name} is {move['payment_state']}: Odoo takes no payment on it")
    residual = round(float(move["amount_residual"] or 0), 2)
    if residual <= 0:
        raise BadInput(f"{name} has nothing left to pay")
    if amount is not None and round(amount, 2) > residual:
        raise BadInput(f"amount {amount:.2f} is more than what is open on {name} ({residual:.2f} {where.currency})")
    return move


def register_payment(client: OdooClient, ref: str, invoice: str, amount: Any = None,
                     payment_date: str | None = None) -> Written:
    """Pay an invoice (by its name, e.g. ``INV/2026/00001``, or its ``fte:`` ref) with the payment wizard."""
    existing = find_payment(client, ref)
    if existing:
        return Written("account.payment", existing, ref, True)
    move = open_invoice(client, invoice, None if amount is None else _money(amount, "amount"))
    vals: dict[str, Any] = {"communication": ref}
    if amount is not None:
        vals["amount"] = _money(amount, "amount")
    if payment_date:
        vals["payment_date"] = str(payment_date)
    ctx = {"active_model": "account.move", "active_ids": [int(move["id"])]}
    wizard = client.create("account.payment.register", vals, context=ctx)
    client.call("account.payment.register", "action_create_payments", ids=[wizard], context=ctx)
    paid = find_payment(client, ref)
    if paid is None:
        raise OdooError("Odoo did not record the payment under its reference")
    return Written("account.payment", paid, ref, False)


def check(client: OdooClient) -> dict[str, Any]:
    """Connection, version, transport and the user's rights — for ``fte odoo check``."""
    version = client.version()
    info: dict[str, Any] = {"url": client.url, "db": client.db, "version": version.get("server_version"),
                            "transport": client.transport, "company": client.company().as_dict()}
    rights = {}
    for model in ("account.move", "account.account", "res.partner", "account.payment"):
        try:
            client.search_read(model, [], ["id"], limit=1)
            rights[model] = "read"
        except OdooError as exc:
            rights[model] = f"no: {exc}"
    info["rights"] = rights
    return info
