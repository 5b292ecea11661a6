"""Helpers shared by the benchmarks: hosts in a temp folder, mails, timers, the machine's description."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, git {git_version()}"


def git_version() -> str:
    return subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[-1]


def drop_mails(inbox: Path, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        msg = EmailMessage()
        msg["From"] = f"Customer {i} <c{i}@example.com>"
        msg["To"] = "me@example.com"
        msg["Subject"] = f"Question number {i}"
        msg["Message-ID"] = f"<bench-{i}@example.com>"
        msg.set_content(f"Hello, this is question {i}. Could you answer?\n")
        # Delivered as a Maildir delivery agent does: written in tmp/, then renamed into new/ (a
        # reader of new/ never sees half a file — a direct write there once gave the soak a torn mail).
        tmp = inbox / "tmp" / f"{i}.bench"
        tmp.parent.mkdir(exist_ok=True)
        tmp.write_bytes(bytes(msg))
        os.replace(tmp, inbox / "new" / f"{i}.bench")


@dataclass
class Timer:
    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> "Timer":
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The current resident memory of this process (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return max_rss_mb()
