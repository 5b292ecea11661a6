"""The merge policy, written out case by case (not derived from the lifecycle table it reads):
which version of one task stays when two hosts changed it before seeing each other's change."""

from __future__ import annotations

import pytest

from fte.io.vault.properties import APPROVAL_KEYS, ASSERTION_KEYS, compact
from fte.io.vault.treemerge import Entry, Side
from fte.states.convergence import CONVERGENCE, decision_order
from fte.states.lifecycle import APPROVED_BRANCH


def side(spec: str | None, epoch: int = 1, default_at: int = 10) -> Side:
    """``state[@minute[/host]]``: a version whose decision (the approval it carries, or its
    rejection's or expiry's record) was signed at that minute by that host (alpha at minute
    ``default_at`` when not said). Only what the policy reads is filled in."""
    state, _, when = (spec or "").partition("@")
    minute, _, host = when.partition("/")
    at = f"2031-05-01T09:{int(minute or default_at):02d}:00.000000+00:00"
    record = {"by": "person", "host": host or "alpha", "at": at, "epoch": epoch, "signature": "x"}
    meta = {"approval": compact(record | {"sha256": "0" * 64, "deadline": None}, APPROVAL_KEYS)} \
        if state in APPROVED_BRANCH else {"assertion": compact(record | {"event": "reject", "state": state},
                                                                ASSERTION_KEYS)}
    return Side(f"X/{spec}.md", Entry("100644", "0" * 40), f"{spec} {epoch}".encode(), state or None, epoch, meta)


def test_states_rank_in_lifecycle_order_and_an_unknown_state_ranks_below_all() -> None:
    ranks = {s: CONVERGENCE.rank(s) for s in ("detected", "drafted", "synced", "pending", "approved",
                                               "rejected", "expired", "claimed", "done", "failed")}
    assert ranks == {"detected": 0, "drafted": 1, "synced": 2, "pending": 3, "approved": 4,
                     "rejected": 4, "expired": 4, "claimed": 5, "done": 6, "failed": 6}
    # A pulled note may say anything: a state the table does not know never outranks a real one.
    assert CONVERGENCE.rank("bogus") == CONVERGENCE.rank(None) == CONVERGENCE.rank("") == -1


# (remote state, remote epoch, our state, our epoch, does the remote's stay?) — a decision's signed
# minute is the remote's 10 and ours 20 unless the case says otherwise ("rejected@30").
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
    # ... and our unpushed claim yields to a newer presentation or a "no" made after its approval
    ("pending", 2, "claimed", 1, True),
    ("rejected@30", 1, "claimed", 1, True),   # the person's last word
    ("rejected", 1, "claimed", 1, False),     # our approval was the later word: the claim stands
    ("expired@30", 1, "claimed", 1, False),   # an expiry is no word of the person's
    ("expired", 1, "claimed", 1, False),
    ("rejected@20/beta", 1, "claimed@20/alpha", 1, False),  # the same instant: the host's name
    ("rejected@20/alpha", 1, "claimed@20/beta", 1, True),
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
    # 4. two decisions on different branches: the newer presentation's, then the person's last word,
    #    then the host's name — whichever reached the remote first; an expiry never beats an approval
    ("approved", 1, "rejected", 2, False),
    ("rejected", 1, "approved", 2, False),
    ("expired", 2, "approved", 1, True),
    ("approved", 1, "rejected", 1, False),
    ("rejected", 1, "approved", 1, False),
    ("approved@30", 1, "rejected", 1, True),
    ("rejected@30", 1, "approved", 1, True),
    ("expired@30", 1, "approved", 1, False),
    ("approved", 1, "expired@30", 1, True),
    ("approved@20/alpha", 1, "rejected@20/beta", 1, True),
    ("approved@20/beta", 1, "rejected@20/alpha", 1, False),
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
    assert CONVERGENCE.remote_wins(side(remote, r_epoch), side(mine, m_epoch, default_at=20)) is wins


def _decisions(case: tuple[str | None, int, str | None, int, bool]) -> bool:
    states = [str(spec).split("@")[0] for spec in (case[0], case[2])]
    return all(s in ("approved", "rejected", "expired") for s in states) and \
        (states[0] in APPROVED_BRANCH) != (states[1] in APPROVED_BRANCH)


@pytest.mark.parametrize(("remote", "r_epoch", "mine", "m_epoch", "wins"), [c for c in CASES if _decisions(c)])
def test_two_decisions_are_ordered_alike_from_either_side(remote: str, r_epoch: int, mine: str, m_epoch: int,
                                                          wins: bool) -> None:
    """Many hosts, one truth: the host that holds the other decision reaches the same answer."""
    a, b = side(remote, r_epoch), side(mine, m_epoch, default_at=20)
    assert CONVERGENCE.remote_wins(a, b) is not CONVERGENCE.remote_wins(b, a)


def test_a_decision_whose_record_cannot_be_read_comes_last() -> None:
    readable = decision_order("rejected", 1, None, {"host": "zed", "at": "2099-01-01T00:00:00+00:00"})
    for record in (None, "", "nonsense", {"host": "a", "at": "yesterday"}, {"host": "a"}, 5):
        assert readable < decision_order("approved", 1, record, None)


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]])
def test_the_remote_side_is_spoken_for_by_the_same_version_in_any_order(order: list[int]) -> None:
    """A done anywhere; else the newest presentation; a claim before a decision; else the last word."""
    sides = [side("approved@5", 1), side("rejected@15", 1), side("approved@12", 1), side("expired@30", 1)]
    assert CONVERGENCE.strongest([sides[i] for i in order]).path == "X/rejected@15.md"
    more = [*sides, side("claimed@40", 1)]
    assert CONVERGENCE.strongest(more[::-1]).path == CONVERGENCE.strongest(more).path == "X/claimed@40.md"
    assert CONVERGENCE.strongest([side("done@50", 1), side("pending", 3), *more]).path == "X/done@50.md"
    assert CONVERGENCE.strongest([*more, side("pending", 3)]).path == "X/pending.md"


def test_a_version_the_remote_held_only_for_a_while_is_superseded_by_a_newer_presentation() -> None:
    """A claim (or a decision) of an older presentation than what the remote holds now lost to it;
    a done never does — what was performed stays performed."""
    now = side("pending", 2)
    assert CONVERGENCE.superseded(side("claimed", 1), now)
    assert CONVERGENCE.superseded(side("approved", 1), now)
    assert not CONVERGENCE.superseded(side("done", 1), now)
    assert not CONVERGENCE.superseded(side("claimed", 2), now)
    assert not CONVERGENCE.superseded(side("claimed", 3), now)
