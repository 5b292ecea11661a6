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
