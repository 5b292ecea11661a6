"""An Odoo client for both external APIs, over httpx (Odoo 17, 18 and 19).

* **JSON-RPC** — ``POST /jsonrpc``: ``common.authenticate(db, login, secret, {})`` gives the uid (or
  ``false`` for a wrong password), then ``object.execute_kw(db, uid, secret, model, method, args,
  kwargs)``. Errors come back **with HTTP 200** in ``error.data`` (``name`` is the exception's class,
  ``message`` the text); ``error.code`` is 0 on 19 and 200 before, so it is not relied on.
* **JSON-2** (Odoo 19) — ``POST /json/2/<model>/<method>`` with ``Authorization: bearer <api key>``,
  ``X-Odoo-Database``, and the method's parameters **by name** (``ids`` for record methods). The body
  of a success is the bare result; a failure is a 4xx/5xx with ``{"name", "message", …}``.

``transport = "auto"`` asks ``/web/webclient/version_info`` and uses JSON-2 on 19+ when an API key is
configured, JSON-RPC otherwise. Calls go through :meth:`OdooClient.call` with named parameters
either way; for JSON-RPC they are laid out positionally as Odoo expects.

**One company per client.** A database may hold several companies (Odoo's demo data has two), and
a call without ``allowed_company_ids`` in its context sees *every* company of the user
(``Environment.companies`` in odoo/orm/environments.py): sums would add them up. So the client
resolves one company first — the ``company`` it was given (a name or an id), or the login's current
company — refuses one the login cannot access, and passes ``allowed_company_ids = [that id]`` in the
context of every call; Odoo then reads only that company's records and makes new ones in it.

Errors map to one tree (:class:`OdooError`), keeping the server's exception name and message. Reads
are retried (twice) on connection errors and 502/503/504; writes never are — a write whose answer
was lost is :class:`OdooOutcomeUnknown`, and the caller looks its ``ref`` up before trying again.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import httpx

from fte.errors import AuthError, BadInput, FteError, OutcomeUnknown, Unreachable

READS = frozenset({"search_read", "search", "search_count", "read", "fields_get", "read_group",
                   "formatted_read_group", "check_access_rights", "has_group"})
#: How Odoo's ORM methods take their leading parameters when called positionally (JSON-RPC).
POSITIONAL: dict[str, tuple[str, ...]] = {
    "search_read": ("domain",), "search": ("domain",), "search_count": ("domain",), "read": ("fields",),
    "create": ("vals_list",), "write": ("vals",), "fields_get": (),
}
RECORD_METHODS_WITHOUT_IDS = frozenset({"search_read", "search", "search_count", "create", "fields_get"})


class OdooError(FteError):
    """Odoo refused or failed. ``name`` is the server's exception class (e.g. ``odoo.exceptions.UserError``)."""

    def __init__(self, message: str, name: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.name, self.status = name, status


class OdooAuthError(OdooError, AuthError):
    """Wrong login, password or API key (or an expired key: Odoo's hosting caps their lifetime)."""

    exit_code = 2


class OdooUserError(OdooError, BadInput):
    """A business rule refused it (UserError, ValidationError): the input must change."""


class OdooNotFound(OdooError, BadInput):
    """No such model, method, field or record."""


class OdooUnreachable(Unreachable):
    """The server did not answer (or answered 502/503/504)."""


class OdooOutcomeUnknown(OdooUnreachable, OutcomeUnknown):
    """A write was sent and its answer lost: it may have happened. Look its ``ref`` up first."""


@dataclass(frozen=True)
class Company:
    """The company a client works in, and the currency its figures are in."""

    id: int
    name: str
    currency: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "currency": self.currency}


