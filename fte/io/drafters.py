"""Drafters: turn a detected task into a draft. ``template`` is offline and deterministic.

A drafter only ever produces text and parameters for a person to approve: whatever a message says,
it cannot move a task past ``drafted`` (approval is a person's move on a local host).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from fte.errors import FteError
from fte.models.tables import Task


class DraftError(FteError):
    """The drafter could not draft. ``transient``: try again at a later tick (a timeout, a 429, a 5xx)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Draft:
    body: str
    params: dict[str, Any] = field(default_factory=dict)
    action: str = "reply"  # reply | ignore | invoice_request
    reason: str = ""


class Drafter(Protocol):
    name: str

    def draft(self, task: Task, handbook: str) -> Draft: ...


class TemplateDrafter:
    """A polite acknowledgement, the same every time for the same input."""

    name = "template"

    def __init__(self, signature: str = "") -> None:
        self.signature = signature

    def draft(self, task: Task, handbook: str = "") -> Draft:
        params = dict(task.params or {})
        if task.kind in ("x.reply", "whatsapp.reply"):
            who = str(params.get("to", ""))
            greeting = f"{who} " if who.startswith("@") else ""
            return Draft(body=f"{greeting}Thanks for your message! We will get back to you shortly.", params=params)
        if task.kind == "linkedin.post":
            return Draft(body=task.body or task.original or task.title, params=params)
        if task.kind.startswith("odoo."):
            from fte.odoo.summary import summary

            return Draft(body=summary(task.kind, params), params=params)
        to = str(params.get("to", ""))
        first = to.split("@", 1)[0].split(".")[0].capitalize() if to else "there"
        subject = task.title or "your message"
        sign = self.signature or "the team"
        body = (
            f"Hello {first},\n\n"
            f"Thank you for your message about \"{subject}\". I have received it and will come back to you "
            f"with a full answer shortly.\n\n"
            f"Best regards,\n{sign}\n"
        )
        return Draft(body=body, params=params)
