"""A fake Odoo on 127.0.0.1 that speaks both external APIs and keeps records.

It answers as ``../shared/odoo-19-wire.md`` records a real Odoo 19 server answering, and follows the
Odoo sources it names (repository odoo/odoo):

* ``odoo/http.py`` — the JSON-RPC envelope; errors come back with HTTP 200 as
  ``{"error": {"code", "message": "Odoo Server Error", "data": {"name", "message", "arguments", "context", "debug"}}}``;
* ``addons/rpc/controllers/json2.py`` — ``POST /json/2/<model>/<method>``: bearer API key, named
  arguments, ``ids`` in the body, "cannot call <model>.<method> with ids" for model methods, 404 for
  an unknown model or method; the bare result on success, and ``{"name", "message", "arguments",
  "context", "debug"}`` with a 4xx/5xx status on failure;
* ``addons/account/models/account_move.py`` — an unbalanced entry is refused at create ("The entry
  is not balanced."), posting twice is refused ("The entry INV/2026/00001 (id 5) must be in draft."),
  names are given at posting (``INV/``, ``BILL/``, ``MISC/``), ``payment_state`` follows payments.

* ``odoo/orm/environments.py`` (``Environment.company`` / ``companies``) — the companies a call
  works in come from the context's ``allowed_company_ids`` (refused with ``AccessError`` "Access to
  unauthorized or invalid companies." when the user may not access one); without it, **every company
  of the user** is visible (so an unscoped read sums them all) and new records go to the user's
  current company. Record rules keep each company's accounts, journals, moves, lines and payments
  to the companies of the call.

``version`` picks the field differences: 17 has ``account.account.company_id`` and ``deprecated``;
18 ``company_ids`` and ``deprecated``; 19 ``company_ids`` and ``active``; the payment's memo field
is ``ref`` before 19 and ``memo`` in 19.

Two companies, as Odoo's demo data has (each with its own chart of accounts, same codes, and its
own currency): ``YourCompany`` (id 1, USD, the login's current company) and ``My EU Company`` (id 2,
EUR). :meth:`FakeOdoo.post_entry` books posted figures into either, as a test's set-up.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNTS = [
    ("101000", "Current Assets", "asset_current"), ("101401", "Bank", "asset_cash"),
    ("121000", "Account Receivable", "asset_receivable"), ("211000", "Account Payable", "liability_payable"),
    ("400000", "Product Sales", "income"), ("450000", "Other Income", "income_other"),
    ("600000", "Expenses", "expense"), ("610000", "Cost of Goods Sold", "expense_direct_cost"),
    ("620000", "Depreciation", "expense_depreciation"),
    ("999999", "Undistributed Profits/Losses", "equity_unaffected"),
]
COMPANIES = [("YourCompany", "USD"), ("My EU Company", "EUR")]
#: many2one fields → the model they point at (read as ``[id, display name]``)
MANY2ONE = {"partner_id": "res.partner", "account_id": "account.account", "move_id": "account.move",
            "journal_id": "account.journal", "company_id": "res.company", "currency_id": "res.currency"}
#: selection fields and their values (odoo-19 addons/account/models/account_move.py and
#: account_account.py; the move's values as the wire notes record them): ``fields_get`` answers them
#: as Odoo does, ``[[value, label], …]``.
SELECTIONS = {
    ("account.move", "move_type"): ["entry", "out_invoice", "out_refund", "in_invoice", "in_refund", "out_receipt",
                                    "in_receipt"],
    ("account.move", "state"): ["draft", "posted", "cancel"],
    ("account.move", "payment_state"): ["not_paid", "in_payment", "paid", "partial", "reversed", "blocked",
                                        "invoicing_legacy"],
    ("account.account", "account_type"): [
        "asset_receivable", "asset_cash", "asset_current", "asset_non_current", "asset_prepayments", "asset_fixed",
        "liability_payable", "liability_credit_card", "liability_current", "liability_non_current", "equity",
        "equity_unaffected", "income", "income_other", "expense", "expense_depreciation", "expense_direct_cost",
        "off_balance"],
}
#: models whose records belong to one company (record rules keep them to the call's companies)
COMPANY_MODELS = ("account.journal", "account.move", "account.move.line", "account.payment")


class OdooFault(Exception):
    """An Odoo exception: ``name`` is its full class name, ``status`` what JSON-2 answers with."""

    def __init__(self, name: str, message: str, status: int) -> None:
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


def user_error(message: str) -> OdooFault:
    return OdooFault("odoo.exceptions.UserError", message, 422)


def value_error(message: str) -> OdooFault:
    return OdooFault("builtins.ValueError", message, 500)


FIELDS: dict[str, set[str]] = {
    "res.partner": {"id", "name", "email", "is_company", "customer_rank", "supplier_rank", "display_name"},
    "res.users": {"id", "name", "login", "company_id", "company_ids"},
    "res.company": {"id", "name", "currency_id"},
    "res.currency": {"id", "name"},
    "account.journal": {"id", "name", "code", "type", "company_id"},
    "account.move": {"id", "name", "move_type", "state", "partner_id", "ref", "payment_reference", "date",
                     "invoice_date", "invoice_date_due", "journal_id", "amount_total", "amount_tax",
                     "amount_residual", "payment_state", "line_ids", "invoice_line_ids", "currency_id", "company_id"},
    "account.move.line": {"id", "move_id", "account_id", "debit", "credit", "balance", "date", "parent_state",
                          "name", "display_type", "partner_id", "quantity", "price_unit", "company_id"},
    "account.payment": {"id", "amount", "partner_id", "state", "date", "payment_type", "company_id"},
    "account.payment.register": {"id", "amount", "payment_date", "journal_id", "communication"},
}


class _Swallow:
    """The request's handler, except that its answer is never sent."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)

    def send(self, *_args: Any, **_kwargs: Any) -> None:
        pass


