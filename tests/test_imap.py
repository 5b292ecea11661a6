"""The IMAP source against a real Dovecot on 127.0.0.1 (tests/fakes/dovecot.py)."""

from __future__ import annotations

import email
import email.policy
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
from hosts import HostRun

from fte.errors import Unreachable
from fte.io.channels.imap import ImapAccount, ImapSource

_folders = itertools.count()


def source_for(server: Any, folder: str | None = None, poll_every: float = 60.0, **over: Any) -> ImapSource:
    folder = server.folder(folder or f"Test{next(_folders)}")
    fields = dict(host=server.host, port=server.port, security="none", username=server.user,
                  password=server.password, folder=folder, timeout=10.0) | over
    return ImapSource(ImapAccount(**fields), poll_every=poll_every)


def test_new_mail_is_read_in_order_from_the_cursor_and_nothing_is_marked_read(dovecot: Any) -> None:
    src = source_for(dovecot)
    folder = src.account.folder
    first = [dovecot.deliver(i, folder) for i in (1, 2)]
    polled = src.poll(None)
    assert [m.message_id for m in polled.items] == first
    again = src.poll(polled.cursor)
    assert again.items == [] and again.cursor == polled.cursor
    third = dovecot.deliver(3, folder)
    assert [m.message_id for m in src.poll(again.cursor).items] == [third]
    assert all(b"\\Seen" not in flags for flags in dovecot.flags(folder).values())  # nothing marked read


def test_a_changed_uidvalidity_reads_the_folder_again_and_says_so(dovecot: Any) -> None:
    src = source_for(dovecot)
    ids = [dovecot.deliver(i, src.account.folder) for i in (10, 11)]
    cursor = src.poll(None).cursor
    validity, _, last = cursor.partition(":")
    rebuilt = src.poll(f"{int(validity) + 1}:{last}")  # the server's folder was rebuilt meanwhile
    assert [m.message_id for m in rebuilt.items] == ids  # known ones are recognised by Message-ID later
    assert rebuilt.notices and "UIDVALIDITY changed" in rebuilt.notices[0]


def test_a_server_that_cannot_be_reached_or_refuses_the_login_is_unreachable(dovecot: Any) -> None:
    with pytest.raises(Unreachable):
        source_for(dovecot, password="wrong").poll(None)
    with pytest.raises(Unreachable):
        ImapSource(ImapAccount("127.0.0.1", 1, "none", "fte", "x", timeout=2)).poll(None)


def test_idle_wakes_the_daemon_when_a_mail_arrives(dovecot: Any) -> None:
    src = source_for(dovecot)
    wake = threading.Event()
    stop = src.watch(wake)
    try:
        assert not wake.wait(1.5), "woken with nothing new"
        dovecot.deliver(20, src.account.folder)
        assert wake.wait(20), "IDLE did not say a mail arrived"
    finally:
        stop()


def test_the_daemon_turns_an_imap_mail_into_a_threaded_reply(dovecot: Any, home_dir: Path) -> None:
    folder = source_for(dovecot).account.folder
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text() + f'\n[sources.imap]\nenabled = true\nhost = "127.0.0.1"\nport = {dovecot.port}\n'
                    f'security = "none"\nusername = "{dovecot.user}"\nfolder = "{folder}"\n')
    (home_dir / ".env").write_text(f"FTE_IMAP_PASSWORD={dovecot.password}\n")
    (home_dir / ".env").chmod(0o600)
    message_id = dovecot.deliver(30, folder, subject="Opening hours?")
    run = HostRun(home_dir)
    try:
        run.tick()
        [task] = [t for t in run.home.store.tasks(state="pending") if t.source == "imap"]
        assert task.params["in_reply_to"] == message_id and task.title == "Opening hours?"
        run.tick()
        assert [t.id for t in run.home.store.tasks(state="pending") if t.source == "imap"] == [task.id]  # once
        from conftest import fte_cli

        fte_cli("approve", task.id, "--home", str(home_dir))
        run.tick()
        [sent] = list((home_dir / "outbox" / "new").iterdir())
        reply = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
        assert reply["In-Reply-To"] == message_id and message_id in str(reply["References"])
        assert reply["To"] == "c30@example.com"
    finally:
        run.close()


def test_a_running_daemon_is_woken_by_idle_not_by_its_interval(dovecot: Any, home_dir: Path) -> None:
    """The daemon starts the IMAP source's watch (fte/host/loop.py): with an hour between ticks, a new
    mail still becomes a task at once. (How soon: bench/imap_idle.py, docs/BENCHMARKS.md.)"""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    from fte.host.home import open_home

    folder = source_for(dovecot).account.folder
    toml = home_dir / "fte.toml"
    text = re.sub(r"(?m)^sync_interval = .*$", "sync_interval = 3600", toml.read_text())
    toml.write_text(text + f'\n[sources.imap]\nenabled = true\nhost = "127.0.0.1"\nport = {dovecot.port}\n'
                    f'security = "none"\nusername = "{dovecot.user}"\nfolder = "{folder}"\n')
    (home_dir / ".env").write_text(f"FTE_IMAP_PASSWORD={dovecot.password}\n")
    os.chmod(home_dir / ".env", 0o600)
    proc = subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--home", str(home_dir)],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "fte daemon:" in proc.stderr.readline()
        time.sleep(2)  # the first tick is done and the watch is idling
        message_id = dovecot.deliver(40, folder)
        deadline = time.monotonic() + 60
        found = []
        while time.monotonic() < deadline and not found:
            with open_home(home_dir, repair=False) as h:
                found = [t for t in h.store.tasks() if t.source_ref == message_id]
            time.sleep(0.2)
        assert found, "the new mail did not wake the daemon"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
