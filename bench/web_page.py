"""How fast ``fte web`` answers with many tasks waiting: ``--tasks`` mails drafted and presented on
an ``all`` host, a device signed in, then the list page and one task's page fetched ``--rounds``
times over HTTP on loopback (keep-alive), each timed from the request to the last byte.

    python bench/web_page.py --tasks 50 --rounds 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import httpx
from common import drop_mails, machine

from fte.clock import utcnow
from fte.daemon import Runner
from fte.frontends.web import WebApp, make_server
from fte.host.devices import Devices
from fte.host.home import init_home, open_home


def _timed(client: httpx.Client, path: str, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        r = client.get(path)
        assert r.status_code == 200, r.status_code
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        init_home(home, role="all", agent="bench")
        toml = home / "fte.toml"
        toml.write_text(toml.read_text().replace('"email.reply" = 10\n', '"email.reply" = 100000\n'))
        drop_mails(home / "inbox", args.tasks)
        with open_home(home) as h:
            Runner(h).tick()
            waiting = [t.id for t in h.store.tasks(state="pending")]
        assert len(waiting) == args.tasks, len(waiting)
        server = make_server(WebApp(home), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with httpx.Client(base_url=url, timeout=30) as client:
            client.post("/login", data={"token": Devices(home).add("bench", utcnow()), "next": "/"})
            listing = _timed(client, "/", args.rounds)
            one = _timed(client, f"/task/{waiting[0]}", args.rounds)
        server.shutdown()
    print(f"machine: {machine()}")
    for name, ms in (("list", listing), ("task", one)):
        q = statistics.quantiles(ms, n=100)
        print(f"{name} page, {args.tasks} waiting: median {statistics.median(ms):.1f} ms, p95 {q[94]:.1f} ms, "
              f"max {max(ms):.1f} ms ({args.rounds} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
