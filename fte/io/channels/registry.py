"""The channel registry: every source and executor fte can use, declared once (docs/channels.md).

:data:`CHANNELS` holds one :class:`Channel` per source or executor: its name, its part, its
settings table, the roles that may run it, the secrets it reads, the task kinds it executes, when
the settings turn it on, and its factory. What each must guarantee is the contract in
:mod:`fte.io.channels.contract`. The daemon builds sources and executors from the registry
(:func:`build_sources`, :func:`build_executors`), a cloud host's credential refusal is derived from
it (:func:`executor_secrets`), and a test runs every registered channel through the same contract
checks. Adding a channel = its module + one entry here (docs/channels.md shows one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fte.config import home_path, load_env
from fte.errors import BadInput
from fte.io.channels import kinds
from fte.settings.tables import (
    DrafterSettings,
    EmailSettings,
    GmailSourceSettings,
    ImapSourceSettings,
    LinkedInSettings,
    LinkedInSourceSettings,
    MaildirSourceSettings,
    OdooSettings,
    Table,
    WhatsAppSettings,
    WhatsAppSourceSettings,
    XSettings,
    XSourceSettings,
)

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
    settings: type[Table]  # its settings table in fte.toml, typed (fte/settings/tables.py)
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
        cfg = channel.settings.parse(settings.section(channel.table))
        if channel.enabled(settings, cfg):
            chosen.append((channel, cfg))
    return chosen


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
