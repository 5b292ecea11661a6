"""Which note of a task survives a merge when two hosts changed it (docs/protocol.md, "Convergence").

The tree merge (:mod:`fte.io.vault.treemerge`) knows paths, blobs and task ids; what it must not
know is the lifecycle. It asks a :class:`~fte.io.vault.treemerge.MergePolicy` — this module's
:data:`CONVERGENCE`, given to :class:`~fte.io.vault.gitsync.GitSync` by the host — which of two
versions of one task's note stays. The rules follow from the lifecycle table
(:mod:`fte.states.lifecycle`): a claim pushed first is a lock, a decision that reached the remote
first wins, an edit withdraws an approval of the older presentation, else the later state.
"""

from __future__ import annotations

from fte.io.vault.treemerge import Side
from fte.states.lifecycle import APPROVED_BRANCH, DECLINED_BRANCH, STATES, precedence

#: A claim and its outcomes: past this point the action may have been performed.
EXECUTING: frozenset[str] = frozenset({"claimed", "done", "failed"})
_DECIDED: frozenset[str] = APPROVED_BRANCH | DECLINED_BRANCH
#: Outcomes of an execution: final on every host, whatever reached the remote first.
FINAL: frozenset[str] = frozenset({"done", "failed"})


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
           first) or to a remote rejection or expiry of its presentation or a newer one (a decision
           reached the remote first).
        3. A rejection or expiry on the remote stands against our unpushed edit: a "no" that reached
           the remote first is final (the edit is kept as a conflict copy). Only an approval is
           withdrawn by an edit, never brought back by one.
        4. Two decisions on different branches: the remote's (the first to reach the remote wins),
           whatever their presentations.
        5. Otherwise the newer presentation wins (an edit withdraws an approval of the older one);
           then the later state; the remote's on a tie.
        """
        if remote.state in EXECUTING:
            return not (mine.state in EXECUTING and self.rank(mine.state) > self.rank(remote.state))
        if mine.state in FINAL:
            return False  # performed (or answered by the provider): what was executed stays executed
        if mine.state in EXECUTING:
            # A "no" beats our unpushed claim only if it was said of this presentation or a newer one:
            # a rejection of a draft that an edit had already replaced lost to that edit.
            return remote.epoch > mine.epoch or (remote.state in DECLINED_BRANCH and remote.epoch >= mine.epoch)
        if remote.state in DECLINED_BRANCH and mine.state == "pending":
            return True
        both_decided = remote.state in _DECIDED and mine.state in _DECIDED
        if remote.epoch != mine.epoch and not both_decided:
            return remote.epoch > mine.epoch
        if both_decided and (remote.state in APPROVED_BRANCH) != (mine.state in APPROVED_BRANCH):
            return True
        return self.rank(remote.state) >= self.rank(mine.state)


#: The policy every host merges with.
CONVERGENCE = Convergence()
