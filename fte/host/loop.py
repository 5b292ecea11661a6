"""``fte daemon``: the per-host loop around :class:`fte.daemon.Runner`.

* One daemon per home: an ``flock`` on ``<home>/daemon.lock`` (the second one is refused).
* Signal handlers only set flags (huey's habit): SIGTERM/SIGINT finish the current tick and exit 0
  (a sync in progress stops at its next step: push retries and recoveries ask the flag);
  SIGHUP re-reads ``fte.toml`` before the next tick.
* A tick runs when the vault changes (file-system events through ``watchdog``: a person's move is
  acted on within about a second), or when ``daemon.sync_interval`` has passed; while the remote is
  unreachable the interval doubles, up to ten times the setting (backoff), and is reset by success.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fte.clock import CLOCK_ENV, Clock, clock_pinned, iso, utcnow
from fte.host.doctor import readable_by_others, secret_files
from fte.config import load_settings
from fte.daemon import Runner, TickReport
from fte.errors import AlreadyRunning, FteError
from fte.host.home import Home, open_home
from fte.io.vault.notes import TASK_FOLDERS
from fte.support.signals import SignalRelay

DEBOUNCE = 0.2


@dataclass
class Flags:
    stop: bool = False
    reload: bool = False


class DaemonLock:
    def __init__(self, home: Path) -> None:
        self.path = home / "daemon.lock"
        self.fd: int | None = None

    def __enter__(self) -> "DaemonLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(f"another fte daemon is running on this home (pid {other or '?'})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


_DECISION = re.compile(r"^(?P<event>approve|reject|edit|invalidate): (?P<task>[0-9a-f]{8}) .* by (?P<actor>\S+) -> ")
_TROUBLE = ("error", "failed", "refused", "not delivered", "unreachable", "held", "warning")


def log_line(message: str, fmt: str = "text") -> str:
    """A daemon log line: the message as it is (``text``), or one JSON object with the time, a level,
    the message and, for the person's decisions and edits, their event, task and actor (``json``)."""
    if fmt != "json":
        return message
    record: dict[str, Any] = {"at": iso(utcnow()), "level": "warning" if any(w in message for w in _TROUBLE) else "info",
                              "message": message}
    m = _DECISION.match(message)
    if m:
        record.update(m.groupdict())
    return json.dumps(record, ensure_ascii=False)


def worth_waking(path: Path, vault: Path) -> bool:
    """Whether a change at ``path`` is one a tick acts on: a task note (or a folder of them) in the
    vault, or anything in another watched folder (the Maildir). Obsidian's own files, the person's
    other notes, fte's logs, dashboard and quarantine, git and temp files never wake the daemon."""
    try:
        parts = path.relative_to(vault).parts
    except ValueError:
        return ".fte-tmp-" not in path.name and not path.name.startswith(".")
    if not parts or parts[0] not in TASK_FOLDERS or any(p.startswith(".") for p in parts):
        return False
    return path.suffix == ".md" or "." not in path.name  # a note, or a folder moved with notes in it


class VaultWatcher:
    """Sets ``wake`` when something under the watched folders changes (ignoring .git and temp files):
    the vault (a person's moves) and, on drafting hosts, the Maildir's ``new/`` (incoming mail)."""

    def __init__(self, roots: Path | list[Path], wake: threading.Event) -> None:
        self.roots = [roots] if isinstance(roots, Path) else list(roots)
        self.wake = wake
        self.observer: Any = None

    def start(self) -> bool:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:  # pragma: no cover - watchdog is a dependency; polling is the fallback
            return False
        wake, vault = self.wake, self.roots[0]

        class Handler(FileSystemEventHandler):  # type: ignore[misc]
            def on_any_event(self, event: Any) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
                if any(p and worth_waking(Path(p), vault) for p in paths):
                    wake.set()

        try:
            self.observer = Observer()
            for root in self.roots:
                if root.is_dir():
                    self.observer.schedule(Handler(), str(root), recursive=True)
            self.observer.start()
        except OSError:
            self.observer = None
            return False
        return True

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)


