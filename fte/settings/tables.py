"""Each channel's settings table, typed: one frozen dataclass per table of ``fte.toml``.

A field is one setting: its type, default and one-line help (``opt``), and a check derived from its
default (text, true/false, a positive number) unless it names its own. The settings table of
:mod:`fte.settings.spec` (what validation and docs/settings.md derive from) takes its channel rows
from here, and the registry hands each channel's factory its table parsed into the dataclass, so a
channel reads ``cfg.port`` (an int) and never digs in a dict. Adding a channel's table = one class
here, listed in :data:`TABLES`.
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
    numeric_id,
    positive,
    text_list,
    whole,
    within,
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
class MaildirSourceSettings(Table):
    NAME = "sources.maildir"
    path: str = opt("inbox", "a Maildir folder of incoming mail (relative to the home, or absolute). Whatever "
                    "fills it must deliver as Maildir says — write in `tmp/`, then rename into `new/` (mbsync, "
                    "offlineimap, fdm and procmail do): a file written in place in `new/` can be read half-written")


@dataclasses.dataclass(frozen=True)
class GmailSourceSettings(Table):
    NAME = "sources.gmail"
    enabled: bool = opt(False, "Gmail as a source (cloud); token: `fte auth gmail`")
    query: str = opt("in:inbox", "which messages are read")
    label: str = opt("INBOX", "the label whose history is followed")
    max_full_sync: int = opt(100, "messages read at most when the stored history id expired", whole(1))


@dataclasses.dataclass(frozen=True)
class ImapSourceSettings(Table):
    NAME = "sources.imap"
    enabled: bool = opt(False, "an IMAP folder as a source (cloud); password: `FTE_IMAP_PASSWORD`")
    host: str = opt("", "the IMAP server (required for it)")
    port: int = opt(993, "the IMAP server's port (993 with `ssl`, 143 with `starttls`)", whole(1, 65535))
    security: str = opt("ssl", "`ssl`, `starttls` or `none` (loopback only)", choice("ssl", "starttls", "none"))
    username: str = opt("", "the IMAP login (required for it)")
    folder: str = opt("INBOX", "the folder read (never changed: read-only, nothing marked read)")
    ca_file: str = opt("", "a CA bundle for the server; empty = the system's")
    timeout: float = opt(30.0, "seconds a connection waits", within(0, 3600, low_included=False))
    poll_every: float = opt(60.0, "seconds between looks for new mail when the server has no IDLE",
                            within(0, 86_400, low_included=False))


@dataclasses.dataclass(frozen=True)
class XSourceSettings(Table):
    NAME = "sources.x"
    enabled: bool = opt(False, "X mentions as a source (cloud); `FTE_X_BEARER_TOKEN`")
    user_id: str | int = opt("", "the account whose mentions are read (its numeric id)", numeric_id)


@dataclasses.dataclass(frozen=True)
class LinkedInSourceSettings(Table):
    NAME = "sources.linkedin"
    enabled: bool = opt(False, "new comments on the LinkedIn page's recent posts as a source (cloud); "
                        "`FTE_LINKEDIN_READ_TOKEN` with `r_organization_social` (docs/channels.md)")
    organization: str = opt("", "the page (`urn:li:organization:<id>`)")
    version: str = opt("202511", "the `LinkedIn-Version` header (YYYYMM)")


@dataclasses.dataclass(frozen=True)
class WhatsAppSourceSettings(Table):
    NAME = "sources.whatsapp"
    enabled: bool = opt(False, "WhatsApp messages from `fte whatsapp serve` (local)")


@dataclasses.dataclass(frozen=True)
class DrafterSettings(Table):
    NAME = "drafter"
    provider: str = opt("template", "`template` (offline, deterministic) or `openai` (any OpenAI-compatible "
                        "endpoint; `OPENAI_API_KEY`)", choice("template", "openai"))
    signature: str = opt("", "how the template drafter signs")
    model: str = opt("", "the `openai` drafter's model (required for it)")
    base_url: str = opt("https://api.openai.com/v1", "the `openai` drafter's endpoint")
    timeout: float = opt(30.0, "seconds the `openai` drafter waits for an answer")
    max_retries: int = opt(2, "retries of a transient `openai` failure within one draft", whole(0, 10))


@dataclasses.dataclass(frozen=True)
class EmailSettings(Table):
    NAME = "executors.email"
    transport: str = opt("maildir", "`maildir` (sent mail delivered to a Maildir), `smtp` or `gmail`",
                         choice("maildir", "smtp", "gmail"))
    path: str = opt("outbox", "the Maildir that the `maildir` transport delivers to")
    from_: str = opt("fte@localhost", "the From address of sent mail (its domain is in the Message-ID)", key="from")
    host: str = opt("", "the `smtp` transport's server (required for it)")
    port: int = opt(587, "the `smtp` server's port", whole(1, 65535))
    security: str = opt("starttls", "`none`, `starttls` or `ssl`", choice("none", "starttls", "ssl"))
    username: str = opt("", "the `smtp` login (password: `FTE_SMTP_PASSWORD`)")
    ca_file: str = opt("", "a CA bundle for the `smtp` server; empty = the system's")
    sent_path: str = opt("sent", "the local Maildir of mail sent by `smtp` (answers \"was this sent?\")")
    timeout: float = opt(30.0, "seconds the `smtp` transport waits")


@dataclasses.dataclass(frozen=True)
class XSettings(Table):
    NAME = "executors.x"
    enabled: bool = opt(False, "replies and posts on X (local); `FTE_X_CONSUMER_KEY/SECRET`, "
                        "`FTE_X_ACCESS_TOKEN/SECRET`")
    user_id: str | int = opt("", "the replying account's numeric id", numeric_id)


@dataclasses.dataclass(frozen=True)
class LinkedInSettings(Table):
    NAME = "executors.linkedin"
    enabled: bool = opt(False, "LinkedIn posts, and (with a page as author) replies to comments (local); "
                        "`FTE_LINKEDIN_TOKEN`")
    author: str = opt("", "the author's URN (`urn:li:person:…` or `urn:li:organization:…`; replies to the page's "
                      "comments need the organization)")
    version: str = opt("202511", "the `LinkedIn-Version` header (YYYYMM)")


@dataclasses.dataclass(frozen=True)
class WhatsAppSettings(Table):
    NAME = "executors.whatsapp"
    enabled: bool = opt(False, "WhatsApp replies through Twilio (local); `FTE_TWILIO_ACCOUNT_SID`, "
                        "`FTE_TWILIO_AUTH_TOKEN`")
    from_: str = opt("", "your Twilio WhatsApp number", key="from")


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


#: Every channel's table, in the order docs/settings.md shows them.
TABLES: tuple[type[Table], ...] = (
    MaildirSourceSettings, GmailSourceSettings, ImapSourceSettings, XSourceSettings, LinkedInSourceSettings, WhatsAppSourceSettings,
    DrafterSettings, EmailSettings, XSettings, LinkedInSettings, WhatsAppSettings, OdooSettings,
)
