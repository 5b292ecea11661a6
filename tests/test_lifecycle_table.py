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


def test_a_task_is_born_by_no_other_event() -> None:
    """Every event but ``detect`` is refused for a task that does not exist (a ``>=`` in place of
    the ``==`` let "draft", "expire", "observe"… create tasks: found by mutation testing)."""
    for event in (*EVENTS, "observe"):
        with pytest.raises(InvalidTransition, match="only be created by 'detect'"):
            next_state(None, event)


@pytest.mark.parametrize(("state", "event"), [("failed", "replay"), ("pending", "observe"), ("claimed", "converge")])
def test_a_step_with_several_destinations_must_name_one(state: str, event: str) -> None:
    """Without ``to``, a step that can lead to several states is refused — never the first one
    silently (a replay that picked its target would re-execute, or re-draft, unasked)."""
    with pytest.raises(InvalidTransition, match="needs a target"):
        next_state(state, event)


def test_the_later_state_wins_in_this_order() -> None:
    """The rank a conflict between two versions of a note is decided by (docs/sync.md): written
    out by hand, as the order of the lifecycle."""
    from fte.states.lifecycle import precedence

    rank = {s: precedence(s) for s in STATES}
    assert rank["detected"] < rank["drafted"] < rank["synced"] < rank["pending"] < rank["approved"] \
        < rank["claimed"] < rank["done"]
    assert rank["pending"] < rank["rejected"] and rank["pending"] < rank["expired"]
    assert rank["claimed"] < rank["failed"]


@pytest.mark.parametrize(("state", "event", "dest"), [("detected", "draft", "drafted"), ("pending", "approve", "approved"),
                                                       ("claimed", "complete", "done")])
def test_a_step_with_one_destination_needs_no_target(state: str, event: str, dest: str) -> None:
    assert next_state(state, event) == dest
