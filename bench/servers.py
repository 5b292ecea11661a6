"""Load on the two servers fte runs, on loopback (bounded: a minute or two).

A. The WhatsApp webhook (``fte/io/channels/whatsapp.py``): ``--requests`` signed messages sent by
   ``--clients`` concurrent clients, while ``--idle`` connections sit open sending nothing (a slow
   client or an attacker holding sockets); then requests with a hostile ``Content-Length: -1``.
   Reports accepted / refused, latency percentiles, requests per second, and the process's peak RSS.
B. The MCP write tools (``fte mcp`` over stdio, real processes, against the fake Odoo): ``--mcp-procs``
   servers at once, each making ``--mcp-calls`` invoice tasks, beside a daemon ticking.

    python bench/servers.py --requests 2000 --clients 200 --idle 200 --mcp-procs 5 --mcp-calls 20
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import machine  # noqa: E402

TOKEN = "bench-token"
PUBLIC = "https://fte.example.com/whatsapp"


def webhook(requests: int, clients: int, idle: int) -> None:
    from twilio.request_validator import RequestValidator

    from fte.io.channels.whatsapp import make_server

    with tempfile.TemporaryDirectory(prefix="fte-bench-wa-") as tmp:
        server = make_server(Path(tmp) / "spool", TOKEN, PUBLIC, port=0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        port = server.server_address[1]
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
        validator = RequestValidator(TOKEN)

        def one(i: int) -> tuple[int, float]:
            fields = {"MessageSid": f"SM{i:032d}", "From": "whatsapp:+4915112345678", "To": "whatsapp:+1415",
                      "Body": f"message {i}"}
            req = urllib.request.Request(f"http://127.0.0.1:{port}/whatsapp", data=urllib.parse.urlencode(fields).encode(),
                                         method="POST")
            req.add_header("X-Twilio-Signature", validator.compute_signature(PUBLIC, fields))
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0  # reset or timed out
            return status, time.perf_counter() - started

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - started
        hostile_started = time.perf_counter()
        hostile = []
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                sock.sendall(b"POST /whatsapp HTTP/1.1\r\nContent-Length: -1\r\n\r\n")
                hostile.append(sock.recv(64).split(b" ", 2)[1].decode())
        hostile_s = (time.perf_counter() - hostile_started) / 20
        for sock in held:
            sock.close()
        server.shutdown()
        server.server_close()
        spooled = len(list((Path(tmp) / "spool" / "new").glob("*.json")))
    ok = [t for s, t in results if s == 200]
    statuses: dict[int, int] = {}
    for s, _t in results:
        statuses[s] = statuses.get(s, 0) + 1
    lat = sorted(t * 1000 for _s, t in results)
    print(f"A. webhook: {requests} signed requests, {clients} concurrent clients, {idle} idle connections held open")
    print(f"   answered: {statuses} (0 = reset or timed out); spooled {spooled}")
    print(f"   {len(ok) / elapsed:.0f} requests/s; latency p50 {statistics.median(lat):.1f} ms, "
          f"p99 {lat[int(len(lat) * 0.99) - 1]:.1f} ms, max {lat[-1]:.1f} ms")
    print(f"   Content-Length -1: answered {sorted(set(hostile))} in {hostile_s * 1000:.1f} ms each")
    print(f"   peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def mcp(procs: int, calls: int) -> None:
    from fakes.odoo_server import FakeOdoo
    from hosts import HostRun
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from fte.host.home import init_home, open_home

    with tempfile.TemporaryDirectory(prefix="fte-bench-mcp-") as tmp, FakeOdoo() as fake:
        home = Path(tmp) / "home"
        init_home(home, role="all", agent="laptop")
        toml = home / "fte.toml"
        toml.write_text(toml.read_text() + f'\n[odoo]\nurl = "{fake.url}"\ndb = "{fake.db}"\nlogin = "{fake.login}"\n')
        (home / ".env").write_text(f"FTE_ODOO_API_KEY={fake.api_key}\n")
        latencies: list[float] = []
        errors: list[str] = []

        async def server(n: int) -> None:
            params = StdioServerParameters(command=sys.executable, args=["-m", "fte", "mcp", "--home", str(home)])
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    for i in range(calls):
                        started = time.perf_counter()
                        out = await session.call_tool("create_invoice", {
                            "partner": f"Client {n}-{i}", "create_partner": True,
                            "lines": [{"description": "Work", "quantity": 1, "price_unit": 10 + i}]})
                        latencies.append(time.perf_counter() - started)
                        if out.is_error:
                            errors.append(out.content[0].text)

        async def everything() -> None:
            await asyncio.gather(*(server(n) for n in range(procs)))

        run = HostRun(home)
        ticking = True

        def ticker() -> None:
            while ticking:
                run.tick()

        thread = threading.Thread(target=ticker)
        thread.start()
        started = time.perf_counter()
        asyncio.run(everything())
        elapsed = time.perf_counter() - started
        ticking = False
        thread.join()
        run.tick()
        with open_home(home, repair=False) as h:
            made = len(h.store.tasks())
        run.close()
    lat = sorted(t * 1000 for t in latencies)
    print(f"B. MCP: {procs} `fte mcp` processes × {calls} create_invoice calls, beside a daemon ticking")
    print(f"   tasks made {made} of {procs * calls}; errors {len(errors)} {errors[:2]}")
    print(f"   {len(lat) / elapsed:.1f} calls/s; latency p50 {statistics.median(lat):.0f} ms, "
          f"p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms, max {lat[-1]:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--mcp-procs", type=int, default=5)
    ap.add_argument("--mcp-calls", type=int, default=20)
    args = ap.parse_args()
    print(machine())
    webhook(args.requests, args.clients, args.idle)
    mcp(args.mcp_procs, args.mcp_calls)


if __name__ == "__main__":
    main()
