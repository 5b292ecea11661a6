"""``fte demo``: the whole cloud → local → approve → execute flow, offline, in a temporary folder.

Everything is real — two homes with their own SQLite files, a bare git remote, Maildir folders —
and nothing leaves the machine: the reply is delivered to the local host's outbox Maildir.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Callable

from fte.clock import utcnow
from fte.daemon import Runner
from fte.host.home import init_home, open_home, trust_host

SAMPLES = [
    ("Maria Lopez <maria@lopez-design.example>", "Invoice for the October logo work?",
     "Hi,\n\nCould you send me the invoice for the logo work we did in October?\nI'd like to pay it this week.\n\nThanks,\nMaria"),
    ("Tom Becker <tom@becker-gmbh.example>", "Meeting next Tuesday",
     "Hello,\n\nAre we still on for Tuesday at 10:00? I'll bring the draft contract.\n\nBest,\nTom"),
    ("Newsletter <no-reply@news.example>", "Your weekly digest",
     "Ten things you missed this week..."),
]


def _mail(n: int, sender: str, subject: str, text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "me@example.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<demo-{n}-{int(time.time())}@example.com>"
    msg.set_content(text + "\n")
    return bytes(msg)


def run_demo(folder: Path | None = None, keep: bool = True, echo: Callable[[str], None] = print) -> int:
    started = time.monotonic()
    root = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="fte-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    step = iter(range(1, 100))

    def say(text: str) -> None:
        echo(f"\n[{next(step)}] {text}")

    say(f"Building two hosts and a git remote in {root}")
    remote = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    cloud_home, local_home = root / "cloud", root / "local"
    init_home(cloud_home, role="cloud", agent="cloud", remote=str(remote))
    init_home(local_home, role="local", agent="laptop", remote=str(remote))
    trust_host(cloud_home, local_home)  # the cloud verifies what the laptop signs
    echo(f"    cloud host (drafts only):        {cloud_home}")
    echo(f"    local host (approves, executes): {local_home}")

    say("Three mails arrive in the cloud host's Maildir")
    for n, (sender, subject, text) in enumerate(SAMPLES):
        path = cloud_home / "inbox" / "new" / f"{int(time.time())}.{n}.demo"
        path.write_bytes(_mail(n, sender, subject, text))
        echo(f"    from {sender}: {subject}")

    cloud, local = open_home(cloud_home), open_home(local_home)
    try:
        cloud_run, local_run = Runner(cloud), Runner(local)

        say("Cloud tick: detect, draft, push")
        r = cloud_run.tick()
        echo(f"    detected {r.detected} (the no-reply newsletter is skipped), drafted {r.drafted}, pushed to the remote")

        say("Local tick: pull, present for approval")
        r = local_run.tick()
        pending = local.store.tasks(state="pending")
        echo(f"    {r.presented} draft(s) now wait in {local.settings.vault / 'Pending_Approval'}:")
        for task in pending:
            echo(f"      {task.note_path}")
        if not pending:
            echo("    nothing arrived — the demo failed")
            return 1
        first = pending[0]
        assert first.note_path is not None
        note = local.vault.path(first.note_path)
        echo("\n    --- " + first.note_path + " ---")
        for line in note.read_text(encoding="utf-8").splitlines()[:22]:
            echo("    " + line)
        echo("    ---")

        say("The person approves the first draft — a move in Obsidian, done here with a rename:")
        target = local.vault.root / "Approved" / note.name
        os.replace(note, target)
        echo(f"    mv {first.note_path} Approved/{note.name}")
        if len(pending) > 1:
            second = local.vault.path(pending[1].note_path or "")
            os.replace(second, local.vault.root / "Rejected" / second.name)
            echo(f"    mv {pending[1].note_path} Rejected/{second.name}   (rejected)")

        say("Local ticks: record the signed approval, claim (push = lock), send, file the note in Done/")
        for _ in range(5):
            r = local_run.tick()
            echo(f"    tick: claimed {r.claimed}, executed {r.executed}, failed {r.failed}")
            if local.store.get(first.id).state in ("done", "failed"):
                break
        done = local.store.get(first.id)
        sent = sorted((local_home / "outbox" / "new").iterdir())
        echo(f"    task {done.short_id} is {done.state}; note: {done.note_path}")
        if sent:
            import email
            from email import policy

            msg = email.message_from_bytes(sent[0].read_bytes(), policy=policy.default)
            echo(f"    the reply, delivered to the outbox Maildir ({sent[0].parent}):")
            for header in ("To", "Subject", "Message-ID", "In-Reply-To", "X-FTE-Task"):
                echo(f"      {header}: {msg[header]}")
            body = msg.get_body(preferencelist=("plain",))
            for line in (body.get_content() if body else "").splitlines():
                echo("      | " + line)

        say("Cloud tick: it sees what happened (observe: forward only)")
        cloud_run.tick()
        echo("    cloud's view: " + ", ".join(f"{t.short_id} {t.state}" for t in cloud.store.tasks()))

        say(f"The audit timeline of {done.short_id} on the local host")
        for t in local.store.timeline(done.id):
            echo(f"    {t.at:%H:%M:%S}  {t.event:<10} {t.from_state or '-':>9} → {t.to_state:<9} by {t.actor} ({t.source})")
        ok = done.state == "done" and len(sent) == 1
    finally:
        cloud.close()
        local.close()

    elapsed = time.monotonic() - started
    say(f"{'Done' if ok else 'FAILED'} in {elapsed:.1f} s. Everything is in {root}")
    echo(f"    fte status --home {local_home}")
    echo(f"    fte show {done.short_id} --home {local_home}")
    echo(f"    fte sql \"SELECT at, event, actor, source FROM transitions\" --home {local_home}")
    echo(f"    git -C {local_home / 'vault'} log --oneline")
    if not keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1
