"""The style memory: what the person's edits of drafts teach the drafters (docs/style.md).

Every reply task whose draft the person edited before it was sent leaves an example — the draft as
proposed and the text as sent — per recipient and sender domain (``style_examples``, filled by the
transition service when a task is edited and when it is done). From the examples of one recipient
(else of their domain) :func:`learn` takes what the person changed **the same way at least
THRESHOLD times, the last time included**: the greeting line, the sign-off (the last paragraph), and
lines they always remove or always add. The template drafter applies it; the ``openai`` drafter
is shown the last examples themselves (:attr:`Style.examples`). Everything here is plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

#: The same change made this many times (the most recent included) is learned.
THRESHOLD = 3
#: The most recent examples looked at, per recipient or domain.
WINDOW = 50
#: The examples an LLM drafter is shown, and their size in all.
PROMPT_EXAMPLES = 3
PROMPT_BUDGET = 6_000
NAME = "{name}"


@dataclass(frozen=True)
class Example:
    task_id: str
    proposed: str
    sent: str


@dataclass(frozen=True)
class Learned:
    """What a recipient's (or a domain's) edits agree on; ``from_tasks``: the examples that taught it."""

    scope: str
    greeting: str | None = None
    signoff: str | None = None
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    from_tasks: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.greeting or self.signoff or self.removed or self.added)

    def provenance(self) -> str:
        return f"learned from {len(self.from_tasks)} edits for {self.scope} (fte style show {self.scope})"


@dataclass(frozen=True)
class Style:
    """What a drafter is given for one task: the learned rules (or None) and the last examples."""

    learned: Learned | None = None
    examples: tuple[Example, ...] = field(default_factory=tuple)


def who(recipient: str) -> tuple[str, str]:
    """(recipient, domain) as the memory keys them: the address in lower case, and its domain."""
    address = parseaddr(recipient)[1] or recipient
    address = address.strip().lower()
    return address, address.rsplit("@", 1)[1] if "@" in address else ""


def _parts(text: str) -> tuple[str, list[str], str]:
    """(greeting line, middle lines, sign-off block) of a letter-shaped text."""
    lines = text.strip("\n").split("\n")
    greeting = lines[0].strip() if lines else ""
    rest = lines[1:]
    cut = max((i for i, line in enumerate(rest) if not line.strip()), default=None)
    if cut is None or len(rest) - cut - 1 > 3:
        return greeting, rest, ""
    return greeting, rest[:cut], "\n".join(rest[cut + 1:]).strip()


def _name_in(greeting: str) -> str:
    words = greeting.rstrip(",!:.").split()
    return words[-1] if len(words) >= 2 else ""


def _generic(line: str, name: str) -> str:
    return line.replace(name, NAME) if name and name in line else line


def learn(examples: list[Example], scope: str, threshold: int = THRESHOLD) -> Learned:
    """What ``examples`` (newest first) agree on; see the module's docstring. A part is learned when
    the newest example was sent with it (changed by the person, or already drafted so and left
    alone), and, going back from there until an example sent without it, the person changed a
    draft into it at least ``threshold`` times. Drafts that came out right keep it learned; one
    sent otherwise starts over."""
    recent = examples[:WINDOW]
    if not recent:
        return Learned(scope)
    taught: set[str] = set()
    shapes = []
    for ex in recent:
        pg, pm, ps = _parts(ex.proposed)
        sg, sm, ss = _parts(ex.sent)
        name = _name_in(pg)
        proposed_lines = {_generic(line.strip(), name) for line in pm if line.strip()}
        sent_lines = {_generic(line.strip(), name) for line in sm if line.strip()}
        shapes.append((ex.task_id, _generic(pg, name), _generic(sg, name), ps, ss, proposed_lines, sent_lines))

    def run(holds: list[bool], changed: list[bool]) -> bool:
        """Whether the newest examples agree, and enough of them were changed into agreement."""
        made: list[str] = []
        for (task_id, *_rest), ok, did in zip(shapes, holds, changed):
            if not ok:
                break
            if did:
                made.append(task_id)
        if len(made) < threshold:
            return False
        taught.update(made)
        return True

    greeting = shapes[0][2]
    learned_greeting = greeting if run([sh[2] == greeting for sh in shapes], [sh[2] != sh[1] for sh in shapes]) else None
    signoff = shapes[0][4]
    learned_signoff = signoff if signoff and run([sh[4] == signoff for sh in shapes],
                                                 [sh[4] != sh[3] for sh in shapes]) else None
    newest_sent, newest_proposed_or_sent = shapes[0][6], set().union(*(sh[5] | sh[6] for sh in shapes))
    learned_removed = tuple(sorted(
        line for line in newest_proposed_or_sent - newest_sent
        if run([line not in sh[6] for sh in shapes], [line in sh[5] and line not in sh[6] for sh in shapes])))
    learned_added = tuple(sorted(
        line for line in newest_sent
        if run([line in sh[6] for sh in shapes], [line in sh[6] and line not in sh[5] for sh in shapes])))
    order = [ex.task_id for ex in recent if ex.task_id in taught]
    return Learned(scope, learned_greeting, learned_signoff, learned_removed, learned_added, tuple(order))


def apply(learned: Learned, draft: str, name: str) -> str:
    """``draft`` (a letter: greeting, body, sign-off) with what was learned applied."""
    greeting, middle, signoff = _parts(draft)
    if learned.greeting:
        greeting = learned.greeting.replace(NAME, name)
    kept = [line for line in middle if line.strip() not in learned.removed]
    while len(kept) > 1 and not kept[-1].strip() and not kept[-2].strip():
        kept.pop()
    if learned.added:
        if kept and kept[-1].strip():
            kept.append("")
        kept += [line.replace(NAME, name) for line in learned.added]
    signoff = learned.signoff or signoff
    text = "\n".join([greeting, *kept]).rstrip("\n")
    return f"{text}\n\n{signoff}\n" if signoff else text + "\n"


def prompt_examples(examples: tuple[Example, ...]) -> list[dict[str, str]]:
    """The last examples for an LLM drafter, newest first, within :data:`PROMPT_BUDGET` characters."""
    out, used = [], 0
    for ex in examples[:PROMPT_EXAMPLES]:
        size = len(ex.proposed) + len(ex.sent)
        if used + size > PROMPT_BUDGET:
            break
        out.append({"draft": ex.proposed, "as_sent": ex.sent})
        used += size
    return out


def style_for(store: Any, kind: str, recipient: str) -> Style | None:
    """What the memory in ``store`` offers a draft of ``kind`` to ``recipient``: the rules learned
    from that recipient's examples, else from their domain's; the last examples (the recipient's,
    else the domain's, else any) for an LLM. None when the memory holds nothing."""
    address, domain = who(recipient)
    mine = [_example(r) for r in store.style_examples(recipient=address, kind=kind, limit=WINDOW)] if address else []
    theirs = [_example(r) for r in store.style_examples(domain=domain, kind=kind, limit=WINDOW)] if domain else []
    learned = learn(mine, address) if mine else None
    if not learned and theirs:
        learned = learn(theirs, domain) or None
    shown = mine or theirs or [_example(r) for r in store.style_examples(kind=kind, limit=PROMPT_EXAMPLES)]
    if not learned and not shown:
        return None
    return Style(learned or None, tuple(shown[:PROMPT_EXAMPLES]))


def _example(row: Any) -> Example:
    return Example(row.task_id, row.proposed, row.sent or "")
