"""Signals without deadlocks: handlers only set flags, and a thread wakes whoever waits.

A Python signal handler runs in the main thread between two bytecodes, whatever lock that thread
holds at the moment; a handler that calls ``Event.set()`` can land inside the same Event's lock and
deadlock the process for good (it hung a daemon on SIGHUP). :class:`SignalRelay` wakes an Event
from a thread instead, on the byte the interpreter writes to its wakeup fd for every signal.
``tests/test_layout.py`` holds the rule: a handler (a function named ``on_*`` in a module that
installs one) only assigns.
"""

from __future__ import annotations

import os
import signal
import threading


class SignalRelay:
    """Wakes ``wake`` when a signal arrives, outside the signal handler: the interpreter writes each
    signal's number to a pipe (:func:`signal.set_wakeup_fd`), and a thread reading it sets the
    event. Main thread only."""

    def __init__(self, wake: threading.Event) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._relay, args=(wake,), name="fte-signals", daemon=True)
        self._thread.start()

    def _relay(self, wake: threading.Event) -> None:
        while True:
            try:
                data = os.read(self._read, 64)
            except OSError:
                return
            if not data:
                return  # closed
            wake.set()

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        os.close(self._write)  # the reader sees the end and stops
        self._thread.join(timeout=5)
        os.close(self._read)
