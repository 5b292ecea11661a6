"""Run a mutant against the tests that execute the line it changed (docs/RELIABILITY.md).

A module run through tick-driven tests (``fte/states/reconcile.py``: 375 tests run it) is too slow
to mutate with the whole suite per mutant. This picks, for each mutant, the tests that ran the
mutated lines — from a coverage run with per-test contexts — and runs only those.

    pip install pytest-cov cosmic-ray
    python -m pytest -n 2 --cov=fte --cov-context=test --cov-report= -p no:randomly  # makes .coverage
    python bench/mutants.py map fte/states/reconcile.py > reconcile.lines.json
    # cosmic-ray's test-command, run from a git worktree of the commit:
    python bench/mutants.py run fte/states/reconcile.py reconcile.lines.json [--budget S --durations F] [-n 2]

``run`` reads which lines the mutant changed from ``git diff`` of the module (cosmic-ray mutates
the file in place), so it works as any cosmic-ray test command does. ``--budget`` keeps the
fastest covering tests up to that many seconds (from a ``pytest --durations=0`` output): a first,
cheap pass whose survivors are then run again without it. Exit status: pytest's, except that a
mutant no test executes exits 0 (it survives: nothing would notice it).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path


def coverage_map(module: str, data_file: str) -> dict[int, list[str]]:
    """Each executed line of ``module`` → the test node ids that ran it (setup, call or teardown)."""
    import coverage

    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    data = cov.get_data()
    path = next((f for f in data.measured_files() if f.endswith("/" + module)), None)
    if path is None:
        raise SystemExit(f"{module}: not in {data_file} (was the coverage run made with --cov=fte?)")
    by_line = data.contexts_by_lineno(path)
    return {line: sorted({c.rsplit("|", 1)[0] for c in contexts if c}) for line, contexts in sorted(by_line.items())}


def changed_lines(module: str) -> set[int]:
    """The lines of the committed ``module`` that the working tree's version changes."""
    diff = subprocess.run(["git", "diff", "-U0", "--", module], capture_output=True, text=True, check=True).stdout
    lines: set[int] = set()
    for start, count in re.findall(r"^@@ -(\d+)(?:,(\d+))? ", diff, re.MULTILINE):
        lines.update(range(int(start), int(start) + max(int(count or 1), 1)))
    return lines


def covering(lines: set[int], by_line: dict[int, list[str]]) -> set[str]:
    """The tests that ran ``lines``; for a line coverage does not record (a statement's continuation,
    a ``def``), those of the nearest recorded line before it, else after it."""
    tests = {t for line in lines for t in by_line.get(line, [])}
    if not tests:
        for line in lines:
            for near in (*range(line - 1, line - 11, -1), *range(line + 1, line + 16)):
                if by_line.get(near):
                    tests.update(by_line[near])
                    break
    return tests


def within_budget(tests: set[str], durations: str, budget: float) -> set[str]:
    """The fastest of ``tests`` whose summed durations stay within ``budget`` seconds (at least one)."""
    took: dict[str, float] = {}
    for seconds, node in re.findall(r"^([0-9.]+)s (?:call|setup|teardown)\s+(\S+)$", Path(durations).read_text(), re.MULTILINE):
        took[node] = took.get(node, 0.0) + float(seconds)
    chosen: set[str] = set()
    spent = 0.0
    for test in sorted(tests, key=lambda t: (took.get(t, 0.0), t)):
        if chosen and spent + took.get(test, 0.0) > budget:
            break
        chosen.add(test)
        spent += took.get(test, 0.0)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("map", help="print the line → tests map of a module, as JSON")
    make.add_argument("module")
    make.add_argument("--data-file", default=".coverage")
    run = sub.add_parser("run", help="run the tests covering the mutated lines (a cosmic-ray test command)")
    run.add_argument("module")
    run.add_argument("map_file")
    run.add_argument("--always", action="append", default=[], help="a test (file or node id) run for every mutant")
    run.add_argument("--budget", type=float, help="seconds of the fastest covering tests (needs --durations)")
    run.add_argument("--durations", help="a pytest --durations=0 output")
    run.add_argument("--prefer", action="append", default=[],
                     help="with --budget: only tests of these files, where any of them covers the lines")
    run.add_argument("-n", dest="workers", help="pytest-xdist workers")
    args = parser.parse_args(argv)
    if args.command == "map":
        json.dump(coverage_map(args.module, args.data_file), sys.stdout, indent=0)
        return 0
    by_line = {int(k): v for k, v in json.loads(Path(args.map_file).read_text()).items()}
    lines = changed_lines(args.module)
    tests = covering(lines, by_line)
    if args.budget is not None:
        if not args.durations:
            parser.error("--budget needs --durations")
        preferred = {t for t in tests if t.split("::")[0] in args.prefer}
        tests = within_budget(preferred or tests, args.durations, args.budget)
    selected = sorted(tests) + args.always
    print(f"lines {sorted(lines)}: {len(selected)} tests", file=sys.stderr)
    if not selected:
        return 0
    workers = ["-n", args.workers] if args.workers else []
    return subprocess.run([sys.executable, "-m", "pytest", *workers, "-x", "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *selected], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
