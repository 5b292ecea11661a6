"""Random event sequences through the real transition service and a real SQLite file."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from conftest import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fte.errors import InvalidTransition
from fte.host.home import init_home, open_home
from fte.states.lifecycle import EVENTS, STATES, TABLE, destinations, next_state

ALLOWED = {(src, dst) for _e, src, dst in TABLE}

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # which task
        st.sampled_from([e for e in EVENTS if e != "detect"]),
        st.sampled_from(STATES),  # a target, used where the event needs one
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_event_sequences_keep_the_log_and_state_consistent(seq: list[tuple[int, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "h"
        init_home(home, role="all", agent="prop")
        clock = FakeClock()
        with open_home(home, clock=clock) as h:
            ids = [
                h.lifecycle.detect(kind="email.reply", source="maildir", source_ref=f"<{i}@x>", title=f"t{i}")[0].id
                for i in range(3)
            ]
            expected_rows = 3
            for which, event, target in seq:
                clock.advance(seconds=1)
                before = h.store.get(ids[which])
                options = destinations(before.state, event)
                to = target if len(options) > 1 else None
                try:
                    after = h.lifecycle.fire(ids[which], event, actor="prop", source="daemon", to=to)
                except InvalidTransition:
                    now = h.store.get(ids[which])
                    assert (now.state, now.version) == (before.state, before.version)
                    continue
                expected_rows += 1
                assert after.state in STATES
                assert after.version == before.version + 1
                if event == "observe":
                    assert after.state != before.state
                else:
                    assert (before.state, after.state) in ALLOWED
            db = h.settings.db_path
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT task_id, version, event, from_state, to_state FROM transitions ORDER BY id").fetchall()
        assert len(rows) == expected_rows
        # Replaying the log from empty reproduces every task's state and version.
        replayed: dict[str, tuple[str | None, int]] = {}
        for task_id, version, event, from_state, to_state in rows:
            state, last = replayed.get(task_id, (None, 0))
            assert from_state == state and version == last + 1
            assert next_state(state, event, to=to_state) == to_state
            replayed[task_id] = (to_state, version)
        for task_id, state, version in conn.execute("SELECT id, state, version FROM tasks"):
            assert replayed[task_id] == (state, version)
        conn.close()
