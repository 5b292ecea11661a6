"""The channel registry: every source and executor fte can use, declared once (docs/channels.md).

:data:`CHANNELS` holds one :class:`Channel` per source or executor: its name, its part, its
settings table, the roles that may run it, the secrets it reads, the task kinds it executes, when
the settings turn it on, and its factory. What each must guarantee is the contract in
:mod:`fte.io.channels.contract`. The daemon builds sources and executors from the registry
(:func:`build_sources`, :func:`build_executors`), a cloud host's credential refusal is derived from
it (:func:`executor_secrets`), and a test runs every registered channel through the same contract
checks. Adding a channel = its module + one entry here: its settings table (a typed dataclass,
from which its rows of docs/settings.md and their checks derive), its factory and its row in
:data:`CHANNELS` (docs/channels.md shows one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fte.errors import BadInput
from fte.io.channels import kinds
from fte.settings.checks import choice, mail_address, numeric_id, text_block, whole, within
from fte.settings.env import home_path, load_env
from fte.settings.tables import OdooSettings, Table, opt

if TYPE_CHECKING:
    from fte.config import Settings
    from fte.io.channels.contract import Drafter, Executor, Source

Env = dict[str, str]

CLOUD = frozenset({"cloud", "all"})
LOCAL = frozenset({"local", "all"})
ANY = frozenset({"cloud", "local", "all"})
PARTS = ("source", "executor", "drafter")


@dataclass(frozen=True)
class Channel:
    """One source, executor or drafter. ``build(settings, cfg, env)`` makes it from its settings
    table parsed into its dataclass (``cfg``) and the host's secrets; ``enabled(settings, cfg)``
    says whether this host uses it."""

    name: str
    part: str  # one of PARTS
    settings: type[Table]  # its settings table in fte.toml, typed (declared here, beside its factory)
    roles: frozenset[str]  # the roles that may run it
    secrets: tuple[str, ...]  # the environment / .env names it reads
    kinds: tuple[str, ...]  # the task kinds it executes (executors)
    enabled: Callable[[Settings, Any], bool]
    build: Callable[[Settings, Any, Env], Any]

    @property
    def table(self) -> str:
        return self.settings.NAME


def _needs(channel: str, env: Env, names: tuple[str, ...], cfg: Table, keys: tuple[str, ...]) -> None:
    missing = [f"{k.rstrip('_')} in fte.toml" for k in keys if not getattr(cfg, k)] + [n for n in names if not env.get(n)]
    if missing:
        raise BadInput(f"{channel} needs {', '.join(missing)} (secrets in the environment or the home's .env)")


# -- sources ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaildirSourceSettings(Table):
    NAME = "sources.maildir"
    path: str = opt("inbox", "a Maildir folder of incoming mail (relative to the home, or absolute). Whatever "
                    "fills it must deliver as Maildir says — write in `tmp/`, then rename into `new/` (mbsync, "
                    "offlineimap, fdm and procmail do): a file written in place in `new/` can be read half-written")


@dataclass(frozen=True)
class GmailSourceSettings(Table):
    NAME = "sources.gmail"
    enabled: bool = opt(False, "Gmail as a source (cloud); token: `fte auth gmail`")
    query: str = opt("in:inbox", "which messages are read")
    label: str = opt("INBOX", "the label whose history is followed")
    max_full_sync: int = opt(100, "messages read at most when the stored history id expired", whole(1))


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class XSourceSettings(Table):
    NAME = "sources.x"
    enabled: bool = opt(False, "X mentions as a source (cloud); `FTE_X_BEARER_TOKEN`")
    user_id: str | int = opt("", "the account whose mentions are read (its numeric id)", numeric_id)


@dataclass(frozen=True)
class LinkedInSourceSettings(Table):
    NAME = "sources.linkedin"
    enabled: bool = opt(False, "new comments on the LinkedIn page's recent posts as a source (cloud); "
                        "`FTE_LINKEDIN_READ_TOKEN` with `r_organization_social` (docs/channels.md)")
    organization: str = opt("", "the page (`urn:li:organization:<id>`)")
    version: str = opt("202511", "the `LinkedIn-Version` header (YYYYMM)")


@dataclass(frozen=True)
class WhatsAppSourceSettings(Table):
    NAME = "sources.whatsapp"
    enabled: bool = opt(False, "WhatsApp messages from `fte whatsapp serve` (local)")


def _whatsapp_source(settings: Settings, cfg: WhatsAppSourceSettings, env: Env) -> Source:
    from fte.io.channels.whatsapp import WhatsAppSource

    return WhatsAppSource(settings.home / "whatsapp")


def _maildir_source(settings: Settings, cfg: MaildirSourceSettings, env: Env) -> Source:
    from fte.io.channels.maildir import MaildirSource

    path = home_path(settings.home, cfg.path)
    source = MaildirSource(path)
    source.cursor_name = f"maildir:{path}"  # type: ignore[attr-defined]
    return source


def _gmail_source(settings: Settings, cfg: GmailSourceSettings, env: Env) -> Source:
    from fte.io.channels.gmail import GmailSource, load_service

    return GmailSource(load_service(settings.home, "read"), query=cfg.query, label=cfg.label,
                       max_full_sync=cfg.max_full_sync)


def _imap_source(settings: Settings, cfg: ImapSourceSettings, env: Env) -> Source:
    from fte.io.channels.imap import ImapAccount, ImapSource

    _needs("[sources.imap]", env, ("FTE_IMAP_PASSWORD",), cfg, ("host", "username"))
    return ImapSource(ImapAccount(cfg.host, cfg.port, cfg.security, cfg.username, env["FTE_IMAP_PASSWORD"],
                                  cfg.folder, cfg.ca_file, cfg.timeout), cfg.poll_every)


def _x_source(settings: Settings, cfg: XSourceSettings, env: Env) -> Source:
    import tweepy

    from fte.io.channels.x import XSource

    _needs("[sources.x]", env, ("FTE_X_BEARER_TOKEN",), cfg, ("user_id",))
    return XSource(tweepy.Client(bearer_token=env["FTE_X_BEARER_TOKEN"]), str(cfg.user_id))


def _linkedin_comments(settings: Settings, cfg: LinkedInSourceSettings, env: Env) -> Source:
    from fte.io.channels.linkedin import LinkedInCommentsSource

    _needs("[sources.linkedin]", env, ("FTE_LINKEDIN_READ_TOKEN",), cfg, ("organization",))
    return LinkedInCommentsSource(env["FTE_LINKEDIN_READ_TOKEN"], cfg.organization, cfg.version)


# -- drafters -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DrafterSettings(Table):
    NAME = "drafter"
    provider: str = opt("template", "`template` (offline, deterministic) or `openai` (any OpenAI-compatible "
                        "endpoint; `OPENAI_API_KEY`)", choice("template", "openai"))
    signature: str = opt("", "how the template drafter signs (may span lines)", text_block)
    model: str = opt("", "the `openai` drafter's model (required for it)")
    base_url: str = opt("https://api.openai.com/v1", "the `openai` drafter's endpoint")
    timeout: float = opt(30.0, "seconds the `openai` drafter waits for an answer")
    max_retries: int = opt(2, "retries of a transient `openai` failure within one draft", whole(0, 10))


def _template(settings: Settings, cfg: DrafterSettings, env: Env) -> Drafter:
    from fte.io.channels.drafters import TemplateDrafter

    return TemplateDrafter(cfg.signature)


def _openai(settings: Settings, cfg: DrafterSettings, env: Env) -> Drafter:
    from fte.io.channels.openai_drafter import OpenAIDrafter

    if not cfg.model:
        raise BadInput("drafter.provider = 'openai' needs drafter.model")
    return OpenAIDrafter(api_key=env.get("OPENAI_API_KEY", ""), model=cfg.model, base_url=cfg.base_url,
                         timeout=cfg.timeout, max_retries=cfg.max_retries)


def _provider(name: str) -> Callable[[Settings, DrafterSettings], bool]:
    return lambda settings, cfg: cfg.provider == name


# -- executors ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmailSettings(Table):
    NAME = "executors.email"
    transport: str = opt("maildir", "`maildir` (sent mail delivered to a Maildir), `smtp` or `gmail`",
                         choice("maildir", "smtp", "gmail"))
    path: str = opt("outbox", "the Maildir that the `maildir` transport delivers to")
    from_: str = opt("fte@localhost", "the From address of sent mail (its domain is in the Message-ID)", mail_address,
                     key="from")
    host: str = opt("", "the `smtp` transport's server (required for it)")
    port: int = opt(587, "the `smtp` server's port", whole(1, 65535))
    security: str = opt("starttls", "`none`, `starttls` or `ssl`", choice("none", "starttls", "ssl"))
    username: str = opt("", "the `smtp` login (password: `FTE_SMTP_PASSWORD`)")
    ca_file: str = opt("", "a CA bundle for the `smtp` server; empty = the system's")
    sent_path: str = opt("sent", "the local Maildir of mail sent by `smtp` (answers \"was this sent?\")")
    timeout: float = opt(30.0, "seconds the `smtp` transport waits")


@dataclass(frozen=True)
class XSettings(Table):
    NAME = "executors.x"
    enabled: bool = opt(False, "replies and posts on X (local); `FTE_X_CONSUMER_KEY/SECRET`, "
                        "`FTE_X_ACCESS_TOKEN/SECRET`")
    user_id: str | int = opt("", "the replying account's numeric id", numeric_id)


@dataclass(frozen=True)
class LinkedInSettings(Table):
    NAME = "executors.linkedin"
    enabled: bool = opt(False, "LinkedIn posts, and (with a page as author) replies to comments (local); "
                        "`FTE_LINKEDIN_TOKEN`")
    author: str = opt("", "the author's URN (`urn:li:person:…` or `urn:li:organization:…`; replies to the page's "
                      "comments need the organization)")
    version: str = opt("202511", "the `LinkedIn-Version` header (YYYYMM)")


@dataclass(frozen=True)
class WhatsAppSettings(Table):
    NAME = "executors.whatsapp"
    enabled: bool = opt(False, "WhatsApp replies through Twilio (local); `FTE_TWILIO_ACCOUNT_SID`, "
                        "`FTE_TWILIO_AUTH_TOKEN`")
    from_: str = opt("", "your Twilio WhatsApp number", key="from")


def _maildir_outbox(settings: Settings, cfg: EmailSettings, env: Env) -> Executor:
    from fte.io.channels.maildir import MaildirOutbox

    return MaildirOutbox(home_path(settings.home, cfg.path), cfg.from_)


def _smtp(settings: Settings, cfg: EmailSettings, env: Env) -> Executor:
    from fte.io.channels.smtp import SmtpExecutor, SmtpSettings

    _needs("executors.email.transport = 'smtp'", env, (), cfg, ("host",))
    return SmtpExecutor(SmtpSettings(
        host=cfg.host, port=cfg.port, security=cfg.security, username=cfg.username,
        password=env.get("FTE_SMTP_PASSWORD", ""), sender=cfg.from_,
        sent_path=home_path(settings.home, cfg.sent_path), ca_file=cfg.ca_file, timeout=cfg.timeout))


def _gmail_sender(settings: Settings, cfg: EmailSettings, env: Env) -> Executor:
    from fte.io.channels.gmail import GmailSender, load_service

    return GmailSender(load_service(settings.home, "send"), cfg.from_)


X_USER_KEYS = ("FTE_X_CONSUMER_KEY", "FTE_X_CONSUMER_SECRET", "FTE_X_ACCESS_TOKEN", "FTE_X_ACCESS_SECRET")


def _x_replier(settings: Settings, cfg: XSettings, env: Env) -> Executor:
    import tweepy

    from fte.io.channels.x import XReplier

    _needs("[executors.x]", env, X_USER_KEYS, cfg, ("user_id",))
    return XReplier(tweepy.Client(None, *(env[k] for k in X_USER_KEYS)), str(cfg.user_id))


def _x_poster(settings: Settings, cfg: XSettings, env: Env) -> Executor:
    import tweepy

    from fte.io.channels.x import XPoster

    _needs("[executors.x]", env, X_USER_KEYS, cfg, ("user_id",))
    return XPoster(tweepy.Client(None, *(env[k] for k in X_USER_KEYS)), str(cfg.user_id))


def _linkedin(settings: Settings, cfg: LinkedInSettings, env: Env) -> Executor:
    from fte.io.channels.linkedin import LinkedInPoster

    _needs("[executors.linkedin]", env, ("FTE_LINKEDIN_TOKEN",), cfg, ("author",))
    return LinkedInPoster(env["FTE_LINKEDIN_TOKEN"], cfg.author, cfg.version)


def _linkedin_commenter(settings: Settings, cfg: LinkedInSettings, env: Env) -> Executor:
    from fte.io.channels.linkedin import LinkedInCommenter

    _needs("[executors.linkedin]", env, ("FTE_LINKEDIN_TOKEN",), cfg, ("author",))
    return LinkedInCommenter(env["FTE_LINKEDIN_TOKEN"], cfg.author, cfg.version)


def _as_page(settings: Settings, cfg: LinkedInSettings) -> bool:
    """Replies to comments are made as the page: only with an organization as the author."""
    return cfg.enabled and cfg.author.startswith("urn:li:organization:")


def _whatsapp_sender(settings: Settings, cfg: WhatsAppSettings, env: Env) -> Executor:
    from twilio.rest import Client

    from fte.io.channels.whatsapp import WhatsAppSender

    _needs("[executors.whatsapp]", env, ("FTE_TWILIO_ACCOUNT_SID", "FTE_TWILIO_AUTH_TOKEN"), cfg, ("from_",))
    return WhatsAppSender(Client(env["FTE_TWILIO_ACCOUNT_SID"], env["FTE_TWILIO_AUTH_TOKEN"]), cfg.from_)


def _odoo(settings: Settings, cfg: OdooSettings, env: Env) -> Executor:
    from fte.io.channels.odoo import OdooExecutor
    from fte.odoo.config import make_client

    return OdooExecutor(make_client(settings))


def _odoo_configured(settings: Settings, cfg: OdooSettings) -> bool:
    return bool(cfg.url)


def _on(settings: Settings, cfg: Any) -> bool:
    return bool(cfg.enabled)


def _always(settings: Settings, cfg: Any) -> bool:
    return True


def _transport(name: str) -> Callable[[Settings, EmailSettings], bool]:
    return lambda settings, cfg: cfg.transport == name


ODOO_KINDS = tuple(sorted(kinds.ACCOUNTING, key=kinds.NAMES.index))
TWILIO_KEYS = ("FTE_TWILIO_ACCOUNT_SID", "FTE_TWILIO_AUTH_TOKEN")

#: Every channel, in the order the daemon polls sources and builds executors.
CHANNELS: tuple[Channel, ...] = (
    Channel("whatsapp", "source", WhatsAppSourceSettings, LOCAL, (), (), _on, _whatsapp_source),
    Channel("maildir", "source", MaildirSourceSettings, CLOUD, (), (), _always, _maildir_source),
    Channel("gmail", "source", GmailSourceSettings, CLOUD, (), (), _on, _gmail_source),
    Channel("imap", "source", ImapSourceSettings, CLOUD, ("FTE_IMAP_PASSWORD",), (), _on, _imap_source),
    Channel("x", "source", XSourceSettings, CLOUD, ("FTE_X_BEARER_TOKEN",), (), _on, _x_source),
    Channel("linkedin", "source", LinkedInSourceSettings, CLOUD, ("FTE_LINKEDIN_READ_TOKEN",), (), _on,
            _linkedin_comments),
    Channel("template", "drafter", DrafterSettings, ANY, (), (), _provider("template"), _template),
    Channel("openai", "drafter", DrafterSettings, ANY, ("OPENAI_API_KEY",), (), _provider("openai"), _openai),
    Channel("maildir", "executor", EmailSettings, LOCAL, (), (kinds.EMAIL_REPLY.name,), _transport("maildir"),
            _maildir_outbox),
    Channel("smtp", "executor", EmailSettings, LOCAL, ("FTE_SMTP_PASSWORD",), (kinds.EMAIL_REPLY.name,),
            _transport("smtp"), _smtp),
    Channel("gmail", "executor", EmailSettings, LOCAL, ("FTE_GMAIL_SEND_TOKEN",), (kinds.EMAIL_REPLY.name,),
            _transport("gmail"), _gmail_sender),
    Channel("x", "executor", XSettings, LOCAL, X_USER_KEYS, (kinds.X_REPLY.name,), _on, _x_replier),
    Channel("x-posts", "executor", XSettings, LOCAL, X_USER_KEYS, (kinds.X_POST.name,), _on, _x_poster),
    Channel("linkedin", "executor", LinkedInSettings, LOCAL, ("FTE_LINKEDIN_TOKEN",), (kinds.LINKEDIN_POST.name,), _on,
            _linkedin),
    Channel("linkedin-comments", "executor", LinkedInSettings, LOCAL, ("FTE_LINKEDIN_TOKEN",),
            (kinds.LINKEDIN_COMMENT.name,), _as_page, _linkedin_commenter),
    Channel("odoo", "executor", OdooSettings, LOCAL, ("FTE_ODOO_API_KEY", "FTE_ODOO_PASSWORD"), ODOO_KINDS,
            _odoo_configured, _odoo),
    Channel("whatsapp", "executor", WhatsAppSettings, LOCAL, TWILIO_KEYS, (kinds.WHATSAPP_REPLY.name,), _on,
            _whatsapp_sender),
)

#: Every channel's settings table, once, in the registry's order (docs/settings.md shows them so).
TABLES: tuple[type[Table], ...] = tuple(dict.fromkeys(c.settings for c in CHANNELS))


#: Sources whose tasks a local host drafts itself: the sources that run only on a local host (the
#: WhatsApp webhook beside the person) and the front ends (``fte post``, ``fte mcp``).
LOCAL_SOURCES: frozenset[str] = frozenset(
    c.name for c in CHANNELS if c.part == "source" and "cloud" not in c.roles) | kinds.FRONT_ENDS


def executor_secrets() -> tuple[str, ...]:
    """Every secret an executor reads: the powers a cloud host must not hold."""
    return tuple(dict.fromkeys(s for c in CHANNELS if c.part == "executor" for s in c.secrets))


def _enabled(settings: Settings, part: str) -> list[tuple[Channel, Table]]:
    chosen = []
    for channel in CHANNELS:
        if channel.part != part or settings.role not in channel.roles:
            continue
        cfg = settings.table(channel.settings)
        if channel.enabled(settings, cfg):
            chosen.append((channel, cfg))
    return chosen


def maildirs(settings: Settings) -> tuple[Path, Path]:
    """The Maildir the ``maildir`` source reads and the one the ``maildir`` transport delivers to,
    resolved against the home (made by ``fte init``; the source's ``new/`` wakes the loop)."""
    return (home_path(settings.home, settings.table(MaildirSourceSettings).path),
            home_path(settings.home, settings.table(EmailSettings).path))


def build_sources(settings: Settings) -> list[Source]:
    """The sources this host reads (the registry's, for its role and settings)."""
    env = load_env(settings.home)
    return [channel.build(settings, cfg, env) for channel, cfg in _enabled(settings, "source")]


def build_drafter(settings: Settings) -> Drafter:
    """The drafter the settings name (``[drafter] provider``)."""
    [(channel, cfg)] = _enabled(settings, "drafter")  # exactly one: provider is a checked choice
    drafter: Drafter = channel.build(settings, cfg, load_env(settings.home))
    return drafter


def build_executors(settings: Settings) -> dict[str, Executor]:
    """The executors this host's settings and secrets configure, by task kind."""
    env = load_env(settings.home)
    executors: dict[str, Executor] = {}
    for channel, cfg in _enabled(settings, "executor"):
        executor = channel.build(settings, cfg, env)
        executors.update({kind: executor for kind in channel.kinds})
    return executors


def markdown() -> str:
    """The registry as a Markdown table (docs/channels.md holds it between ``<!-- registry -->``
    markers; ``python -m fte.io.channels`` prints it, and a test keeps the docs in step)."""
    rows = ["| channel | part | settings | roles | secrets | kinds |", "|---|---|---|---|---|---|"]
    for c in CHANNELS:
        rows.append(f"| {c.name} | {c.part} | `[{c.table}]` | {', '.join(sorted(c.roles))} | "
                    f"{', '.join(f'`{s}`' for s in c.secrets) or '—'} | {', '.join(f'`{k}`' for k in c.kinds) or '—'} |")
    return "\n".join(rows) + "\n"
