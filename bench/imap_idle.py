"""How soon an IMAP mail wakes the daemon: a real Dovecot on loopback (tests/fakes/dovecot.py), the
IMAP source's watch in IDLE on a folder, ``--mails`` mails appended by another client one after
another; reports the time from the start of each append (its own connect and login included) to
the wake, and how long the watch takes to stop.

    python bench/imap_idle.py --mails 20
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import machine
from fakes import dovecot as server

from fte.io.channels.imap import ImapAccount, ImapSource


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mails", type=int, default=20)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fte-dovecot-"))
    imap = server.start(root)
    try:
        c = imap.client()
        c.create_folder("Bench")
        c.logout()
        src = ImapSource(ImapAccount(imap.host, imap.port, "none", imap.user, imap.password, "Bench", timeout=10))
        wake = threading.Event()
        stop = src.watch(wake)
        time.sleep(1.5)  # connected and idling
        waits = []
        for i in range(args.mails):
            wake.clear()
            t0 = time.monotonic()
            imap.deliver(i, "Bench")
            waits.append(time.monotonic() - t0 if wake.wait(30) else float("inf"))
            time.sleep(0.2)
        t0 = time.monotonic()
        stop()
        stopped = time.monotonic() - t0
    finally:
        imap.stop()
        shutil.rmtree(root, ignore_errors=True)
    waits.sort()
    print(f"{machine()}; Dovecot on 127.0.0.1, {args.mails} mails")
    print(f"append → wake: min {waits[0]:.3f} s, median {waits[len(waits) // 2]:.3f} s, max {waits[-1]:.3f} s; "
          f"the watch stops in {stopped:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
