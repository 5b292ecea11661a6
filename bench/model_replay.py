"""Replay a counterexample of the protocol's model-based test, step by step, and say where the hosts
disagree (docs/RELIABILITY.md, "Long runs").

A long run (``FTE_MODEL_EXAMPLES=150 FTE_MODEL_STEPS=50 FTE_MODEL_SEED=3 python -m pytest
tests/test_protocol_model.py::TestProtocol``) that fails prints its steps as ``state.rule(args)``
lines; kept in a file (``bench/model_runs/``), they replay here on today's code. The run's homes are
kept (the path is printed) so its git history and databases can be read.

    python bench/model_replay.py bench/model_runs/run16.txt
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    steps = re.findall(r"state\.(\w+)\((.*)\)\s*$", Path(sys.argv[1]).read_text(), re.M)
    os.chdir(TESTS)  # the model's helpers find their test data from here
    from conftest import TEST_EPOCH, clock_value
    from test_protocol_model import Protocol

    from fte.clock import CLOCK_ENV, start_clock

    os.environ[CLOCK_ENV] = clock_value(TEST_EPOCH)  # the suite's clock, as in the test
    start_clock()
    machine = Protocol()
    for name, args in steps:
        if name == "teardown":
            break
        call = ast.parse(f"f({args})", mode="eval").body
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}  # type: ignore[attr-defined]
        getattr(machine, name)(**kwargs)
        machine.check_safety()
    machine.quiesce()
    known = {n: {t.id: t.state for t in r.home.store.tasks()} for n, r in machine.runs.items()}
    disagree = sorted(t for t in set().union(*known.values()) if len({known[n].get(t) for n in known}) != 1)
    for task_id in disagree:
        print(f"{task_id[:8]}: " + ", ".join(f"{n} {known[n].get(task_id)}" for n in known))
        for name, run in machine.runs.items():
            for tr in run.home.store.timeline(task_id):
                print(f"  {name}: {tr.event} {tr.from_state} -> {tr.to_state} ({tr.source}) {str(tr.detail)[:120]}")
            for incident in run.home.store.incidents():
                if incident.task_id == task_id:
                    print(f"  {name}: ! {incident.kind} {str(incident.detail)[:160]}")
    print(f"{len(steps)} steps; {'the hosts agree' if not disagree else f'{len(disagree)} task(s) in disagreement'}; "
          f"homes kept in {machine.tmp}")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
