"""The suite's own rules, read from its source: a command a test runs has its exit status checked,
and no test reads the wall clock (the suite passes on any day; ``.ci/run`` runs the clock-sensitive
files again with the system clock moved)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
#: Helpers that fail the test themselves unless the command exits as told (tests/conftest.py).
CHECKING = {"fte_cli", "fte_process"}
#: Attributes whose reading checks how a command ended.
STATUS = {"exit_code", "returncode", "wait", "poll", "communicate"}
#: Calls that read the wall clock (``time.time`` stays allowed: file times are the kernel's).
WALL_CLOCK = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today")}


def _runs_fte(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name) and f.id in CHECKING:
        return True
    if isinstance(f, ast.Attribute) and f.attr == "invoke":  # click's CliRunner
        return True
    if isinstance(f, ast.Attribute) and f.attr in ("run", "Popen", "check_output", "call") and call.args:
        argv = call.args[0]
        words = [e.value for e in getattr(argv, "elts", []) if isinstance(e, ast.Constant)]
        return "fte" in words
    return False


def _checked(call: ast.Call, parent: ast.AST, status_read: set[str]) -> bool:
    keywords = {k.arg: k.value for k in call.keywords}
    if isinstance(call.func, ast.Name) and call.func.id in CHECKING:
        code = keywords.get("code")
        if not (isinstance(code, ast.Constant) and code.value is None):
            return True  # the helper asserts the exit code
    if isinstance(keywords.get("check"), ast.Constant) and keywords["check"].value is True:
        return True
    if isinstance(parent, ast.Attribute) and parent.attr in STATUS:
        return True
    target = (parent.targets[0] if isinstance(parent, ast.Assign) and len(parent.targets) == 1
              else parent.optional_vars if isinstance(parent, ast.withitem) else None)
    return isinstance(target, ast.Name) and target.id in status_read


def unchecked_commands(source: str) -> list[int]:
    """Lines of ``source`` where a test runs ``fte`` and never looks at how it ended."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name in CHECKING:
            continue
        status_read = {n.value.id for n in ast.walk(fn)
                       if isinstance(n, ast.Attribute) and n.attr in STATUS and isinstance(n.value, ast.Name)}
        for call in ast.walk(fn):
            if isinstance(call, ast.Call) and _runs_fte(call) and not _checked(call, parents[call], status_read):
                found.append(call.lineno)
    return sorted(set(found))


def wall_clock_reads(source: str) -> list[int]:
    tree = ast.parse(source)
    return sorted(n.lineno for n in ast.walk(tree)
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and isinstance(n.func.value, ast.Name) and (n.func.value.id, n.func.attr) in WALL_CLOCK)


def _test_files() -> list[Path]:
    return sorted(TESTS.glob("test_*.py")) + [TESTS / "hosts.py"]


def test_every_command_a_test_runs_has_its_exit_status_checked() -> None:
    found = [f"{p.name}:{line}" for p in _test_files() for line in unchecked_commands(p.read_text())]
    assert found == [], "fte run without a look at its exit status (use fte_cli/fte_process, or assert it)"


def test_no_test_reads_the_wall_clock() -> None:
    allowed = {"test_clock.py"}  # it compares the system clock with FTE_CLOCK on purpose
    found = [f"{p.name}:{line}" for p in _test_files() if p.name not in allowed
             for line in wall_clock_reads(p.read_text())]
    assert found == [], "a test reads today's date: take it from the test's clock (FakeClock, TEST_EPOCH)"


def test_the_rules_catch_what_they_are_for() -> None:
    """Each rule on a sample it must refuse, and on one it must let pass."""
    bad = '''
def test_a(home):
    CliRunner().invoke(cli, ["approve", "x"])
    r = fte_cli("approve", "x", code=None)
    subprocess.run([sys.executable, "-m", "fte", "status"])
    p = subprocess.run([sys.executable, "-m", "fte", "status"], capture_output=True)
    print(p.stdout)
'''
    good = '''
def test_b(home):
    fte_cli("approve", "x")
    r = fte_cli("approve", "x", code=None)
    assert r.exit_code in (0, 2)
    assert CliRunner().invoke(cli, ["status"]).exit_code == 0
    subprocess.run([sys.executable, "-m", "fte", "status"], check=True)
    proc = subprocess.Popen([sys.executable, "-m", "fte", "daemon"])
    proc.wait()
'''
    assert unchecked_commands(bad) == [3, 4, 5, 6]
    assert unchecked_commands(good) == []
    assert wall_clock_reads("from datetime import date, datetime\nx = date.today()\ny = datetime.now(tz)\n") == [2, 3]
    assert wall_clock_reads("x = clock.now\ny = utcnow()\n") == []
