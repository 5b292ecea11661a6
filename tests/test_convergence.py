"""The merge policy, written out case by case (not derived from the lifecycle table it reads):
which version of one task stays when two hosts changed it before seeing each other's change."""

from __future__ import annotations

import pytest

from fte.io.vault.treemerge import Entry, Side
from fte.states.convergence import CONVERGENCE


def side(state: str | None, epoch: int = 1) -> Side:
    return Side(f"X/{state}.md", Entry("100644", "0" * 40), f"{state} {epoch}".encode(), state, epoch)


def test_states_rank_in_lifecycle_order_and_an_unknown_state_ranks_below_all() -> None:
    ranks = {s: CONVERGENCE.rank(s) for s in ("detected", "drafted", "synced", "pending", "approved",
                                               "rejected", "expired", "claimed", "done", "failed")}
    assert ranks == {"detected": 0, "drafted": 1, "synced": 2, "pending": 3, "approved": 4,
                     "rejected": 4, "expired": 4, "claimed": 5, "done": 6, "failed": 6}
    # A pulled note may say anything: a state the table does not know never outranks a real one.
    assert CONVERGENCE.rank("bogus") == CONVERGENCE.rank(None) == CONVERGENCE.rank("") == -1


# (remote state, remote epoch, our state, our epoch, does the remote's stay?)
CASES = [
    # 1. a claim or its outcome on the remote is a lock, unless ours is a later step of the execution
    ("claimed", 1, "approved", 1, True),
    ("claimed", 1, "pending", 2, True),
    ("claimed", 1, "claimed", 1, True),
    ("claimed", 1, "done", 1, False),
    ("claimed", 1, "failed", 1, False),
    ("done", 1, "claimed", 1, True),
    ("failed", 1, "done", 1, True),
    # 2. our outcome stands: what was executed stays executed (even against a "no" or an edit)
    ("rejected", 1, "done", 1, False),
    ("expired", 1, "done", 1, False),
    ("pending", 2, "done", 1, False),
    ("rejected", 1, "failed", 1, False),
    ("pending", 3, "failed", 1, False),
    # ... and our unpushed claim yields to a newer presentation or a decision that got there first
    ("pending", 2, "claimed", 1, True),
    ("rejected", 1, "claimed", 1, True),
    ("expired", 1, "claimed", 1, True),
    ("rejected", 2, "claimed", 1, True),
    ("rejected", 1, "claimed", 2, False),  # a "no" to a draft an edit had replaced: our claim stands
    ("expired", 1, "claimed", 2, False),
    ("pending", 1, "claimed", 1, False),
    ("approved", 1, "claimed", 1, False),
    ("approved", 2, "claimed", 1, True),
    ("pending", 1, "claimed", 2, False),
    ("approved", 1, "claimed", 2, False),
    # 3. a "no" that reached the remote first stands against our edit
    ("rejected", 1, "pending", 2, True),
    ("expired", 1, "pending", 2, True),
    # ... and only against an edit: a note not yet presented here goes by rule 5
    ("rejected", 1, "drafted", 2, False),
    ("rejected", 1, "synced", 2, False),
    # 4. two decisions on different branches: the remote's, whatever the presentations
    ("approved", 1, "rejected", 2, True),
    ("rejected", 1, "approved", 2, True),
    ("expired", 2, "approved", 1, True),
    # 5. else the newer presentation, then the later state, the remote's on a tie
    ("approved", 1, "pending", 2, False),
    ("pending", 2, "approved", 1, True),
    ("pending", 1, "approved", 1, False),
    ("approved", 1, "pending", 1, True),
    ("approved", 1, "approved", 2, True),
    ("rejected", 1, "expired", 1, True),
    ("synced", 1, "pending", 1, False),
    ("pending", 1, "pending", 1, True),
    ("bogus", 1, "detected", 1, False),
    (None, 1, None, 1, True),
]


@pytest.mark.parametrize(("remote", "r_epoch", "mine", "m_epoch", "wins"), CASES)
def test_which_version_stays(remote: str | None, r_epoch: int, mine: str | None, m_epoch: int, wins: bool) -> None:
    assert CONVERGENCE.remote_wins(side(remote, r_epoch), side(mine, m_epoch)) is wins