class FakeOdoo:
    def __init__(self, version: int = 19, db: str = "acme", login: str = "admin", password: str = "admin-pw",
                 api_key: str = "odoo-api-key") -> None:
        self.version, self.db, self.login, self.password, self.api_key = version, db, login, password, api_key
        self.uid = 2
        self.records: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in FIELDS}
        self.records["account.account"] = {}
        self.seq: dict[str, int] = {}
        self.calls: list[tuple[str, str, str]] = []  # (transport, model, method)
        self.fail_next: list[int] = []  # HTTP statuses to answer the next requests with (e.g. a 503 from a proxy)
        #: Perform the next write (create, action_post, …), then close the connection without an
        #: answer: what a client sees when a proxy or the network drops a request that was done.
        self.drop_after_next_write = False
        self.lock = threading.Lock()
        #: the companies of the call being served, and the one new records go to (see :meth:`_enter`)
        self.companies: list[int] = [1, 2]
        self.company = 1
        acct_fields = {"id", "code", "name", "account_type"} | ({"company_id"} if version <= 17 else {"company_ids"}) \
            | ({"active"} if version >= 19 else {"deprecated"})
        FIELDS_BY_MODEL = dict(FIELDS)
        FIELDS_BY_MODEL["account.account"] = acct_fields
        FIELDS_BY_MODEL["account.payment"] = FIELDS["account.payment"] | ({"memo"} if version >= 19 else {"ref"})
        self.fields = FIELDS_BY_MODEL
        for company, currency in COMPANIES:
            cid = self._insert("res.company", {"name": company,
                                               "currency_id": self._insert("res.currency", {"name": currency})})
            for code, name, kind in ACCOUNTS:
                vals: dict[str, Any] = {"code": code, "name": name, "account_type": kind}
                vals |= {"company_id": cid} if version <= 17 else {"company_ids": [cid]}
                vals |= {"active": True} if version >= 19 else {"deprecated": False}
                self._insert("account.account", vals)
            for name, code, kind in (("Customer Invoices", "INV", "sale"), ("Vendor Bills", "BILL", "purchase"),
                                     ("Miscellaneous Operations", "MISC", "general"), ("Bank", "BNK1", "bank")):
                self._insert("account.journal", {"name": name, "code": code, "type": kind, "company_id": cid})
        self.records["res.users"][self.uid] = {"id": self.uid, "name": "Mitchell Admin", "login": login,
                                               "company_id": 1, "company_ids": [1, 2]}
        self._insert("res.partner", {"name": "Acme Corporation", "email": "info@acme.example", "is_company": True,
                                     "customer_rank": 1, "supplier_rank": 0})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- the HTTP side -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeOdoo":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def send(self, status: int, body: Any, ctype: str = "application/json", headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fake.fail_next:
                    return self.send(fake.fail_next.pop(0), b"<html><body>503 Service Unavailable</body></html>", "text/html")
                if self.path == "/jsonrpc":
                    return fake._jsonrpc(self, raw)
                if self.path == "/web/webclient/version_info":
                    return self.send(200, {"jsonrpc": "2.0", "id": None, "result": fake._version()})
                if self.path.startswith("/json/2/"):
                    if fake.drop_after_next_write and not self.path.rsplit("/", 1)[-1].startswith(
                            ("search", "read", "fields_get", "check_access", "context_get", "name_search")):
                        fake.drop_after_next_write = False
                        fake._json2(_Swallow(self), raw)  # done, and the answer never sent
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return None
                    return fake._json2(self, raw)
                self.send(404, b"<html><body>Not Found</body></html>", "text/html")

        return Handler

    def _version(self) -> dict[str, Any]:
        v = f"{self.version}.0"
        return {"server_version": v, "server_version_info": [self.version, 0, 0, "final", 0, ""],
                "server_serie": v, "protocol_version": 1}

    def _jsonrpc(self, h: Any, raw: bytes) -> None:
        try:
            req = json.loads(raw)
        except ValueError:
            return h.send(400, b"Invalid JSON data", "text/html")
        rid = req.get("id")
        params = req.get("params", {})
        service, method, args = params.get("service"), params.get("method"), params.get("args", [])
        try:
            result = self._dispatch_rpc(service, method, args)
        except OdooFault as f:
            code = 0 if self.version >= 19 else 200
            return h.send(200, {"jsonrpc": "2.0", "id": rid, "error": {
                "code": code, "message": "Odoo Server Error",
                "data": {"name": f.name, "message": f.message, "arguments": [f.message], "context": {},
                         "debug": f"Traceback (most recent call last):\n  ...\n{f.name}: {f.message}\n"}}})
        if result is None:  # a method returning None: neither result nor error (wire doc)
            return h.send(200, {"jsonrpc": "2.0", "id": rid})
        h.send(200, {"jsonrpc": "2.0", "id": rid, "result": result})

    def _dispatch_rpc(self, service: str, method: str, args: list[Any]) -> Any:
        if service == "common" and method == "version":
            return self._version()
        if service == "common" and method == "authenticate":
            db, login, password = args[0], args[1], args[2]
            return self.uid if (db == self.db and login == self.login and password in (self.password, self.api_key)) else False
        if service == "object" and method == "execute_kw":
            db, uid, secret, model, meth = args[:5]
            pos = args[5] if len(args) > 5 else []
            kw = args[6] if len(args) > 6 else {}
            if db != self.db or uid != self.uid or secret not in (self.password, self.api_key):
                raise OdooFault("odoo.exceptions.AccessDenied", "Access Denied", 401)
            self.calls.append(("jsonrpc", model, meth))
            return self.execute(model, meth, list(pos), dict(kw), rpc=True)
        raise OdooFault("builtins.Exception", f"Method not found: {method}", 500)

    def _json2(self, h: Any, raw: bytes) -> None:
        def fail(status: int, name: str, message: str) -> None:
            h.send(status, {"name": name, "message": message, "arguments": [message], "context": {},
                            "debug": f"Traceback (most recent call last):\n  ...\n{name}: {message}\n"},
                   headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)

        auth = h.headers.get("Authorization", "")
        if not auth:
            return fail(401, "werkzeug.exceptions.Unauthorized",
                        "User not authenticated, use an API Key with a Bearer Authorization header.")
        if auth.split(" ", 1)[-1] != self.api_key or not auth.lower().startswith("bearer "):
            return fail(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
        dbh = h.headers.get("X-Odoo-Database")
        if dbh is not None and dbh != self.db:
            return h.send(404, b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>", "text/html")
        parts = h.path.split("/")
        if len(parts) != 5:
            return fail(404, "werkzeug.exceptions.NotFound", "Did you mean POST /json/2/<model>/<method>?")
        model, method = parts[3], parts[4]
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            return fail(400, "werkzeug.exceptions.BadRequest", f"could not parse the body as json: {exc}")
        if model not in self.fields:
            return fail(404, "werkzeug.exceptions.NotFound", f"the model {model!r} does not exist")
        if method.startswith("_"):
            return fail(403, "odoo.exceptions.AccessError", f"Private methods (such as '{model}.{method}') cannot be called remotely.")
        if method not in self.METHODS:
            return fail(404, "werkzeug.exceptions.NotFound", f"The method '{model}.{method}' does not exist")
        ids = body.pop("ids", [])
        context = body.pop("context", {})
        if method in self.MODEL_METHODS and ids:
            return fail(422, "werkzeug.exceptions.UnprocessableEntity", f"cannot call {model}.{method} with ids")
        allowed = self.METHODS[method]
        unknown = set(body) - allowed
        if unknown:
            return fail(500, "builtins.TypeError", f"{model}.{method}() got an unexpected keyword argument '{sorted(unknown)[0]}'")
        self.calls.append(("json2", model, method))
        try:
            pos = [ids] if method not in self.MODEL_METHODS else []
            result = self.execute(model, method, pos, body, rpc=False, context=context)
        except OdooFault as f:
            return fail(f.status, f.name, f.message)
        h.send(200, result)

    # -- the ORM side -------------------------------------------------------------------------------

    METHODS: dict[str, set[str]] = {
        "search_read": {"domain", "fields", "limit", "offset", "order"}, "search": {"domain", "limit", "offset", "order"},
        "search_count": {"domain", "limit"}, "read": {"fields"}, "create": {"vals_list"}, "write": {"vals"},
        "action_post": set(), "action_create_payments": set(), "fields_get": {"attributes", "allfields"},
        "unlink": set(), "context_get": set(),
    }
    MODEL_METHODS = {"search_read", "search", "search_count", "create", "fields_get", "context_get"}

    def execute(self, model: str, method: str, pos: list[Any], kw: dict[str, Any], rpc: bool,
                context: dict[str, Any] | None = None) -> Any:
        if model not in self.fields:
            raise user_error(f"Object {model} doesn't exist")
        if method not in self.METHODS:
            raise OdooFault("builtins.AttributeError", f"The method '{model}.{method}' does not exist", 404)
        context = context or kw.pop("context", {}) or {}
        with self.lock:
            self._enter(context)
            if method == "context_get":  # res.users.context_get (19): the user's lang, tz and uid
                return {"lang": "en_US", "tz": "Europe/Brussels", "uid": self.uid}
            if method in ("search_read", "search", "search_count"):
                domain = pos[0] if pos else kw.get("domain", [])
                found = self._search(model, domain, kw.get("order"), kw.get("offset", 0), kw.get("limit"))
                if method == "search":
                    return [r["id"] for r in found]
                if method == "search_count":
                    return len(found)
                fields = (pos[1] if len(pos) > 1 else None) or kw.get("fields")
                return [self._read_one(model, r, fields) for r in found]
            if method == "read":
                ids = pos[0] if pos else []
                fields = (pos[1] if len(pos) > 1 else None) or kw.get("fields")
                rows = [self.records[model][i] for i in ids if i in self.records[model]]
                if any(not self._visible(model, r) for r in rows):
                    raise OdooFault("odoo.exceptions.AccessError",
                                    f"You are not allowed to access '{model}' records of another company.", 403)
                return [self._read_one(model, r, fields) for r in rows]
            if method == "fields_get":  # fields_get(allfields=None, attributes=None): each field's description
                wanted = (pos[0] if pos else None) or kw.get("allfields") or sorted(self.fields[model])
                attributes = (pos[1] if len(pos) > 1 else None) or kw.get("attributes")
                out = {}
                for f in wanted:
                    if f not in self.fields[model]:
                        continue  # Odoo leaves out a field it does not have
                    values = SELECTIONS.get((model, f))
                    about: dict[str, Any] = {"type": "selection" if values else "char", "string": f}
                    if values:
                        about["selection"] = [[v, v.replace("_", " ").title()] for v in values]
                    out[f] = {k: v for k, v in about.items() if not attributes or k in attributes}
                return out
            if method == "create":
                vals = pos[0] if pos else kw.get("vals_list")
                single = isinstance(vals, dict)
                ids = [self._create(model, v, context) for v in ([vals] if single else vals)]
                return ids[0] if (single and rpc) else ids
            if method == "write":
                ids, vals = pos[0], (pos[1] if len(pos) > 1 else kw.get("vals", {}))
                for i in ids:
                    if i not in self.records[model]:
                        raise OdooFault("odoo.exceptions.MissingError", f"Record does not exist or has been deleted.\n(Record: {model}({i},), User: {self.uid})", 404)
                    self._check_fields(model, vals)
                    self.records[model][i].update(vals)
                return True
            if method == "action_post":
                for i in pos[0]:
                    self._post(i)
                return False
            if method == "action_create_payments":
                for i in pos[0]:
                    self._pay(i)
                return {"type": "ir.actions.act_window_close"}
            raise OdooFault("builtins.Exception", f"Method not found: {method}", 500)

    # -- companies (odoo/orm/environments.py) --------------------------------------------------------

    def _enter(self, context: dict[str, Any]) -> None:
        """The call's companies: ``allowed_company_ids`` if given (each one the user's), else all of
        the user's; the first of them (else the user's current company) is where records are made."""
        user = self.records["res.users"][self.uid]
        allowed = context.get("allowed_company_ids") or []
        if allowed:
            if set(allowed) - set(user["company_ids"]):
                raise OdooFault("odoo.exceptions.AccessError", "Access to unauthorized or invalid companies.", 403)
            self.companies, self.company = list(allowed), allowed[0]
        else:
            self.companies, self.company = list(user["company_ids"]), user["company_id"]

    def _visible(self, model: str, rec: dict[str, Any]) -> bool:
        if model == "account.account":
            owners = [rec["company_id"]] if "company_id" in rec else rec["company_ids"]
            return bool(set(owners) & set(self.companies))
        if model in COMPANY_MODELS:
            return rec.get("company_id") in self.companies
        return True

    def post_entry(self, company: int, when: str, lines: list[tuple[str, float, float]], posted: bool = True) -> int:
        """Set-up for a test: a journal entry in ``company`` of (account code, debit, credit) lines."""
        with self.lock:
            self._enter({"allowed_company_ids": [company]})
            accounts = {self._value("account.account", a, "code"): i for i, a in self.records["account.account"].items()
                        if self._visible("account.account", a)}
            mid = self._create_move({"move_type": "entry", "date": when, "ref": f"set-up {when}", "line_ids": [
                [0, 0, {"account_id": accounts[code], "debit": debit, "credit": credit, "name": code}]
                for code, debit, credit in lines]})
            if posted:
                self._post(mid)
            return mid

    def _insert(self, model: str, vals: dict[str, Any]) -> int:
        self.seq[model] = self.seq.get(model, 0) + 1
        rid = self.seq[model]
        self.records.setdefault(model, {})[rid] = dict(vals, id=rid)
        return rid

    def _check_fields(self, model: str, vals: dict[str, Any]) -> None:
        for key in vals:
            if key not in self.fields[model]:
                raise value_error(f"Invalid field '{key}' on '{model}'")

    def _read_one(self, model: str, rec: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        names = fields or sorted(self.fields[model])
        out = {"id": rec["id"]}
        for f in names:
            if f not in self.fields[model]:
                raise value_error(f"Invalid field '{f}' on '{model}'")
            value = rec.get(f, False)
            if f in MANY2ONE and value:
                target = MANY2ONE[f]
                other = self.records[target][value]
                label = other.get("name") or f"{target},{value}"
                if target == "account.account":
                    label = f"{other['code']} {other['name']}"
                value = [value, label]
            out[f] = value
        return out

    def _value(self, model: str, rec: dict[str, Any], path: str) -> Any:
        head, _, rest = path.partition(".")
        if head not in self.fields[model] and head != "id":
            raise value_error(f"Invalid field {head!r} on model {model!r}")
        value = rec.get(head, False)
        if not rest:
            return value
        target = MANY2ONE[head]
        return self._value(target, self.records[target][value], rest) if value else False

    def _match(self, model: str, rec: dict[str, Any], term: Any) -> bool:
        field, op, value = term
        got = self._value(model, rec, field)
        if isinstance(got, list):  # an x2many field: the leaf holds when any of its ids matches
            if op in ("=", "in"):
                return bool(set(got) & set(value if isinstance(value, list) else [value]))
            raise value_error(f"Invalid leaf {term!r}")
        if op == "=":
            return got == value
        if op == "!=":
            return got != value
        if op == "in":
            return got in value
        if op == "not in":
            return got not in value
        if op in ("ilike", "like", "=ilike", "=like"):
            g, v = str(got or ""), str(value)
            if op in ("=like", "=ilike"):  # SQL patterns: % and _, a backslash escapes (PostgreSQL's LIKE)
                regex = "".join(".*" if t == "%" else "." if t == "_" else re.escape(t[-1])
                                for t in re.findall(r"\\.|.", v, re.S))
                return re.fullmatch(regex, g, re.S | (re.I if op == "=ilike" else 0)) is not None
            return v.lower() in g.lower() if op == "ilike" else v in g
        cmp = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
        if op in cmp:
            return got is not False and cmp[op](got, value)
        raise value_error(f"Invalid leaf {term!r}")

    def _eval(self, model: str, rec: dict[str, Any], domain: list[Any]) -> bool:
        stack: list[bool] = []
        for item in reversed(domain):
            if item in ("&", "|"):
                a, b = stack.pop(), stack.pop()  # both operands, always: no short-circuit on the stack
                stack.append((a and b) if item == "&" else (a or b))
            elif item == "!":
                stack.append(not stack.pop())
            else:
                stack.append(self._match(model, rec, item))
        return all(stack)

    def _search(self, model: str, domain: list[Any], order: str | None, offset: int, limit: int | None) -> list[dict[str, Any]]:
        rows = [r for r in self.records[model].values() if self._visible(model, r) and self._eval(model, r, domain)]
        if order:
            key, _, direction = order.partition(" ")
            rows.sort(key=lambda r: (r.get(key) is False, r.get(key)), reverse=direction.lower() == "desc")
        return rows[offset: offset + limit if limit else None]

    def _account(self, kind: str, company: int) -> int:
        return next(i for i, a in self.records["account.account"].items()
                    if a["account_type"] == kind and company in (a.get("company_ids") or [a.get("company_id")]))

    def _journal(self, kind: str, company: int) -> int:
        return next(i for i, j in self.records["account.journal"].items()
                    if j["type"] == kind and j["company_id"] == company)

    def _check_company(self, account_id: Any, company: int) -> None:
        account = self.records["account.account"].get(account_id)
        if account is not None and company not in (account.get("company_ids") or [account.get("company_id")]):
            raise user_error(f"Incompatible companies on records: the account {account['code']} does not belong "
                             f"to {self.records['res.company'][company]['name']}.")

    def _create(self, model: str, vals: dict[str, Any], context: dict[str, Any]) -> int:
        vals = dict(vals)
        if model == "account.move":
            return self._create_move(vals)
        if model == "account.payment.register":
            self._check_fields(model, vals)
            if context.get("active_model") != "account.move" or not context.get("active_ids"):
                raise user_error("The register payment wizard should only be called on account.move records.")
            vals["_moves"] = list(context["active_ids"])
            return self._insert(model, vals)
        self._check_fields(model, vals)
        return self._insert(model, vals)

    def _create_move(self, vals: dict[str, Any]) -> int:
        commands = vals.pop("invoice_line_ids", None) or []
        line_cmds = vals.pop("line_ids", None) or []
        self._check_fields("account.move", vals)
        move_type = vals.get("move_type", "entry")
        company = self.company
        lines: list[dict[str, Any]] = []
        when = vals.get("invoice_date") or vals.get("date") or date.today().isoformat()
        if move_type in ("out_invoice", "in_invoice", "out_refund", "in_refund"):
            if not vals.get("partner_id"):
                raise user_error("The field 'Customer' is required, please complete it to validate the Customer Invoice.")
            sale = move_type.startswith("out")
            total = 0.0
            for cmd in commands:
                if not (isinstance(cmd, list) and len(cmd) == 3 and cmd[0] == 0):
                    raise value_error(f"Invalid command {cmd!r}")
                line = dict(cmd[2])
                self._check_fields("account.move.line", line)
                amount = round(float(line.get("quantity", 1)) * float(line.get("price_unit", 0)), 2)
                total += amount
                account = line.get("account_id") or self._account("income" if sale else "expense", company)
                self._check_company(account, company)
                lines.append({"name": line.get("name", ""), "account_id": account, "quantity": line.get("quantity", 1),
                              "price_unit": line.get("price_unit", 0), "debit": 0.0 if sale else amount,
                              "credit": amount if sale else 0.0, "display_type": "product"})
            counter = self._account("asset_receivable" if sale else "liability_payable", company)
            lines.append({"name": vals.get("ref") or "", "account_id": counter, "debit": total if sale else 0.0,
                          "credit": 0.0 if sale else total, "display_type": "payment_term"})
            vals.setdefault("journal_id", self._journal("sale" if sale else "purchase", company))
            vals.update(amount_total=round(total, 2), amount_tax=0.0, amount_residual=round(total, 2),
                        payment_state="not_paid")
        else:
            for cmd in line_cmds:
                if not (isinstance(cmd, list) and len(cmd) == 3 and cmd[0] == 0):
                    raise value_error(f"Invalid command {cmd!r}")
                line = dict(cmd[2])
                self._check_fields("account.move.line", line)
                if line.get("account_id") not in self.records["account.account"]:
                    raise user_error("The account is required on every journal item.")
                self._check_company(line["account_id"], company)
                lines.append({"name": line.get("name", ""), "account_id": line["account_id"],
                              "debit": float(line.get("debit", 0)), "credit": float(line.get("credit", 0)),
                              "display_type": "product"})
            if round(sum(l["debit"] for l in lines) - sum(l["credit"] for l in lines), 2) != 0:
                raise user_error("The entry is not balanced.")
            vals.setdefault("journal_id", self._journal("general", company))
            total = sum(l["debit"] for l in lines)
            vals.update(amount_total=round(total, 2), amount_tax=0.0, amount_residual=0.0, payment_state="not_paid")
        vals.update(move_type=move_type, state="draft", name=False, date=when, company_id=company,
                    currency_id=self.records["res.company"][company]["currency_id"])
        mid = self._insert("account.move", vals)
        ids = []
        for line in lines:
            line.update(move_id=mid, date=when, parent_state="draft", partner_id=vals.get("partner_id", False),
                        company_id=company,
                        balance=round(line["debit"] - line["credit"], 2))
            ids.append(self._insert("account.move.line", line))
        self.records["account.move"][mid].update(line_ids=ids, invoice_line_ids=[
            i for i in ids if self.records["account.move.line"][i].get("display_type") == "product"])
        return mid

    def _post(self, mid: int) -> None:
        move = self.records["account.move"].get(mid)
        if move is None:
            raise OdooFault("odoo.exceptions.MissingError", "Record does not exist or has been deleted.", 404)
        if move["state"] != "draft":
            raise user_error(f"The entry {move['name']} (id {mid}) must be in draft.")
        prefix = {"out_invoice": "INV", "in_invoice": "BILL", "out_refund": "RINV", "in_refund": "RBILL"}.get(move["move_type"], "MISC")
        year = str(move["date"])[:4]
        self.seq[prefix] = self.seq.get(prefix, 0) + 1
        move.update(state="posted", name=f"{prefix}/{year}/{self.seq[prefix]:05d}")
        for lid in move["line_ids"]:
            self.records["account.move.line"][lid]["parent_state"] = "posted"

    def _pay(self, wizard_id: int) -> None:
        wizard = self.records["account.payment.register"][wizard_id]
        for mid in wizard["_moves"]:
            move = self.records["account.move"][mid]
            if move["state"] != "posted":
                raise user_error("You can only register payment for posted journal entries.")
            if move["payment_state"] in ("paid", "in_payment") or move["amount_residual"] <= 0:
                raise user_error("You can't register a payment because there is nothing left to pay on the selected journal items.")
            amount = float(wizard.get("amount") or move["amount_residual"])
            sale = move["move_type"].startswith("out")
            memo_field = "memo" if self.version >= 19 else "ref"
            self._insert("account.payment", {"amount": amount, "partner_id": move["partner_id"], "state": "paid",
                                             "company_id": move["company_id"],
                                             "date": wizard.get("payment_date") or move["date"],
                                             "payment_type": "inbound" if sale else "outbound",
                                             memo_field: wizard.get("communication") or move["name"]})
            company = move["company_id"]
            bank = self._account("asset_cash", company)
            counter = self._account("asset_receivable" if sale else "liability_payable", company)
            when = wizard.get("payment_date") or move["date"]
            for account, debit, credit in ((bank, amount if sale else 0.0, 0.0 if sale else amount),
                                           (counter, 0.0 if sale else amount, amount if sale else 0.0)):
                self._insert("account.move.line", {"move_id": mid, "account_id": account, "debit": debit, "credit": credit,
                                                   "balance": round(debit - credit, 2), "date": when,
                                                   "parent_state": "posted", "name": "Payment", "display_type": "payment",
                                                   "company_id": company})
            move["amount_residual"] = round(move["amount_residual"] - amount, 2)
            move["payment_state"] = "paid" if move["amount_residual"] <= 0 else "partial"
