"""Every task kind, declared once, beside its channel, as data (docs/channels.md, "Kinds").

A :class:`Kind` says what a task of that kind carries and how fte treats it: its parameters (shown
as properties of their own in the note), the parameter that must hold exactly one recipient (an
*addressed* kind: an answer cannot be approved without one), whether a failure may be tried again,
its default expiry and rate limit, which draft the offline template drafter writes for it, and
whether the configured drafter (an LLM) writes it or always the template. Everything else derives
from :data:`KINDS`: the settings' ``[limits]`` and ``[expiry]`` keys and defaults
(``fte.settings.spec``), the note's parameter properties (``fte.io.vault.properties``), the
approval guard's addressed kinds (``fte.states.reconcile``), what is never retried
(``fte.states.execution``), the template drafter's branches (``fte.io.channels.drafters``) and
intake's choice of drafter (``fte.tick.intake``). No module outside ``fte/io/channels/`` names a
kind literally (tests/test_kinds.py reads the source to hold that).

This module is plain data on purpose: reading ``fte.toml`` imports it, and nothing here imports a
channel, a client library or the database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of task: ``<channel>.<action>`` (the channel is the vault's sub-folder)."""

    name: str
    params: tuple[str, ...] = ()  # its parameters, shown as properties of their own
    recipient: str | None = None  # the parameter holding the one address an answer goes to
    retry: bool = True  # False: a failure needs a fresh approval (never replayed as it was)
    expiry_hours: float | None = None  # hours it waits for a decision by default (None: [expiry] default)
    rate_limit: int | None = None  # most executions started per hour by default (None: no limit)
    template: str = "letter"  # the template drafter's draft: letter | chat | comment-thanks | as-written | summary
    llm: bool = True  # the configured drafter writes it (False: always the offline template)

    @property
    def channel(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def action(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def addressed(self) -> bool:
        return self.recipient is not None


_ODOO_MOVE = ("partner", "partner_email", "invoice_date", "due_date", "create_partner", "requested_in", "lines")

# -- email (sources: maildir, gmail; executors: maildir, smtp, gmail) ----------------------------------
EMAIL_REPLY = Kind("email.reply", ("to", "subject", "in_reply_to", "references", "thread_id", "suggested_action", "style"),
                   recipient="to", expiry_hours=72, rate_limit=10)
# -- x -------------------------------------------------------------------------------------------------
X_REPLY = Kind("x.reply", ("to", "in_reply_to_tweet_id"), recipient="to", template="chat")
X_POST = Kind("x.post", template="as-written")
# -- whatsapp -----------------------------------------------------------------------------------------
WHATSAPP_REPLY = Kind("whatsapp.reply", ("to",), recipient="to", template="chat")
# -- linkedin -----------------------------------------------------------------------------------------
LINKEDIN_POST = Kind("linkedin.post", template="as-written", llm=False)
LINKEDIN_COMMENT = Kind("linkedin.comment", ("post", "parent_comment", "commenter"), template="comment-thanks",
                        llm=False)
# -- odoo (accounting: the summary of what will be booked is the draft) -------------------------------
ODOO_INVOICE = Kind("odoo.invoice", _ODOO_MOVE, template="summary", llm=False)
ODOO_BILL = Kind("odoo.bill", _ODOO_MOVE, template="summary", llm=False)
ODOO_ENTRY = Kind("odoo.entry", ("date", "lines"), template="summary", llm=False)
ODOO_PAYMENT = Kind("odoo.payment", ("invoice", "amount", "date"), retry=False, expiry_hours=24, rate_limit=3,
                    template="summary", llm=False)

#: Every kind, in the order the docs list them.
KINDS: tuple[Kind, ...] = (EMAIL_REPLY, X_REPLY, X_POST, WHATSAPP_REPLY, LINKEDIN_POST, LINKEDIN_COMMENT,
                           ODOO_INVOICE, ODOO_BILL, ODOO_ENTRY, ODOO_PAYMENT)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
#: The names, for settings keys and validation.
NAMES: tuple[str, ...] = tuple(BY_NAME)
#: Kinds that must carry one recipient before they can be approved.
ADDRESSED: frozenset[str] = frozenset(k.name for k in KINDS if k.addressed)
#: Kinds whose failure is never retried or replayed as it was (a payment needs a fresh approval).
NEVER_RETRY: frozenset[str] = frozenset(k.name for k in KINDS if not k.retry)
#: The accounting kinds (Odoo moves), whose parameters are checked by ``fte.odoo.validate``.
ACCOUNTING: frozenset[str] = frozenset(k.name for k in KINDS if k.channel == "odoo")
#: Task sources that are front ends on a local host (a local host drafts what they bring).
FRONT_ENDS: frozenset[str] = frozenset({"cli", "mcp"})


def kind(name: str) -> Kind | None:
    """The declared kind of that name, or None (a pulled note may name anything)."""
    return BY_NAME.get(name)
