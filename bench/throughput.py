"""Throughput: N mails into an `all` host's Maildir → all `pending`; N approvals (moves) → all `done`.

    python bench/throughput.py --mails 1000

Reports, per stage, the wall time and this process's CPU time, per task, and the peak memory.
Goal (issue 9): under 5 ms of the host's time per task per stage; under 150 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, drop_mails, machine, max_rss_mb  # noqa: E402

from fte.daemon import Runner  # noqa: E402
from fte.host.home import init_home, open_home  # noqa: E402


def run(n: int, root: Path) -> dict[str, float]:
    home = root / "h"
    init_home(home, role="all", agent="bench")
    toml = home / "fte.toml"
    toml.write_text(toml.read_text().replace('"email.reply" = 10\n', f'"email.reply" = {n * 10}\n'))
    drop_mails(home / "inbox", n)
    out: dict[str, float] = {}
    with open_home(home) as h:
        runner = Runner(h)
        with Timer() as t1:
            ticks = 0
            while len(h.store.tasks(state="pending")) < n and ticks < 10:
                runner.tick()
                ticks += 1
        out |= {"pending_wall": t1.wall, "pending_cpu": t1.cpu, "pending_ticks": ticks}
        pending = h.vault.root / "Pending_Approval" / "email"
        for note in pending.iterdir():
            os.replace(note, h.vault.root / "Approved" / note.name)
        with Timer() as t2:
            ticks = 0
            while h.store.counts().get("done", 0) < n and ticks < 10:
                runner.tick()
                ticks += 1
        out |= {"done_wall": t2.wall, "done_cpu": t2.cpu, "done_ticks": ticks}
        assert h.store.counts().get("done", 0) == n, h.store.counts()
    out["rss_mb"] = max_rss_mb()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mails", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fte-bench-") as tmp:
        r = run(args.mails, Path(tmp))
    n = args.mails
    print(machine())
    print(f"{n} mails → pending: {r['pending_wall']:.1f} s wall, {r['pending_cpu']:.1f} s CPU, "
          f"{r['pending_wall'] / n * 1000:.1f} ms/task wall, {r['pending_cpu'] / n * 1000:.1f} ms/task CPU ({r['pending_ticks']:.0f} ticks)")
    print(f"{n} approvals → done: {r['done_wall']:.1f} s wall, {r['done_cpu']:.1f} s CPU, "
          f"{r['done_wall'] / n * 1000:.1f} ms/task wall, {r['done_cpu'] / n * 1000:.1f} ms/task CPU ({r['done_ticks']:.0f} ticks)")
    print(f"peak memory {r['rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
