"""Odoo settings (``[odoo]`` in fte.toml) and the client they make.

``url``, ``db``, ``login``, ``transport`` = ``auto`` | ``jsonrpc`` | ``json2``, ``timeout``, ``company``
(a name or an id; default: the login's current company — every call works in that one company); the
secret from ``FTE_ODOO_API_KEY`` (preferred; required for JSON-2) or ``FTE_ODOO_PASSWORD``.
"""

from __future__ import annotations

from typing import Any

from fte.config import Settings, load_env
from fte.errors import BadInput
from fte.odoo.client import OdooClient


def odoo_settings(settings: Settings) -> dict[str, Any]:
    return settings.section("odoo")


def configured(settings: Settings) -> bool:
    return bool(odoo_settings(settings).get("url"))


def make_client(settings: Settings) -> OdooClient:
    cfg = odoo_settings(settings)
    if not cfg.get("url") or not cfg.get("db"):
        raise BadInput("Odoo is not configured: set [odoo] url and db in fte.toml")
    company = cfg.get("company")
    if company is not None and (isinstance(company, bool) or not isinstance(company, (str, int))):
        raise BadInput(f"[odoo] company must be a company's name or id, not {company!r}")
    env = load_env(settings.home)
    return OdooClient(str(cfg["url"]), str(cfg["db"]), str(cfg.get("login", "")),
                      password=env.get("FTE_ODOO_PASSWORD", ""), api_key=env.get("FTE_ODOO_API_KEY", ""),
                      transport=str(cfg.get("transport", "auto")), timeout=float(cfg.get("timeout", 30)),
                      company=company)