#: Most seconds between looks at a remote that does not answer.
UNREACHABLE_LOOK = 8.0


class RemoteWatcher:
    """Sets ``wake`` when the remote's branch moved past what this host last fetched: another host
    pushed, so a sync now brings it in seconds instead of at the next ``sync_interval``.

    One ``git ls-remote`` every ``every`` seconds (a round trip; nothing is fetched, no lock is
    taken: it reads the remote and one ref). It wakes once per new remote head — if that sync
    fails, the loop's own backoff applies — and looks less often while the remote does not answer
    (doubling, up to :data:`UNREACHABLE_LOOK` seconds). The first answer after the remote was away
    wakes the loop too, so what waits to be pushed goes out in seconds, not at the end of the
    loop's backoff."""

    def __init__(self, remote_head: Callable[[], tuple[str | None, str | None]], every: float,
                 wake: threading.Event) -> None:
        self.remote_head = remote_head
        self.every = every
        self.wake = wake
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        #: The last remote head this woke the loop for.
        self.woken_for: str | None = None

    def start(self) -> bool:
        self._thread = threading.Thread(target=self._run, name="fte-remote-watch", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        delay = self.every
        away = False
        while not self._stopped.wait(delay):
            try:
                now, fetched = self.remote_head()
            except FteError:
                delay = min(max(delay * 2, self.every), max(UNREACHABLE_LOOK, self.every))
                away = True
                continue
            delay = self.every
            if away or (now is not None and now != fetched and now != self.woken_for):
                away = False
                self.woken_for = now
                self.wake.set()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def run_daemon(
    home: Path,
    once: bool = False,
    clock: Clock = utcnow,
    log: Callable[[str], None] = print,
    max_ticks: int | None = None,
) -> int:
    """Run the loop until a stop signal (or one tick with ``once``). Returns the exit code."""
    flags = Flags()
    wake = threading.Event()

    # The handlers only set flags. The wake comes from the signal's byte on a pipe (Python's own
    # wakeup fd), read by a thread: an Event.set() inside a handler deadlocked the daemon for good
    # when the signal landed while the main thread held that Event's lock (seen as a hung SIGHUP).
    def on_stop(_sig: int, _frame: Any) -> None:
        flags.stop = True

    def on_hup(_sig: int, _frame: Any) -> None:
        flags.reload = True

    previous: dict[signal.Signals, Any] = {}
    relay = None
    if threading.current_thread() is threading.main_thread():
        relay = SignalRelay(wake)
        for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_hup)):
            previous[sig] = signal.signal(sig, handler)
    try:
        load_settings(home)  # a folder that is not a home: a clear error before anything is created
        with DaemonLock(home):
            opened = open_home(home, clock=clock)
            opened.git.should_stop = lambda: flags.stop
            try:
                runner = Runner(opened, log=log)
                if opened.repaired:
                    log(f"repaired {opened.repaired} note(s) left behind by a crash")
                watcher = VaultWatcher(_roots(opened), wake)
                watching = False if (once or not opened.settings.file_events) else watcher.start()
                remote = RemoteWatcher(opened.git.remote_head, opened.settings.remote_check, wake)
                looking = bool(not once and opened.settings.remote and opened.settings.remote_check) and remote.start()
                unwatch = [] if once else _watch_sources(runner, wake)
                log(f"fte daemon: {opened.settings.role} host {opened.settings.agent!r}, vault {opened.settings.vault}"
                    + ("" if once else f", {'file events' if watching else 'polling'}")
                    + (f", the remote's head every {opened.settings.remote_check:g} s" if looking else ""))
                if clock_pinned() is not None:
                    log(f"fte daemon: warning: {CLOCK_ENV} sets the clock ({iso(clock())}), not the system")
                for path in secret_files(home):
                    if readable_by_others(path):
                        log(f"fte daemon: warning: {path} holds secrets and others can read it: chmod 600 {path}")
                ticks = 0
                failures = 0
                try:
                    while True:
                        # Cleared before the flags are read: a signal or an event from now on wakes the
                        # next wait. Cleared after (as it was), a SIGHUP landing between the two was
                        # lost until the next interval — forever where timed waits hang (faketime).
                        wake.clear()
                        gone = not (opened.settings.vault / ".git").exists()
                        if gone:  # deleted under the running daemon: opening the home again rebuilds it
                            log(f"fte daemon: warning: the vault {opened.settings.vault} is gone; it is made again "
                                "from the remote and the database")
                        if flags.reload or gone:
                            flags.reload = False  # before: a SIGHUP during the reload asks for another
                            reloaded = _reload(home, clock, log, "vault rebuilt" if gone else "settings reloaded")
                            if reloaded is not None:
                                opened.close()
                                opened, runner = reloaded
                                opened.git.should_stop = lambda: flags.stop
                                for stop in unwatch:
                                    stop()
                                unwatch = _watch_sources(runner, wake)
                                if watching:  # the folders it watched may be new ones
                                    watcher.stop()
                                    watcher = VaultWatcher(_roots(opened), wake)
                                    watching = watcher.start()
                        report = _tick(runner, log)
                        ticks += 1
                        failures = failures + 1 if report is None or report.sync_error else 0
                        if once or flags.stop or (max_ticks is not None and ticks >= max_ticks):
                            break
                        interval = opened.settings.sync_interval * min(2 ** failures, 10) if failures else opened.settings.sync_interval
                        timeout = interval if watching else min(interval, opened.settings.watch_interval)
                        if runner.reconciler.busy:  # an edit waits for the person to stop typing
                            timeout = min(timeout, opened.settings.note_debounce)
                        if report is not None and report.more_waiting and not failures:
                            continue  # a batch limit left approvals waiting: the next tick now
                        if wake.wait(timeout) and not flags.stop:
                            wake.wait(DEBOUNCE)  # let a burst of moves land together
                        if flags.stop:
                            break
                finally:
                    watcher.stop()
                    remote.stop()
                    for stop in unwatch:
                        stop()
            finally:
                opened.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if relay is not None:
            relay.close()
    log("fte daemon: stopped")
    return 0


