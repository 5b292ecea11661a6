"""The lifecycle: the one table of states and events (docs/lifecycle.md), validated by ``transitions``.

Pure: no I/O, no database. :func:`next_state` answers "what does ``event`` do to a task in
``state``?" by running the event on a throw-away model of the ``transitions`` machine built from
:data:`TABLE`, so the library — not hand-written ``if``\\s — decides what is legal.

Beyond the basic lifecycle, these events are added (docs/lifecycle.md):

* ``fail`` also leads ``detected → failed``: a drafting failure, which ``replay`` sends back to
  ``detected``.
* ``invalidate`` leads ``approved → pending``: the note was edited after approval, or the approval
  no longer verifies; the person must look again. Also ``claimed → pending``, for a claim that
  never reached the remote and lost at the merge to an edit that did (nothing was executed).
* ``edit`` leads ``pending → pending``: the person changed the draft or its parameters; the audit
  row records the change.
* ``converge`` leads from one decision to the other (``rejected → approved…``, ``approved →
  rejected``…): two hosts decided differently and the other host's decision stands
  (docs/protocol.md, "Convergence"); never out of ``done`` or ``failed``. Also ``rejected → pending``: another device's edit
  reached the remote before this host's rejection, which was of the older draft.

``observe`` (another host's transition, seen in pulled files) may move a task to any state that is
*later*: reachable from its state by the forward events (everything but ``release``, ``replay`` and
``invalidate``). It never moves a task backwards.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fte.errors import InvalidTransition

STATES: tuple[str, ...] = (
    "detected", "drafted", "synced", "pending", "approved", "claimed",
    "done", "failed", "rejected", "expired",
)
TERMINAL: frozenset[str] = frozenset({"done", "rejected", "expired"})

#: (event, from, to) — the single source of truth. ``detect`` creates a task (from nothing).
TABLE: tuple[tuple[str, str | None, str], ...] = (
    ("detect", None, "detected"),
    ("draft", "detected", "drafted"),
    ("sync", "drafted", "synced"),
    ("present", "synced", "pending"),
    ("edit", "pending", "pending"),
    ("approve", "pending", "approved"),
    ("reject", "pending", "rejected"),
    ("expire", "pending", "expired"),
    ("claim", "approved", "claimed"),
    ("complete", "claimed", "done"),
    ("fail", "claimed", "failed"),
    ("fail", "detected", "failed"),
    ("release", "claimed", "approved"),
    ("replay", "failed", "approved"),
    ("replay", "failed", "pending"),
    ("replay", "failed", "detected"),
    ("invalidate", "approved", "pending"),
    # A claim never pushed, beaten at the merge by an edit that reached the remote first: nothing
    # was executed (a claim is executed only once pushed), and the person must look again.
    ("invalidate", "claimed", "pending"),
    # Two decisions on one task from two hosts: the one that stands by the order of decisions (the
    # person's last word) wins everywhere; the loser's host converges to the winner's state (docs/protocol.md, "Convergence"). Never out of
    # done or failed: what was executed stays executed.
    *(("converge", src, dst) for src, dsts in (
        ("approved", ("rejected", "expired")),
        ("claimed", ("rejected", "expired")),
        ("rejected", ("approved", "claimed", "done", "failed", "expired", "pending")),
        ("expired", ("approved", "claimed", "done", "failed", "rejected")),
    ) for dst in dsts),
)
BACKWARD_EVENTS: frozenset[str] = frozenset({"release", "replay", "invalidate", "edit", "converge"})
#: States reached by a decision, in two branches: what was approved, and what was turned down.
APPROVED_BRANCH: frozenset[str] = frozenset({"approved", "claimed", "done", "failed"})
DECLINED_BRANCH: frozenset[str] = frozenset({"rejected", "expired"})
EVENTS: tuple[str, ...] = tuple(dict.fromkeys(e for e, _, _ in TABLE)) + ("observe",)


def _forward_closure() -> dict[str, frozenset[str]]:
    step: dict[str, set[str]] = {s: set() for s in STATES}
    for event, src, dst in TABLE:
        if src is not None and event not in BACKWARD_EVENTS:
            step[src].add(dst)
    later: dict[str, frozenset[str]] = {}
    for s in STATES:
        seen: set[str] = set()
        todo = list(step[s])
        while todo:
            t = todo.pop()
            if t not in seen:
                seen.add(t)
                todo.extend(step[t])
        later[s] = frozenset(seen)
    return later


#: For each state, the states strictly later than it.
LATER: dict[str, frozenset[str]] = _forward_closure()


def precedence(state: str) -> int:
    """A rank for "the later state wins" (git conflicts): the length of the longest forward path to it."""
    return sum(1 for s in STATES if state in LATER[s])


def _dest_is(dest: str) -> Any:
    def condition(*_args: Any, to: str | None = None, **_kw: Any) -> bool:
        return to is None or to == dest

    return condition


def _machine_transitions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for event, src, dst in TABLE:
        if src is not None:
            rows.append({"trigger": event, "source": src, "dest": dst, "conditions": [_dest_is(dst)]})
    for src in STATES:
        for dst in sorted(LATER[src]):
            rows.append({"trigger": "observe", "source": src, "dest": dst, "conditions": [_dest_is(dst)]})
    return rows


@lru_cache(maxsize=1)
def machine() -> Any:
    """The ``transitions`` machine for the table (``auto_transitions=False``: only listed events)."""
    from transitions import (
        Machine,  # imported when first needed: the command line starts faster
    )

    return Machine(
        model=None,
        states=list(STATES),
        transitions=_machine_transitions(),
        initial="detected",
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


class _Probe:
    state: str


def destinations(state: str, event: str) -> list[str]:
    """Every state ``event`` can lead to from ``state`` (empty when it is illegal there)."""
    ev = machine().events.get(event)
    if ev is None:
        return []
    return [str(t.dest) for t in ev.transitions.get(state, [])]


def next_state(state: str | None, event: str, to: str | None = None) -> str:
    """The state after ``event``; raises :class:`InvalidTransition` (and changes nothing) if illegal.

    ``to`` chooses among several destinations (``replay``, ``observe``) and must be given there.
    """
    return _next_state(state, event, to)


@lru_cache(maxsize=1024)
def _next_state(state: str | None, event: str, to: str | None) -> str:
    # Remembered per (state, event, to): the answer depends on the table alone, and asking the
    # machine costs ~0.3 ms (a model added and removed) — a batch of 1,000 drafts asked 1,000 times.
    # An illegal step raises, which is never remembered.
    if state is None:
        if event == "detect":
            return "detected"
        raise InvalidTransition(f"a new task can only be created by 'detect', not {event!r}")
    if state not in STATES:
        raise InvalidTransition(f"unknown state {state!r}")
    if event not in EVENTS:
        raise InvalidTransition(f"unknown event {event!r}; events are: {', '.join(EVENTS)}")
    options = destinations(state, event)
    if not options:
        raise InvalidTransition(f"{event!r} is not allowed from {state!r}")
    if len(options) > 1 and to is None:
        raise InvalidTransition(f"{event!r} from {state!r} needs a target: one of {', '.join(options)}")
    from transitions import MachineError

    probe = _Probe()
    m = machine()
    m.add_model(probe, initial=state)
    try:
        if not probe.trigger(event, to=to):  # type: ignore[attr-defined]
            raise InvalidTransition(f"{event!r} cannot lead from {state!r} to {to!r}; it leads to {', '.join(options)}")
        return probe.state
    except MachineError as exc:
        raise InvalidTransition(f"{event!r} is not allowed from {state!r}") from exc
    finally:
        m.remove_model(probe)
