"""What an accounting task may hold — checked before the task exists, and again before it is sent.

One set of rules for every way an accounting task is made (the MCP tools, the command line, a
drafted action) and for the executor, which checks the approved parameters once more before any
call to Odoo (a person may have edited them in the note). Pure: no Odoo, no clock of its own.

* amounts: finite, positive, at most the currency's decimals (:data:`DECIMALS`), at most
  :data:`MAX_AMOUNT`; a line's price may be 0 but an invoice's total may not;
* quantities: finite, positive, at most :data:`MAX_QUANTITY`, at most 4 decimals;
* dates: real ISO dates (``YYYY-MM-DD``) within :data:`DATE_WINDOW_YEARS` of today; a due date not
  before the invoice date (a read's dates: real, and a period's end not before its start);
* sizes: names ≤ :data:`MAX_NAME` characters, descriptions ≤ :data:`MAX_TEXT`, 1–:data:`MAX_LINES`
  lines; no control or bidirectional-override characters in any text;
* account codes: letters, digits and dots only (whether the account exists is Odoo's to say:
  :class:`fte.usecases.accounting.Accounting` asks it before the task is made).

Each function returns the normalised value or raises :class:`~fte.errors.BadInput` naming the
field and why.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fte.errors import BadInput
from fte.support.plaintext import HIDDEN

DECIMALS = 2  # the currency's (Odoo's res.currency.decimal_places: 2 for USD and EUR)
MAX_AMOUNT = Decimal("1000000000")  # one billion: beyond it is a typo, not an invoice
MAX_QUANTITY = Decimal("1000000")
MAX_NAME = 256
MAX_TEXT = 2000
MAX_LINES = 100
DATE_WINDOW_YEARS = 10
ACCOUNT_CODE = re.compile(r"[0-9A-Za-z.]{1,32}")


def _number(value: Any, what: str) -> Decimal:
    # A number as JSON and YAML write one: text that looks like a number ("100") is refused, as the
    # MCP tools' strict schemas refuse it, so a task means the same whoever made it.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise BadInput(f"{what} must be a number, not {value!r}"[:200])
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(f"{what} must be a finite number, not {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadInput(f"{what} must be a number, not {value!r}"[:200]) from None
    if not number.is_finite():
        raise BadInput(f"{what} must be a finite number, not {value!r}"[:200])
    return number


def _places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def amount(value: Any, what: str, zero: bool = False) -> float:
    """A sum of money: finite, positive (or 0 with ``zero``), at most :data:`DECIMALS` decimals."""
    number = _number(value, what)
    if number < 0 or (number == 0 and not zero):
        raise BadInput(f"{what} must be {'0 or more' if zero else 'more than 0'}, not {value!r}")
    if number > MAX_AMOUNT:
        raise BadInput(f"{what} is over {MAX_AMOUNT:,}: {value!r}")
    if _places(number) > DECIMALS:
        raise BadInput(f"{what} has more than {DECIMALS} decimals: {value!r}")
    return float(number)


def quantity(value: Any, what: str) -> float:
    number = _number(value, what)
    if number <= 0:
        raise BadInput(f"{what} must be more than 0, not {value!r}")
    if number > MAX_QUANTITY or _places(number) > 4:
        raise BadInput(f"{what} is not a usable quantity: {value!r}")
    return float(number)


def day(value: Any, what: str) -> str | None:
    """``None`` or ``""`` (no date) or a real ``YYYY-MM-DD``, whatever its distance from today (a read
    of old books)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        value = value.isoformat()
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BadInput(f"{what} must be a date as YYYY-MM-DD, not {value!r}"[:200])
    try:
        date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} is not a real date: {value!r}") from None
    return value


def period(date_from: Any, date_to: Any, required: bool = False) -> tuple[str | None, str | None]:
    """Two read dates (``date_from``, ``date_to``), the first not after the second."""
    start, end = day(date_from, "date_from"), day(date_to, "date_to")
    if required and not (start and end):
        raise BadInput("a period needs both date_from and date_to")
    if start and end and end < start:
        raise BadInput(f"date_to {end} is before date_from {start}")
    return start, end


def iso_date(value: Any, what: str, today: date) -> str | None:
    """``None`` or ``""`` (Odoo's default) or a real ``YYYY-MM-DD`` within the window."""
    checked = day(value, what)
    if checked is None:
        return None
    window = timedelta(days=365 * DATE_WINDOW_YEARS)
    if not today - window <= date.fromisoformat(checked) <= today + window:
        raise BadInput(f"{what} {checked} is more than {DATE_WINDOW_YEARS} years from today")
    return checked


