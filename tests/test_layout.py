"""The code's layout holds what docs/architecture.md says of it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "fte"


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_incidents_are_recorded_through_one_function() -> None:
    """Every incident goes through Lifecycle.incident (the host's clock and name, one place); only
    it calls the store's writer."""
    callers = [str(p.relative_to(ROOT)) for p in _sources() if re.search(r"\.record_incident\(", p.read_text())]
    assert callers == ["states/service.py"], callers


def test_nothing_sits_loose_at_the_top_but_the_five() -> None:
    """The top of fte/ holds the command line, the tick, reading fte.toml, the error tree and the
    clock; everything else lives in a package whose name says what it is (docs/architecture.md)."""
    loose = sorted(p.name for p in ROOT.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == ["cli.py", "clock.py", "config.py", "daemon.py", "errors.py"], loose


def test_a_table_of_settings_is_read_one_way() -> None:
    """A table of fte.toml is read as ``settings.table(Cls)``, typed; no module digs in the checked
    values by dotted name, and every channel's table is declared in the registry beside its factory."""
    from fte.config import Settings
    from fte.io.channels.registry import CHANNELS, TABLES
    from fte.settings.spec import SETTINGS
    from fte.settings.tables import CORE_TABLES

    assert not hasattr(Settings, "section")
    diggers = [str(p.relative_to(ROOT)) for p in _sources() if re.search(r"\.values\[|\.values\.get\(", p.read_text())
               and p.relative_to(ROOT).parts[0] not in ("settings", "config.py")]
    assert diggers == [], diggers
    assert {c.settings.__module__ for c in CHANNELS} <= {"fte.io.channels.registry", "fte.settings.tables"}
    tabled = {s.name for t in TABLES + CORE_TABLES for s in t.settings()}
    assert tabled <= {s.name for s in SETTINGS}


def test_signal_handlers_only_set_flags() -> None:
    """A handler runs between two bytecodes of the main thread, whatever lock it holds: one that
    called Event.set() deadlocked the daemon when the signal landed inside that Event's own lock.
    In a module that installs handlers, no lambda is one, and every ``on_*`` function only assigns
    (the waiting thread is woken by fte/support/signals.py's relay)."""
    import ast

    checked = 0
    for path in _sources():
        tree = ast.parse(path.read_text())
        installs = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                    and c.func.attr == "signal" and isinstance(c.func.value, ast.Name) and c.func.value.id == "signal"]
        if not installs:
            continue
        assert not any(isinstance(a, ast.Lambda) for c in installs for a in c.args), path
        for fn in ast.walk(tree):
            if (isinstance(fn, ast.FunctionDef) and fn.name.startswith("on_") and len(fn.args.args) == 2
                    and "sig" in fn.args.args[0].arg):  # (signum, frame): a signal handler
                body = [b for b in fn.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
                assert all(isinstance(b, (ast.Assign, ast.AugAssign)) for b in body), (
                    f"{path.relative_to(ROOT)}: the signal handler {fn.name} does more than set a flag")
                checked += 1
    assert checked >= 3  # the daemon's two, fte web's one
