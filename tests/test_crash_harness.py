"""Every named kill point, once: SIGKILL a real daemon process there, restart, converge, no double send."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fte.support.crashpoints import FLOW_POINTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from crash_harness import run_once  # noqa: E402


@pytest.mark.parametrize("point", FLOW_POINTS)
def test_killed_at_each_point_converges_without_duplicates(tmp_path: Path, point: str) -> None:
    result = run_once(point, 1, tmp_path)
    assert result.crashed, f"{point} was never reached"
    assert result.converged, result.problems
    assert result.duplicates == 0 and result.lost == 0