def text(value: Any, what: str, limit: int, required: bool = False) -> str:
    """Plain text: a string, no hidden characters, at most ``limit`` characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadInput(f"{what} must be text, not {type(value).__name__}")
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise BadInput(f"{what} is required")
    if len(value) > limit:
        raise BadInput(f"{what} is longer than {limit} characters ({len(value)})")
    if HIDDEN.search(value):
        raise BadInput(f"{what} holds control or text-direction characters")
    return value


def account_code(value: Any, what: str) -> str:
    code = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not ACCOUNT_CODE.fullmatch(code):
        raise BadInput(f"{what} must be an account code (letters, digits, dots), not {value!r}"[:200])
    return code


def email(value: Any, what: str) -> str:
    address = text(value, what, MAX_NAME)
    if address and not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+", address):
        raise BadInput(f"{what} is not an email address: {address!r}")
    return address


def _lines(value: Any, minimum: int) -> list[Any]:
    if not isinstance(value, list):
        raise BadInput("lines must be a list of objects")
    if not minimum <= len(value) <= MAX_LINES:
        raise BadInput(f"between {minimum} and {MAX_LINES} lines are needed, not {len(value)}")
    for i, line in enumerate(value, 1):
        if not isinstance(line, dict):
            raise BadInput(f"line {i} must be an object, not {type(line).__name__}")
    return value


def invoice(params: dict[str, Any], today: date) -> dict[str, Any]:
    """An invoice's or a bill's parameters, normalised (``odoo.invoice``, ``odoo.bill``)."""
    known = {"partner", "partner_email", "lines", "invoice_date", "due_date", "create_partner", "requested_in"}
    _no_unknown(params, known, "an invoice")
    out: dict[str, Any] = {"partner": text(params.get("partner"), "partner", MAX_NAME),
                           "partner_email": email(params.get("partner_email"), "partner_email")}
    if not (out["partner"] or out["partner_email"]):
        raise BadInput("an invoice needs a partner: a name or an email")
    lines = []
    for i, line in enumerate(_lines(params.get("lines"), 1), 1):
        _no_unknown(line, {"description", "name", "quantity", "price_unit", "price", "account"}, f"line {i}")
        clean: dict[str, Any] = {
            "description": text(line.get("description", line.get("name")), f"line {i} description", MAX_TEXT,
                                 required=True),
            "quantity": quantity(line.get("quantity", 1), f"line {i} quantity"),
            "price_unit": amount(line.get("price_unit", line.get("price")), f"line {i} price_unit", zero=True),
        }
        if line.get("account") not in (None, ""):
            clean["account"] = account_code(line["account"], f"line {i} account")
        lines.append(clean)
    if sum(Decimal(str(l["quantity"])) * Decimal(str(l["price_unit"])) for l in lines) <= 0:
        raise BadInput("the invoice's total is 0: give each line a price")
    out["lines"] = lines
    out["invoice_date"] = iso_date(params.get("invoice_date"), "invoice_date", today)
    out["due_date"] = iso_date(params.get("due_date"), "due_date", today)
    if out["invoice_date"] and out["due_date"] and out["due_date"] < out["invoice_date"]:
        raise BadInput(f"due_date {out['due_date']} is before invoice_date {out['invoice_date']}")
    create_partner = params.get("create_partner", False)
    if not isinstance(create_partner, bool):
        raise BadInput(f"create_partner must be true or false, not {create_partner!r}"[:200])
    out["create_partner"] = create_partner
    if params.get("requested_in"):
        out["requested_in"] = text(params["requested_in"], "requested_in", 64)
    return out


def entry(params: dict[str, Any], today: date) -> dict[str, Any]:
    """A journal entry's parameters (``odoo.entry``): balanced lines, each a debit or a credit."""
    _no_unknown(params, {"date", "lines"}, "a journal entry")
    lines = []
    debit = credit = Decimal(0)
    for i, line in enumerate(_lines(params.get("lines"), 2), 1):
        _no_unknown(line, {"account", "debit", "credit", "label", "name"}, f"line {i}")
        d = Decimal(str(amount(line.get("debit", 0), f"line {i} debit", zero=True)))
        c = Decimal(str(amount(line.get("credit", 0), f"line {i} credit", zero=True)))
        if (d > 0) == (c > 0):
            raise BadInput(f"line {i} must have either a debit or a credit")
        debit, credit = debit + d, credit + c
        lines.append({"account": account_code(line.get("account"), f"line {i} account"),
                      "debit": float(d), "credit": float(c),
                      "label": text(line.get("label", line.get("name")), f"line {i} label", MAX_TEXT)})
    if debit != credit:
        raise BadInput(f"the entry is not balanced: debits {debit:.2f} ≠ credits {credit:.2f}")
    return {"date": iso_date(params.get("date"), "date", today), "lines": lines}


def payment(params: dict[str, Any], today: date) -> dict[str, Any]:
    """A payment's parameters (``odoo.payment``): an invoice's name, an amount (or the open amount)."""
    _no_unknown(params, {"invoice", "amount", "date"}, "a payment")
    out: dict[str, Any] = {"invoice": text(params.get("invoice"), "invoice", 64, required=True)}
    out["amount"] = None if params.get("amount") in (None, "") else amount(params["amount"], "amount")
    out["date"] = iso_date(params.get("date"), "date", today)
    return out


#: The checks by what a task does in Odoo (its kind's action: ``odoo.invoice`` → ``invoice``).
CHECKS = {"invoice": invoice, "bill": invoice, "entry": entry, "payment": payment}


def params_for(action: str, params: Any, today: date) -> dict[str, Any]:
    """The normalised parameters of an accounting task that does ``action``; BadInput says why not."""
    if not isinstance(params, dict):
        raise BadInput(f"the {action} parameters must be an object")
    check = CHECKS.get(action)
    if check is None:
        raise BadInput(f"not an accounting action: {action}")
    return check(params, today)


def _no_unknown(params: dict[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(str(k) for k in params if k not in known)
    if unknown:
        raise BadInput(f"{what} has no field {unknown[0]!r} (known: {', '.join(sorted(known))})"[:300])
