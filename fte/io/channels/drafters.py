"""The ``template`` drafter: offline and deterministic (the contract: fte.io.channels.contract)."""

from __future__ import annotations

from email.utils import parseaddr

from fte.io.channels.contract import Draft
from fte.io.channels.kinds import kind
from fte.io.channels.style import Style, apply
from fte.models.tables import Task

#: The drafts the template drafter writes; each kind names one (``Kind.template``, kinds.py).
TEMPLATES = ("letter", "chat", "comment-thanks", "as-written", "summary")


class TemplateDrafter:
    """A polite acknowledgement, the same every time for the same input."""

    name = "template"

    def __init__(self, signature: str = "") -> None:
        self.signature = signature

    def draft(self, task: Task, handbook: str = "", style: Style | None = None) -> Draft:
        params = dict(task.params or {})
        declared = kind(task.kind)
        template = declared.template if declared is not None else "letter"  # the kind's draft (kinds.py)
        if template == "chat":
            who = str(params.get(declared.recipient or "to", "")) if declared else ""
            greeting = f"{who} " if who.startswith("@") else ""
            return Draft(body=f"{greeting}Thanks for your message! We will get back to you shortly.", params=params)
        if template == "comment-thanks":
            return Draft(body="Thank you for your comment! We appreciate you taking the time to share it.",
                         params=params)
        if template == "as-written":
            return Draft(body=task.body or task.original or task.title, params=params)
        if template == "summary":
            from fte.odoo.summary import summary

            return Draft(body=summary(declared.action if declared else task.kind, params), params=params)
        first = greeting_name(task.original or "", str(params.get("to", "")))
        subject = task.title or "your message"
        sign = self.signature or handbook_signature(handbook) or "the team"
        body = (
            f"Hello {first},\n\n"
            f"Thank you for your message about \"{subject}\". I have received it and will come back to you "
            f"with a full answer shortly.\n\n"
            f"Best regards,\n{sign}\n"
        )
        if style is not None and style.learned:
            # What the person changed the same way often enough for this recipient (or domain): the
            # note says where it came from, so they can see it and undo it (fte style forget).
            body = apply(style.learned, body, first)
            params["style"] = style.learned.provenance()
        return Draft(body=body, params=params)


def greeting_name(original: str, to: str) -> str:
    """Whom to greet: the first word of the sender's display name as they wrote it (``Chloé``),
    else the address's local part when it reads as a name (``dana.lee`` → ``Dana``), else "there"."""
    first_line = original.split("\n", 1)[0]
    if first_line.startswith("From:"):
        name = parseaddr(first_line[5:].strip())[0].strip().strip('"')
        word = name.split()[0] if name.split() else ""
        if "," in name:  # "Lee, Dana"
            word = name.split(",", 1)[1].split()[0] if name.split(",", 1)[1].split() else word
        if word and any(c.isalpha() for c in word) and "@" not in word:
            return word.strip(",")
    local = to.split("@", 1)[0].split(".")[0].split("_")[0] if "@" in to else ""
    if local.isalpha() and len(local) > 1:
        return local.capitalize()
    return "there"


def handbook_signature(handbook: str) -> str:
    """How replies are signed, from the handbook's ``owner`` property (its first word, as the
    handbook's tone rule asks), or "" when the handbook names no one."""
    if not handbook.startswith("---\n"):
        return ""
    head = handbook[4:].split("\n---", 1)[0]
    for line in head.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "owner":
            words = value.strip().strip("'\"").split()
            return words[0] if words else ""
    return ""
