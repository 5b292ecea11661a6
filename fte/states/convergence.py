"""Which note of a task survives a merge when two hosts changed it (docs/protocol.md, "Convergence").

The tree merge (:mod:`fte.io.vault.treemerge`) knows paths, blobs and task ids; what it must not
know is the lifecycle. It asks a :class:`~fte.io.vault.treemerge.MergePolicy` — this module's
:data:`CONVERGENCE`, given to :class:`~fte.io.vault.gitsync.GitSync` by the host — which of two
versions of one task's note stays. The rules follow from the lifecycle table
(:mod:`fte.states.lifecycle`): an outcome is final, a claim pushed first is a lock, two decisions
are ordered by what their signatures carry (:func:`decision_order`), an edit withdraws an approval
of the older presentation, else the later state. The reconciler orders decisions by the same
function, so a host that merged and a host that only pulled reach the same answer.
"""

from __future__ import annotations

import math
from typing import Any

from fte.clock import parse_iso
from fte.io.vault.properties import APPROVAL_KEYS, ASSERTION_KEYS, expand
from fte.io.vault.treemerge import Side
from fte.states.lifecycle import APPROVED_BRANCH, DECLINED_BRANCH, STATES, precedence

#: A claim and its outcomes: past this point the action may have been performed.
EXECUTING: frozenset[str] = frozenset({"claimed", "done", "failed"})
_DECIDED: frozenset[str] = APPROVED_BRANCH | DECLINED_BRANCH
#: Outcomes of an execution: final on every host, whatever reached the remote first.
FINAL: frozenset[str] = frozenset({"done", "failed"})
def decision_order(state: str, epoch: int, approval: Any, assertion: Any) -> tuple[int, int, float, str, str]:
    """The sort key of the decision a version of a task carries; the smallest key stands.

    The decision of the newest presentation first (a decision about a draft that an edit replaced
    is about something no longer shown); within one presentation **the person's last word**: the
    decision signed latest, then the signing host's name, then the state. An expiry is no word of
    the person's: it never beats their approval of the same presentation (a valid approval was
    made before the deadline; the expiry is signed whenever a host noticed it passed). All of it is
    signed, so every host that sees two decisions orders them alike, whatever order they arrived
    in and whatever the remote's history says (docs/protocol.md, "Convergence").

    ``approval`` speaks for the approved branch (a claim or an outcome carries the approval it
    executes), ``assertion`` for a rejection or an expiry; each is the record as a dict or as the
    note's compact text. A record that cannot be read sorts after every readable one.
    """
    record = approval if state in APPROVED_BRANCH else assertion
    keys = APPROVAL_KEYS if state in APPROVED_BRANCH else ASSERTION_KEYS
    if isinstance(record, str):
        try:
            record = expand(record, keys, "decision")
        except ValueError:
            record = None
    latest_first, host = math.inf, "\uffff"
    if isinstance(record, dict):
        try:
            latest_first = -parse_iso(str(record.get("at"))).timestamp()
            host = str(record.get("host"))
        except (ValueError, OverflowError):
            pass
    return (-int(epoch), int(state == "expired"), latest_first, host, state)


def _order(side: Side) -> tuple[int, int, float, str, str]:
    return decision_order(str(side.state), side.epoch, side.meta.get("approval"), side.meta.get("assertion"))


def stands_against(a: Side, b: Side) -> bool:
    """Whether ``a``'s decision stands against ``b``'s (see :func:`decision_order`)."""
    return _order(a) < _order(b)


class Convergence:
    """The lifecycle's merge policy: :meth:`rank` orders states, :meth:`remote_wins` settles a pair."""

    def rank(self, state: str | None) -> int:
        """How late ``state`` is in the lifecycle; ``-1`` for no state or one the table does not know
        (a pulled note may say anything)."""
        return precedence(state) if state in STATES else -1

    def remote_wins(self, remote: Side, mine: Side) -> bool:
        """Whether the remote's version of one task stays when both sides changed it.

        1. A claim (or its outcome) on the remote is a lock: it stands, unless ours is a later step
           of the execution.
        2. Our outcome (``done``, ``failed``) stands: what was executed stays executed. Our unpushed
           claim yields to a remote note of a newer presentation (an edit reached the remote
           first) or to a remote rejection that stands by :func:`decision_order` (the person's
           later word than the approval it claims under).
        3. A rejection or expiry on the remote stands against our unpushed edit: a "no" that reached
           the remote first is final (the edit is kept as a conflict copy). Only an approval is
           withdrawn by an edit, never brought back by one.
        4. Two decisions on different branches: the one that stands by :func:`decision_order` (the
           newer presentation's, then the person's last word) — the same answer on every host,
           whichever reached the remote first.
        5. Otherwise the newer presentation wins (an edit withdraws an approval of the older one);
           then the later state; the remote's on a tie.
        """
        if remote.state in EXECUTING:
            return not (mine.state in EXECUTING and self.rank(mine.state) > self.rank(remote.state))
        if mine.state in FINAL:
            return False  # performed (or answered by the provider): what was executed stays executed
        if mine.state in EXECUTING:
            # A "no" beats our unpushed claim only if it was said of this presentation or a newer one
            # (a rejection of a draft that an edit had replaced lost to that edit), and after the approval.
            return remote.epoch > mine.epoch or (remote.state in DECLINED_BRANCH and stands_against(remote, mine))
        if remote.state in DECLINED_BRANCH and mine.state == "pending":
            return True
        both_decided = remote.state in _DECIDED and mine.state in _DECIDED
        if remote.epoch != mine.epoch and not both_decided:
            return remote.epoch > mine.epoch
        if both_decided and (remote.state in APPROVED_BRANCH) != (mine.state in APPROVED_BRANCH):
            return stands_against(remote, mine)
        return self.rank(remote.state) >= self.rank(mine.state)

    def strongest(self, sides: list[Side]) -> Side:
        """The version that speaks for the remote side: a ``done`` anywhere is final (the action
        was performed); else the newest presentation; within it a claim or an outcome (it may
        have been performed) before a decision, then the decision that stands by
        :func:`decision_order` between the two branches; then the later state."""
        best = sides[0]
        for side in sides[1:]:
            if self._stronger(side, best):
                best = side
        return best

    def superseded(self, held: Side, current: Side) -> bool:
        """A version of an older presentation than the one the remote holds now lost to it
        (a claim its own host merged away under an edit that reached the remote first) — except
        a ``done``: what was performed stays performed."""
        return held.state != "done" and held.epoch < current.epoch

    def _stronger(self, a: Side, b: Side) -> bool:
        if (a.state == "done") != (b.state == "done"):
            return a.state == "done"
        if a.epoch != b.epoch:
            return a.epoch > b.epoch
        if (a.state in EXECUTING) != (b.state in EXECUTING):
            return a.state in EXECUTING
        if a.state in _DECIDED and b.state in _DECIDED and (a.state in APPROVED_BRANCH) != (b.state in APPROVED_BRANCH):
            return stands_against(a, b)
        return (self.rank(a.state), a.path) > (self.rank(b.state), b.path)


#: The policy every host merges with.
CONVERGENCE = Convergence()
