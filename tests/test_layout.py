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