def _watch_sources(runner: Runner, wake: threading.Event) -> list[Callable[[], None]]:
    """Start every source's own watch (IMAP IDLE: docs/channels.md) — each wakes the loop when its
    provider says something arrived; returns the functions that stop them."""
    watches = [getattr(source, "watch", None) for source in runner.intake.sources]
    return [watch(wake) for watch in watches if callable(watch)]


def _roots(opened: Home) -> list[Path]:
    """The folders whose file events wake the loop: the vault, and the Maildir's ``new/`` on a drafting host."""
    from fte.io.channels.registry import maildirs

    return [opened.settings.vault] + ([maildirs(opened.settings)[0] / "new"] if opened.settings.drafts else [])


def _reload(home: Path, clock: Clock, log: Callable[[str], None], done: str = "settings reloaded",
            ) -> tuple[Home, Runner] | None:
    """The home opened again (with its new settings; a vault that is gone made again), or None (said
    in the log) when the settings are bad: a typo made while the daemon runs never stops it, and the
    previous settings stay in force."""
    try:
        fresh = open_home(home, clock=clock)
    except FteError as exc:
        log(f"settings not reloaded, the previous ones stay in force: {exc}")
        return None
    try:
        runner = Runner(fresh, log=log)
    except FteError as exc:
        fresh.close()
        log(f"settings not reloaded, the previous ones stay in force: {exc}")
        return None
    log(done)
    return fresh, runner


def _tick(runner: Runner, log: Callable[[str], None]) -> TickReport | None:
    try:
        report = runner.tick()
    except FteError as exc:
        log(f"tick failed: {exc}")
        return None
    except Exception as exc:  # a bug or an OS error must not stop the host; the next tick retries
        if not (runner.home.settings.vault / ".git").exists():  # removed under this tick: made again next
            log(f"tick interrupted: the vault was removed while it ran ({type(exc).__name__})")
            return None
        import traceback

        log("tick crashed:\n" + traceback.format_exc())
        return None
    summary = {k: v for k, v in report.__dict__.items() if v and k != "events"}
    if summary:
        log("tick: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return report
