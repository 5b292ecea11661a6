"""One notion of "now" in a test and in every process it starts (``FTE_CLOCK``, docs/settings.md)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import TEST_EPOCH, FakeClock, fte_cli, fte_process
from hosts import HostRun, drop_mail

from fte.clock import CLOCK_ENV, parse_iso, start_clock, utcnow
from fte.errors import BadInput


def doctor_clock(home: Path, **kw: object) -> dict[str, str]:
    p = fte_process("doctor", "--json", "--offline", "--home", home, **kw)
    return next(c for c in json.loads(p.stdout) if c["name"] == "clock")


def test_a_process_started_by_a_test_runs_on_the_tests_clock(home_dir: Path) -> None:
    clock = FakeClock()
    for days in (0, 400, -300):
        clock.now = TEST_EPOCH + timedelta(days=days)
        found = doctor_clock(home_dir)
        assert found["status"] == "warn" and CLOCK_ENV in found["detail"]
        seen = parse_iso(found["detail"].rsplit(": ", 1)[1])
        assert timedelta(0) <= seen - clock.now < timedelta(seconds=60), (seen, clock.now)


def test_without_fte_clock_a_process_runs_on_the_system_clock(home_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != CLOCK_ENV}
    found = doctor_clock(home_dir, env=env)
    assert found["status"] == "ok"
    seen = parse_iso(found["detail"].rsplit(": ", 1)[1])
    assert abs(seen - datetime.now(timezone.utc)) < timedelta(seconds=60)


@pytest.mark.parametrize("start", [datetime(2001, 3, 4, 5, 6, tzinfo=timezone.utc),
                                   datetime(2091, 7, 8, 9, 10, tzinfo=timezone.utc)], ids=["past", "future"])
def test_a_command_decides_by_the_tests_clock_in_any_year(home_dir: Path, start: datetime) -> None:
    """Tasks made at ``start`` expire 72 h later: the command line approves one an hour on and refuses
    the other three days on, in its own process — whatever today's date is (with the system clock
    instead, one of the two years gets each answer wrong)."""
    clock = FakeClock(start)
    drop_mail(home_dir, 1)
    drop_mail(home_dir, 2)
    run = HostRun(home_dir, clock)
    run.tick()
    first, second = sorted(t.id for t in run.home.store.tasks(state="pending"))
    run.close()
    clock.advance(hours=1)
    fte_process("approve", first, "--home", home_dir)
    clock.advance(hours=72)
    refused = fte_process("approve", second, "--home", home_dir, code=2)
    assert "passed its deadline" in refused.stderr
    run = HostRun(home_dir, clock)
    assert run.home.store.get(first).state == "approved" and run.home.store.get(second).state == "pending"
    approved_at = run.home.store.timeline(first)[-1].at
    run.close()
    assert timedelta(hours=1) <= approved_at - start < timedelta(hours=1, minutes=1)


def test_an_in_process_command_runs_on_the_tests_clock_too(home_dir: Path) -> None:
    clock = FakeClock(datetime(2031, 2, 3, tzinfo=timezone.utc))
    r = fte_cli("doctor", "--json", "--offline", "--home", home_dir)
    found = next(c for c in json.loads(r.output) if c["name"] == "clock")
    assert timedelta(0) <= parse_iso(found["detail"].rsplit(": ", 1)[1]) - clock.now < timedelta(seconds=60)


@pytest.mark.parametrize("value", ["tomorrow", "2026-11-26T09:00:00", "2026-13-01T00:00:00+00:00",
                                   "2026-11-26T09:00:00+00:00@", "2026-11-26T09:00:00+00:00@soon",
                                   "2026-11-26T09:00:00+00:00@nan"])
def test_a_clock_that_is_not_an_instant_with_its_offset_is_refused(home_dir: Path, value: str) -> None:
    r = fte_cli("status", "--home", home_dir, code=2, env={CLOCK_ENV: value})
    assert CLOCK_ENV in r.output and "offset" in r.output and "Traceback" not in r.output


def test_the_clock_runs_from_the_instant_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOCK_ENV, "2030-01-01T12:00:00+01:00")
    assert start_clock() == datetime(2030, 1, 1, 11, 0, tzinfo=timezone.utc)
    first, second = utcnow(), utcnow()
    assert datetime(2030, 1, 1, 11, 0, tzinfo=timezone.utc) <= first <= second < first + timedelta(seconds=5)
    monkeypatch.setenv(CLOCK_ENV, "")
    assert start_clock() is None
    assert abs(utcnow() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    monkeypatch.setenv(CLOCK_ENV, "soon")
    with pytest.raises(BadInput):
        start_clock()


def test_processes_given_one_anchored_value_agree_and_see_time_move_on(home_dir: Path) -> None:
    """``INSTANT@UNIX``: the instant as of that system-clock reading; commands run one after the
    other see later times (each bare ``INSTANT`` would start again at the instant)."""
    FakeClock(datetime(2040, 5, 6, 7, 8, tzinfo=timezone.utc))
    seen = []
    for _ in range(3):
        found = doctor_clock(home_dir)
        seen.append(parse_iso(found["detail"].rsplit(": ", 1)[1]))
    assert seen == sorted(seen) and len(set(seen)) == 3
    assert seen[0] >= datetime(2040, 5, 6, 7, 8, tzinfo=timezone.utc) and seen[-1] - seen[0] < timedelta(minutes=1)
