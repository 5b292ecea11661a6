"""What the style memory learned from the person's edits, and forgetting it (docs/style.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fte.errors import BadInput
from fte.host.home import open_home
from fte.io.channels.style import WINDOW, learn, who


def show(home: Path, recipient: str | None = None) -> list[dict[str, Any]]:
    """For each recipient (or the one given): the examples held, how many the person edited, and
    what was learned from them (greeting, sign-off, lines removed and added, from which tasks)."""
    from fte.io.channels.style import Example

    with open_home(home, repair=False) as h:
        held = dict(h.store.style_recipients())
        wanted = [who(recipient)[0]] if recipient else list(held)
        out = []
        for address in wanted:
            rows = h.store.style_examples(recipient=address, limit=WINDOW)
            if not rows and recipient:
                raise BadInput(f"nothing learned for {recipient!r} (fte style show lists who)")
            examples = [Example(r.task_id, r.proposed, r.sent or "") for r in rows]
            learned = learn(examples, address)
            out.append({
                "recipient": address,
                "examples": held.get(address, 0),
                "edited": sum(1 for e in examples if e.proposed != e.sent),
                "greeting": learned.greeting, "signoff": learned.signoff,
                "removed": list(learned.removed), "added": list(learned.added),
                "from_tasks": list(learned.from_tasks),
            })
    return out


def forget(home: Path, recipient: str | None) -> int:
    """Remove the examples of ``recipient`` (None: all of them); how many went. Drafts made later
    learn again from what the person edits from then on."""
    with open_home(home, repair=False) as h:
        return h.store.forget_style(who(recipient)[0] if recipient else None)
