"""The lifecycle (pure table + machine) and the transition service that persists and mirrors it."""

from fte.states.lifecycle import EVENTS, STATES, TABLE, next_state
from fte.states.service import Lifecycle

__all__ = ["EVENTS", "STATES", "TABLE", "Lifecycle", "next_state"]
