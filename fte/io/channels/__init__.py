"""Channels: every source and executor fte can use, declared once (docs/channels.md).

**The contract.** A *source* has a ``name``, an optional ``cursor_name`` and ``poll(cursor) ->
polled`` where ``polled.items`` are new items, ``polled.cursor`` the cursor to store, and
optionally ``polled.notices`` sentences for the person (logged once, when the cursor moves); the daemon
commits the cursor in the same transaction as the tasks it makes, so a crash between the two
re-reads, never loses (the tasks' dedupe on ``(source, source_ref)`` absorbs the re-read). A
spooling source may add ``forget(refs)``. An *executor* (:class:`fte.io.executors.Executor`) has
``kinds``, ``key_for(task)`` (deterministic: the same task, the same key, on every attempt),
``perform(task, key, now)`` (carries the key to the provider where the provider can hold one) and
``lookup(key)`` (found → the provider's id; not found → None, and only when the provider can really
tell; when it cannot, :class:`~fte.io.executors.OutcomeUnknown`). Errors are
:class:`~fte.io.executors.ExecutionError` with ``transient``; the classes per provider are in
docs/channels.md, "Outcomes". A *drafter* is :class:`fte.io.drafters.Drafter`.

**The registry.** :data:`CHANNELS` holds one :class:`Channel` per source or executor: its name, its
part, its settings table, the roles that may run it, the secrets it reads, the task kinds it
executes, when the settings turn it on, and its factory. The daemon builds sources and executors
from it (:func:`build_sources`, :func:`build_executors`), a cloud host's credential refusal is
derived from it (:func:`executor_secrets`), and a test runs every registered channel through the
same contract checks. Adding a channel = its module + one entry here (docs/channels.md shows one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fte.config import home_path, load_env
from fte.errors import BadInput

if TYPE_CHECKING:
    from fte.config import Settings
    from fte.io.executors import Executor

Env = dict[str, str]

CLOUD = frozenset({"cloud", "all"})
LOCAL = frozenset({"local", "all"})


@dataclass(frozen=True)
class Channel:
    """One source or executor. ``build(settings, table, env)`` makes it from its checked settings
    table and the host's secrets; ``enabled(settings, table)`` says whether this host uses it."""

    name: str
    part: str  # "source" | "executor"
    table: str  # its settings table in fte.toml, e.g. "sources.x"
    roles: frozenset[str]  # the roles that may run it
    secrets: tuple[str, ...]  # the environment / .env names it reads
    kinds: tuple[str, ...]  # the task kinds it executes (executors)
    enabled: Callable[[Settings, dict[str, Any]], bool]
    build: Callable[[Settings, dict[str, Any], Env], Any]


def _needs(channel: str, env: Env, names: tuple[str, ...], table: dict[str, Any], keys: tuple[str, ...]) -> None:
    missing = [f"{k} in fte.toml" for k in keys if not table.get(k)] + [n for n in names if not env.get(n)]
    if missing:
        raise BadInput(f"{channel} needs {', '.join(missing)} (secrets in the environment or the home's .env)")


# -- sources ------------------------------------------------------------------------------------------

def _whatsapp_source(settings: Settings, table: dict[str, Any], env: Env) -> Any:
    from fte.io.whatsapp import WhatsAppSource

    return WhatsAppSource(settings.home / "whatsapp")


def _maildir_source(settings: Settings, table: dict[str, Any], env: Env) -> Any:
    from fte.io.maildir_source import MaildirSource

    source = MaildirSource(settings.maildir_path)
    source.cursor_name = f"maildir:{settings.maildir_path}"  # type: ignore[attr-defined]
    return source


def _gmail_source(settings: Settings, table: dict[str, Any], env: Env) -> Any:
    from fte.io.gmail import GmailSource, load_service

    return GmailSource(load_service(settings.home, "read"), query=str(table["query"]), label=str(table["label"]),
                       max_full_sync=int(table["max_full_sync"]))


