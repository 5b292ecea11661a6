from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result

from fte.clock import CLOCK_ENV, iso, start_clock
from fte.host.home import Home, init_home, open_home

#: Where every test's clock starts unless it says otherwise. Nothing may depend on the wall clock:
#: ``.ci/run`` runs the clock-sensitive files again with the system clock moved (faketime).
TEST_EPOCH = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class FakeClock:
    """A clock the test moves by hand: no sleeps. The test's clock is also every process's that the
    test starts (and every in-process ``fte`` command): it is published as ``FTE_CLOCK`` each time
    it is made or moved, so a subprocess starts at this clock's "now" (docs/settings.md)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or TEST_EPOCH

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        self._now = value
        os.environ[CLOCK_ENV] = clock_value(value)
        start_clock()  # this process's own default clock too (a HostRun opened without a clock)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def clock_value(now: datetime) -> str:
    """``FTE_CLOCK`` for "it is ``now`` at this moment": every process started with it agrees on the
    time and sees it run on, so commands run one after the other see it move forward."""
    return f"{iso(now)}@{time.time():.6f}"


@pytest.fixture(autouse=True)
def _every_process_on_the_tests_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts at TEST_EPOCH in this process and in every process it starts; the variable
    is put back after the test (monkeypatch restores what a FakeClock published)."""
    monkeypatch.setenv(CLOCK_ENV, clock_value(TEST_EPOCH))
    start_clock()
    yield
    monkeypatch.undo()
    start_clock()


def fte_cli(*args: Any, code: int | None = 0, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """``fte ARGS`` in this process (click's runner), failing the test unless it exits ``code``
    (None: any code, for a test that asserts on the result itself)."""
    r = CliRunner().invoke(_cli(), [str(a) for a in args], input=input, env=env)
    if code is not None and r.exit_code != code:
        import traceback

        trace = "".join(traceback.format_exception(r.exception)) if r.exception and r.exit_code == 1 else ""
        pytest.fail(f"fte {' '.join(map(str, args))}: exit {r.exit_code}, expected {code}\n{r.output}{trace}")
    return r


def fte_process(*args: Any, code: int | None = 0, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``python -m fte ARGS`` as its own process (it inherits the test's clock through FTE_CLOCK),
    failing the test unless it exits ``code`` (None: any code)."""
    p = subprocess.run([sys.executable, "-m", "fte", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if code is not None and p.returncode != code:
        pytest.fail(f"fte {' '.join(map(str, args))}: exit {p.returncode}, expected {code}\n{p.stdout}{p.stderr}")
    return p


def _cli() -> Any:
    from fte.cli import cli

    return cli


def set_debounce(home: Path, seconds: float) -> None:
    """``[notes] debounce`` of a home. Test homes read the person's edits at once (0): a test that
    edits a note and then ticks means "the person stopped typing"; the debounce has its own tests."""
    toml = home / "fte.toml"
    text, n = re.subn(r"(?m)^debounce = [0-9.]+", f"debounce = {seconds}", toml.read_text(), count=1)
    assert n == 1, "fte init writes a [notes] debounce line"
    toml.write_text(text)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def home_dir(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    init_home(home, role="all", agent="laptop")
    set_debounce(home, 0)
    return home


@pytest.fixture
def home(home_dir: Path, clock: FakeClock) -> Iterator[Home]:
    with open_home(home_dir, clock=clock) as h:
        yield h


def new_task(h: Home, ref: str = "<m1@example.com>", title: str = "Invoice question", **kw: object):
    task, _ = h.lifecycle.detect(
        kind="email.reply", source="maildir", source_ref=ref, title=title,
        params={"to": "ann@example.com", "subject": f"Re: {title}"}, original="Hello?", **kw,
    )
    return task


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Any]:
    """A real IMAP server (Dovecot, Debian's ``dovecot-imapd``) on loopback, one per test process;
    each test reads its own folder. Missing Dovecot is an error, not a skip: ``.ci/run`` installs it.
    Its folder is not under pytest's (mode 0700): as root, Dovecot reads it as its own users."""
    import shutil
    import tempfile

    from fakes import dovecot as server

    if not server.available():
        pytest.fail("the IMAP tests need Dovecot (Debian: apt-get install dovecot-imapd); .ci/run installs it")
    root = Path(tempfile.mkdtemp(prefix="fte-dovecot-"))
    started = server.start(root)
    yield started
    started.stop()
    shutil.rmtree(root, ignore_errors=True)
