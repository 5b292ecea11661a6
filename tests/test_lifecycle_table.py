"""The lifecycle, asserted literally (docs/lifecycle.md): every allowed step written out by hand,
and every other (event, state) pair refused — not derived from the table it checks."""

from __future__ import annotations

import pytest

from fte.errors import InvalidTransition
from fte.states.lifecycle import STATES, TERMINAL, next_state

ALLOWED = {
    ("draft", "detected"): {"drafted"}, ("fail", "detected"): {"failed"},
    ("sync", "drafted"): {"synced"},
    ("present", "synced"): {"pending"},
    ("edit", "pending"): {"pending"}, ("approve", "pending"): {"approved"}, ("reject", "pending"): {"rejected"},
    ("expire", "pending"): {"expired"},
    ("claim", "approved"): {"claimed"}, ("invalidate", "approved"): {"pending"},
    ("converge", "approved"): {"rejected", "expired"},
    ("complete", "claimed"): {"done"}, ("fail", "claimed"): {"failed"}, ("release", "claimed"): {"approved"},
    ("invalidate", "claimed"): {"pending"}, ("converge", "claimed"): {"rejected", "expired"},
    ("replay", "failed"): {"approved", "pending", "detected"},
    ("converge", "rejected"): {"approved", "claimed", "done", "failed", "expired", "pending"},
    ("converge", "expired"): {"approved", "claimed", "done", "failed", "rejected"},
}
EVENTS = ("draft", "sync", "present", "edit", "approve", "reject", "expire", "claim", "complete", "fail",
          "release", "replay", "invalidate", "converge")


@pytest.mark.parametrize("state", [s for s in STATES])
@pytest.mark.parametrize("event", EVENTS)
def test_every_step_is_the_documented_one(event: str, state: str) -> None:
    allowed = ALLOWED.get((event, state), set())
    for dest in STATES:
        try:
            got = next_state(state, event, to=dest)
        except InvalidTransition:
            got = None
        assert (got == dest) == (dest in allowed), (event, state, dest, got)


def test_done_is_final_and_a_task_is_born_only_by_detect() -> None:
    assert TERMINAL == {"done", "rejected", "expired"}
    for event in (*EVENTS, "observe"):
        for dest in STATES:
            with pytest.raises(InvalidTransition):
                next_state("done", event, to=dest)
    assert next_state(None, "detect") == "detected"
    with pytest.raises(InvalidTransition):
        next_state(None, "approve")


@pytest.mark.parametrize(("state", "later"), [
    ("detected", {"drafted", "synced", "pending", "approved", "claimed", "done", "failed", "rejected", "expired"}),
    ("pending", {"approved", "claimed", "done", "failed", "rejected", "expired"}),
    ("approved", {"claimed", "done", "failed"}),
    ("claimed", {"done", "failed"}),
])
def test_observe_moves_only_forward(state: str, later: set[str]) -> None:
    for dest in STATES:
        try:
            got = next_state(state, "observe", to=dest)
        except InvalidTransition:
            got = None
        assert (got == dest) == (dest in later), (state, dest)