def _classify(name: str, message: str, status: int | None) -> OdooError:
    text = f"{message} ({name})" if name else message
    if name in ("odoo.exceptions.AccessDenied", "werkzeug.exceptions.Unauthorized") or status == 401:
        return OdooAuthError(text + " — check the login and FTE_ODOO_PASSWORD / FTE_ODOO_API_KEY (API keys expire)",
                             name, status)
    if "doesn't exist" in message or "does not exist" in message:
        # JSON-RPC reports an unknown model as a UserError ("Object x doesn't exist"): it is a not-found.
        return OdooNotFound(text, name, status)
    if name in ("odoo.exceptions.UserError", "odoo.exceptions.ValidationError", "werkzeug.exceptions.UnprocessableEntity"):
        return OdooUserError(text, name, status)
    if name in ("odoo.exceptions.MissingError", "werkzeug.exceptions.NotFound", "builtins.ValueError", "builtins.TypeError") \
            or "doesn't exist" in message or status == 404:
        return OdooNotFound(text, name, status)
    if name == "odoo.exceptions.AccessError":
        return OdooAuthError(text + " — the Odoo user lacks the rights for this", name, status)
    return OdooError(text, name, status)


class OdooClient:
    def __init__(self, url: str, db: str, login: str = "", *, password: str = "", api_key: str = "",
                 transport: str = "auto", timeout: float = 30.0, http: httpx.BaseTransport | None = None,
                 retries: int = 2, backoff: float = 0.5, company: str | int | None = None) -> None:
        if transport not in ("auto", "jsonrpc", "json2"):
            raise BadInput(f"odoo transport must be auto, jsonrpc or json2, not {transport!r}")
        if not (password or api_key):
            raise BadInput("Odoo needs FTE_ODOO_API_KEY (or FTE_ODOO_PASSWORD) in the environment or .env")
        self.url, self.db, self.login = url.rstrip("/"), db, login
        self.secret = api_key or password
        self.api_key = api_key
        self.requested = transport
        self.retries, self.backoff = retries, backoff
        self.http = httpx.Client(base_url=self.url, timeout=timeout, transport=http)
        self._ids = itertools.count(1)
        self._uid: int | None = None
        self._transport: str | None = None if transport == "auto" else transport
        self._version: dict[str, Any] | None = None
        self.company_wanted = company
        self._company: Company | None = None

    # -- transport selection ------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        if self._version is None:
            resp = self._post("/web/webclient/version_info", {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 0},
                              read=True)
            self._version = self._rpc_result(resp)
        return self._version

    @property
    def major(self) -> int:
        info = self.version().get("server_version_info") or [0]
        return int(info[0])

    @property
    def transport(self) -> str:
        if self._transport is None:
            self._transport = "json2" if (self.major >= 19 and self.api_key) else "jsonrpc"
        return self._transport

    def uid(self) -> int:
        if self._uid is None:
            uid = self._jsonrpc("common", "authenticate", [self.db, self.login, self.secret, {}], read=True)
            if not uid:
                raise OdooAuthError(f"Odoo refused the login {self.login!r} on database {self.db!r}")
            self._uid = int(uid)
        return self._uid

    def company(self) -> Company:
        """The company every call works in (resolved once; see the module's docstring)."""
        if self._company is None:
            if self.transport == "json2":
                uid = int(self._call("res.users", "context_get")["uid"])
            else:
                uid = self.uid()
            [user] = self._call("res.users", "read", ids=[uid], fields=["company_id", "company_ids"])
            rows = self._call("res.company", "read", ids=list(user["company_ids"]), fields=["name", "currency_id"])
            companies = {int(r["id"]): Company(int(r["id"]), str(r["name"]), _name_of(r["currency_id"])) for r in rows}
            wanted = self.company_wanted
            if wanted is None or wanted == "":
                chosen = companies.get(int(user["company_id"][0]))
            elif isinstance(wanted, int) or str(wanted).strip().isdigit():
                chosen = companies.get(int(wanted))
            else:
                chosen = next((c for c in companies.values() if c.name.casefold() == str(wanted).strip().casefold()), None)
            if chosen is None:
                known = ", ".join(f"{c.name} ({c.id})" for c in sorted(companies.values(), key=lambda c: c.id))
                raise BadInput(f"the Odoo login {self.login or '(API key)'} cannot access company {wanted!r}; "
                               f"it can access: {known} — set [odoo] company in fte.toml")
            self._company = chosen
        return self._company

    # -- calls ----------------------------------------------------------------------------------------

    def call(self, model: str, method: str, ids: list[int] | None = None, context: dict[str, Any] | None = None,
             **params: Any) -> Any:
        """Call ``model.method`` with named parameters (``ids`` for record methods), in this client's company."""
        scoped = {"allowed_company_ids": [self.company().id]} | (context or {})
        return self._call(model, method, ids=ids, context=scoped, **params)

    def _call(self, model: str, method: str, ids: list[int] | None = None, context: dict[str, Any] | None = None,
              **params: Any) -> Any:
        read = method in READS or method == "context_get"
        if self.transport == "json2":
            body: dict[str, Any] = dict(params)
            if ids is not None:
                body["ids"] = ids
            if context:
                body["context"] = context
            headers = {"Authorization": f"bearer {self.api_key}", "X-Odoo-Database": self.db}
            resp = self._post(f"/json/2/{model}/{method}", body, read=read, headers=headers)
            return self._json2_result(resp)
        args: list[Any] = [ids] if ids is not None else []
        for name in POSITIONAL.get(method, ()):
            if name in params:
                args.append(params.pop(name))
        if context:
            params["context"] = context
        return self._jsonrpc("object", "execute_kw", [self.db, self.uid(), self.secret, model, method, args, params],
                             read=read)

    def search_read(self, model: str, domain: list[Any], fields: list[str], limit: int | None = None,
                    order: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"domain": domain, "fields": fields}
        if limit is not None:
            params["limit"] = limit
        if order:
            params["order"] = order
        return list(self.call(model, "search_read", **params))

    def create(self, model: str, vals: dict[str, Any], context: dict[str, Any] | None = None) -> int:
        result = self.call(model, "create", vals_list=[vals], context=context)
        return int(result[0] if isinstance(result, list) else result)

    # -- wire -----------------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], read: bool, headers: dict[str, str] | None = None) -> httpx.Response:
        attempts = 1 + (self.retries if read else 0)
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                resp = self.http.post(path, json=body, headers=headers)
            except ValueError as exc:  # NaN or infinity: JSON cannot carry it, and nothing was sent
                raise BadInput(f"a value cannot be sent to Odoo: {exc}") from exc
            except httpx.TransportError as exc:
                last = exc
            else:
                if resp.status_code not in (502, 503, 504):
                    return resp
                last = OdooUnreachable(f"Odoo answered {resp.status_code}")
            if attempt + 1 < attempts:
                time.sleep(self.backoff * 2 ** attempt)
        if not read and isinstance(last, (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)):
            raise OdooOutcomeUnknown(f"Odoo did not answer a write ({last}); it may have happened") from last
        raise OdooUnreachable(f"Odoo at {self.url} not reachable: {last}") from last

    def _jsonrpc(self, service: str, method: str, args: list[Any], read: bool) -> Any:
        body = {"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args},
                "id": next(self._ids)}
        return self._rpc_result(self._post("/jsonrpc", body, read=read))

    @staticmethod
    def _rpc_result(resp: httpx.Response) -> Any:
        if resp.status_code != 200:
            raise _classify("", f"Odoo answered HTTP {resp.status_code}: {resp.text[:200]}", resp.status_code)
        try:
            data = resp.json()
        except ValueError as exc:
            raise OdooError(f"Odoo answered something that is not JSON: {resp.text[:200]}") from exc
        if "error" in data:
            err = data["error"].get("data", {}) or {}
            raise _classify(str(err.get("name", "")), str(err.get("message") or data["error"].get("message")), None)
        return data.get("result")  # a method returning None: neither result nor error

    @staticmethod
    def _json2_result(resp: httpx.Response) -> Any:
        if resp.status_code == 200:
            return resp.json()
        try:
            data = resp.json()
            name, message = str(data.get("name", "")), str(data.get("message", ""))
        except ValueError:
            # e.g. a wrong X-Odoo-Database: Odoo answers 404 with an HTML page.
            name, message = "", f"HTTP {resp.status_code} (not JSON: wrong database name or URL?)"
        raise _classify(name, message, resp.status_code)

    def close(self) -> None:
        self.http.close()


def _name_of(many2one: Any) -> str:
    """``[id, "name"]`` (how Odoo reads a many2one) → ``"name"``."""
    return str(many2one[1]) if isinstance(many2one, list) and len(many2one) > 1 else ""
