from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from fte.home import Home, init_home, open_home


class FakeClock:
    """A clock the test moves by hand: no sleeps."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


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
