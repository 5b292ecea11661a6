"""Two local executors race for the same 50 approved tasks, in two real processes: each runs once."""

from __future__ import annotations

import email
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from hosts import HostRun, bare_remote, drop_mail, make_host, raise_limits

from fte.daemon import TickReport
from fte.states.reconcile import approve

N = 50

WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fte.host.home import open_home
    from fte.daemon import Runner
    with open_home(Path(sys.argv[1])) as home:
        runner = Runner(home)
        for _ in range(30):
            runner.tick()
            if not home.store.tasks(state="approved") and not home.store.tasks(state="claimed"):
                break
    """
)


def sent_task_ids(outbox: Path) -> list[str]:
    ids = []
    for f in (outbox / "new").iterdir():
        ids.append(email.message_from_bytes(f.read_bytes())["X-FTE-Task"])
    return ids


def test_two_executors_race_for_fifty_tasks(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    cloud_home = make_host(tmp_path, "cloud", "cloud", remote)
    a_home = make_host(tmp_path, "alpha", "local", remote)
    b_home = make_host(tmp_path, "beta", "local", remote)
    raise_limits(a_home), raise_limits(b_home)
    for i in range(N):
        drop_mail(cloud_home, i)
    cloud = HostRun(cloud_home)
    cloud.tick()
    cloud.close()
    a = HostRun(a_home)
    a.tick()
    pending = a.home.store.tasks(state="pending")
    assert len(pending) == N
    for task in pending:
        approve(a.home.lifecycle, a.runner.trust, task, "ann", "cli")
    a.runner.publish(TickReport())
    a.close()
    b = HostRun(b_home)
    b.runner.sync_in(TickReport())
    assert len(b.home.store.tasks(state="approved")) == N  # verified with the shared approval key
    b.close()

    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(h)], stderr=subprocess.PIPE, text=True)
             for h in (a_home, b_home)]
    for p in procs:
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err

    sent = sent_task_ids(a_home / "outbox") + sent_task_ids(b_home / "outbox")
    counts = Counter(sent)
    assert len(counts) == N and set(counts.values()) == {1}, counts.most_common(3)
    a, b = HostRun(a_home), HostRun(b_home)
    a.tick(), b.tick()
    by_a = {t.id for t in a.home.store.tasks(state="done") if t.claimed_by == "alpha"}
    by_b = {t.id for t in b.home.store.tasks(state="done") if t.claimed_by == "beta"}
    assert by_a | by_b == set(counts) and not (by_a & by_b)
    # Every execution row belongs to the host that sent the mail.
    for run, outbox in ((a, a_home), (b, b_home)):
        mine = set(sent_task_ids(outbox / "outbox"))
        executed = {t.id for t in run.home.store.tasks() if run.home.store.executions(t.id)}
        assert executed == mine
    a.close(), b.close()