def _x_source(settings: Settings, table: dict[str, Any], env: Env) -> Any:
    import tweepy

    from fte.io.x import XSource

    _needs("[sources.x]", env, ("FTE_X_BEARER_TOKEN",), table, ("user_id",))
    return XSource(tweepy.Client(bearer_token=env["FTE_X_BEARER_TOKEN"]), str(table["user_id"]))


def _linkedin_comments(settings: Settings, table: dict[str, Any], env: Env) -> Any:
    from fte.io.linkedin import LinkedInCommentsSource

    _needs("[sources.linkedin]", env, ("FTE_LINKEDIN_READ_TOKEN",), table, ("organization",))
    return LinkedInCommentsSource(env["FTE_LINKEDIN_READ_TOKEN"], str(table["organization"]), str(table["version"]))


# -- executors ----------------------------------------------------------------------------------------

def _maildir_outbox(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from fte.io.executors import MaildirOutbox

    return MaildirOutbox(settings.email_path, settings.email_from)


def _smtp(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from fte.io.smtp_executor import SmtpExecutor, SmtpSettings

    _needs("executors.email.transport = 'smtp'", env, (), table, ("host",))
    return SmtpExecutor(SmtpSettings(
        host=str(table["host"]), port=int(table["port"]), security=str(table["security"]),
        username=str(table["username"]), password=env.get("FTE_SMTP_PASSWORD", ""), sender=settings.email_from,
        sent_path=home_path(settings.home, str(table["sent_path"])), ca_file=str(table["ca_file"]),
        timeout=float(table["timeout"])))


def _gmail_sender(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from fte.io.gmail import GmailSender, load_service

    return GmailSender(load_service(settings.home, "send"), settings.email_from)


X_USER_KEYS = ("FTE_X_CONSUMER_KEY", "FTE_X_CONSUMER_SECRET", "FTE_X_ACCESS_TOKEN", "FTE_X_ACCESS_SECRET")


def _x_replier(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    import tweepy

    from fte.io.x import XReplier

    _needs("[executors.x]", env, X_USER_KEYS, table, ("user_id",))
    return XReplier(tweepy.Client(None, *(env[k] for k in X_USER_KEYS)), str(table["user_id"]))


def _x_poster(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    import tweepy

    from fte.io.x import XPoster

    _needs("[executors.x]", env, X_USER_KEYS, table, ("user_id",))
    return XPoster(tweepy.Client(None, *(env[k] for k in X_USER_KEYS)), str(table["user_id"]))


def _linkedin(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from fte.io.linkedin import LinkedInPoster

    _needs("[executors.linkedin]", env, ("FTE_LINKEDIN_TOKEN",), table, ("author",))
    return LinkedInPoster(env["FTE_LINKEDIN_TOKEN"], str(table["author"]), str(table["version"]))


def _linkedin_commenter(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from fte.io.linkedin import LinkedInCommenter

    _needs("[executors.linkedin]", env, ("FTE_LINKEDIN_TOKEN",), table, ("author",))
    return LinkedInCommenter(env["FTE_LINKEDIN_TOKEN"], str(table["author"]), str(table["version"]))


def _as_page(settings: Settings, table: dict[str, Any]) -> bool:
    """Replies to comments are made as the page: only with an organization as the author."""
    return bool(table.get("enabled")) and str(table.get("author", "")).startswith("urn:li:organization:")


def _whatsapp_sender(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from twilio.rest import Client

    from fte.io.whatsapp import WhatsAppSender

    _needs("[executors.whatsapp]", env, ("FTE_TWILIO_ACCOUNT_SID", "FTE_TWILIO_AUTH_TOKEN"), table, ("from",))
    return WhatsAppSender(Client(env["FTE_TWILIO_ACCOUNT_SID"], env["FTE_TWILIO_AUTH_TOKEN"]), str(table["from"]))


def _odoo(settings: Settings, table: dict[str, Any], env: Env) -> Executor:
    from fte.odoo.config import make_client
    from fte.odoo.executor import OdooExecutor

    return OdooExecutor(make_client(settings))


def _odoo_configured(settings: Settings, table: dict[str, Any]) -> bool:
    from fte.odoo.config import configured

    return configured(settings)


def _on(settings: Settings, table: dict[str, Any]) -> bool:
    return bool(table.get("enabled"))


def _always(settings: Settings, table: dict[str, Any]) -> bool:
    return True


def _transport(name: str) -> Callable[[Settings, dict[str, Any]], bool]:
    return lambda settings, table: settings.email_transport == name


ODOO_KINDS = ("odoo.invoice", "odoo.bill", "odoo.entry", "odoo.payment")

#: Every channel, in the order the daemon polls sources and builds executors.
CHANNELS: tuple[Channel, ...] = (
    Channel("whatsapp", "source", "sources.whatsapp", LOCAL, (), (), _on, _whatsapp_source),
    Channel("maildir", "source", "sources.maildir", CLOUD, (), (), _always, _maildir_source),
    Channel("gmail", "source", "sources.gmail", CLOUD, (), (), _on, _gmail_source),
    Channel("x", "source", "sources.x", CLOUD, ("FTE_X_BEARER_TOKEN",), (), _on, _x_source),
    Channel("linkedin", "source", "sources.linkedin", CLOUD, ("FTE_LINKEDIN_READ_TOKEN",), (), _on,
            _linkedin_comments),
    Channel("maildir", "executor", "executors.email", LOCAL, (), ("email.reply",), _transport("maildir"),
            _maildir_outbox),
    Channel("smtp", "executor", "executors.email", LOCAL, ("FTE_SMTP_PASSWORD",), ("email.reply",),
            _transport("smtp"), _smtp),
    Channel("gmail", "executor", "executors.email", LOCAL, ("FTE_GMAIL_SEND_TOKEN",), ("email.reply",),
            _transport("gmail"), _gmail_sender),
    Channel("x", "executor", "executors.x", LOCAL, X_USER_KEYS, ("x.reply",), _on, _x_replier),
    Channel("x-posts", "executor", "executors.x", LOCAL, X_USER_KEYS, ("x.post",), _on, _x_poster),
    Channel("linkedin", "executor", "executors.linkedin", LOCAL, ("FTE_LINKEDIN_TOKEN",), ("linkedin.post",), _on,
            _linkedin),
    Channel("linkedin-comments", "executor", "executors.linkedin", LOCAL, ("FTE_LINKEDIN_TOKEN",),
            ("linkedin.comment",), _as_page, _linkedin_commenter),
    Channel("odoo", "executor", "odoo", LOCAL, ("FTE_ODOO_API_KEY", "FTE_ODOO_PASSWORD"), ODOO_KINDS,
            _odoo_configured, _odoo),
    Channel("whatsapp", "executor", "executors.whatsapp", LOCAL, ("FTE_TWILIO_ACCOUNT_SID", "FTE_TWILIO_AUTH_TOKEN"),
            ("whatsapp.reply",), _on, _whatsapp_sender),
)


def executor_secrets() -> tuple[str, ...]:
    """Every secret an executor reads: the powers a cloud host must not hold."""
    return tuple(dict.fromkeys(s for c in CHANNELS if c.part == "executor" for s in c.secrets))


def _enabled(settings: Settings, part: str) -> list[tuple[Channel, dict[str, Any]]]:
    chosen = []
    for channel in CHANNELS:
        if channel.part != part or settings.role not in channel.roles:
            continue
        table = settings.section(channel.table)
        if channel.enabled(settings, table):
            chosen.append((channel, table))
    return chosen


def build_sources(settings: Settings) -> list[Any]:
    """The sources this host reads (the registry's, for its role and settings)."""
    env = load_env(settings.home)
    return [channel.build(settings, table, env) for channel, table in _enabled(settings, "source")]


def build_executors(settings: Settings) -> dict[str, Executor]:
    """The executors this host's settings and secrets configure, by task kind."""
    env = load_env(settings.home)
    executors: dict[str, Executor] = {}
    for channel, table in _enabled(settings, "executor"):
        executor = channel.build(settings, table, env)
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
