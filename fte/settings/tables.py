"""Typed tables of ``fte.toml``: one frozen dataclass per table, read as ``settings.table(Cls)``.

A field is one setting: its type, default and one-line help (``opt``), and a check derived from its
default (text, true/false, a positive number) unless it names its own. The settings table of
:mod:`fte.settings.spec` (what validation and docs/settings.md derive from) takes these tables'
rows: each channel's, declared beside its factory in the registry (fte/io/channels/registry.py),
and the core ones here (:data:`CORE_TABLES`). A reader gets its table parsed into the dataclass, so
it reads ``cfg.port`` (an int) and never digs in a dict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from fte.settings.checks import (
    Setting,
    choice,
    is_bool,
    is_text,
    name_or_id,
    positive,
    text_list,
    whole,
)

Check = Callable[[Any], "str | None"]
T = TypeVar("T", bound="Table")


def opt(default: Any, help: str, check: Check | None = None, key: str | None = None) -> Any:
    """One setting of a table: its default, its help, its check (default: by the default's type) and,
    when the field's name cannot be it (``from`` is a Python keyword), its key in fte.toml."""
    if check is None:
        check = {bool: is_bool, str: is_text, float: positive, list: text_list}[type(default)]
    kwargs: dict[str, Any] = {"default_factory": lambda: list(default)} if isinstance(default, list) else {
        "default": default}
    metadata = {"help": help, "check": check} | ({"key": key} if key else {})
    return dataclasses.field(metadata=metadata, **kwargs)


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of ``fte.toml``; ``NAME`` is its dotted name (``executors.email``)."""

    NAME: ClassVar[str] = ""

    @classmethod
    def settings(cls) -> list[Setting]:
        """Its rows for the settings table (dotted names, defaults, help, checks)."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            rows.append(Setting(f"{cls.NAME}.{_key(f)}", default, f.metadata["help"], f.metadata["check"]))
        return rows

    @classmethod
    def parse(cls: type[T], values: dict[str, Any]) -> T:
        """The table from its checked values by key (``Settings.section``); keys it lacks take their
        defaults. Keys are checked before this (an unknown key never reaches here)."""
        fields = {_key(f): f.name for f in dataclasses.fields(cls)}
        return cls(**{fields[k]: v for k, v in values.items() if k in fields})


def _key(f: dataclasses.Field[Any]) -> str:
    """The field's key in fte.toml (its name, unless that is a Python keyword such as ``from``)."""
    return str(f.metadata.get("key", f.name))


@dataclasses.dataclass(frozen=True)
class OdooSettings(Table):
    NAME = "odoo"
    url: str = opt("", "the Odoo server; empty = no Odoo")
    db: str = opt("", "the Odoo database")
    login: str = opt("", "the Odoo user (key: `FTE_ODOO_API_KEY`, or `FTE_ODOO_PASSWORD`)")
    transport: str = opt("auto", "`auto`, `jsonrpc` or `json2`", choice("auto", "jsonrpc", "json2"))
    timeout: float = opt(30.0, "seconds an Odoo call may take")
    company: str | int | None = opt(None, "the one company fte works in, by name or id; default: the login's "
                                    "current company", name_or_id)


@dataclasses.dataclass(frozen=True)
class NotifySettings(Table):
    NAME = "notify"
    urls: list[str] = opt([], "Apprise URLs (`ntfy://…`, `tgram://…`, `mailto://…`, `json://…`); a `${NAME}` in one is "
                          "filled from the environment or `.env`, so tokens stay out of this file (docs/notifications.md)")
    include_text: bool = opt(False, "notices carry the drafts' text (by default they name tasks by title only)")


@dataclasses.dataclass(frozen=True)
class WebSettings(Table):
    NAME = "web"
    listen: str = opt("127.0.0.1", "the address `fte web` listens on; anything but loopback needs TLS (`tls_cert`) or "
                      "a reverse proxy that adds it (docs/web.md)")
    port: int = opt(8089, "the port `fte web` listens on", whole(1, 65535))
    public_url: str = opt("", "the address a phone opens the page at (e.g. `https://laptop.tailnet.ts.net:8089`); "
                          "set, each \"waiting\" notice links to its task's page")
    tls_cert: str = opt("", "a TLS certificate (PEM) for `fte web`; empty = plain HTTP")
    tls_key: str = opt("", "the certificate's private key (PEM), if not in the certificate's file")


#: The tables of fte.toml that are not a channel's (a channel's table is declared beside its factory
#: in fte/io/channels/registry.py), in the order docs/settings.md shows them.
CORE_TABLES: tuple[type[Table], ...] = (OdooSettings, NotifySettings, WebSettings)
