"""Odoo settings (``[odoo]`` in fte.toml) and the client they make.

``url``, ``db``, ``login``, ``transport`` = ``auto`` | ``jsonrpc`` | ``json2``, ``timeout``, ``company``
(a name or an id; default: the login's current company — every call works in that one company); the
secret from ``FTE_ODOO_API_KEY`` (preferred; required for JSON-2) or ``FTE_ODOO_PASSWORD``.
"""

from __future__ import annotations

from fte.config import Settings
from fte.errors import BadInput
from fte.odoo.client import OdooClient
from fte.settings.env import load_env
from fte.settings.tables import OdooSettings


def odoo_settings(settings: Settings) -> OdooSettings:
    return settings.table(OdooSettings)


def configured(settings: Settings) -> bool:
    return bool(odoo_settings(settings).url)


def make_client(settings: Settings) -> OdooClient:
    cfg = odoo_settings(settings)
    if not cfg.url or not cfg.db:
        raise BadInput("Odoo is not configured: set [odoo] url and db in fte.toml")
    env = load_env(settings.home)
    return OdooClient(cfg.url, cfg.db, cfg.login, password=env.get("FTE_ODOO_PASSWORD", ""),
                      api_key=env.get("FTE_ODOO_API_KEY", ""), transport=cfg.transport, timeout=cfg.timeout,
                      company=cfg.company)
