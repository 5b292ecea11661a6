"""The SMTP executor against a real SMTP server on 127.0.0.1 (aiosmtpd), plain, STARTTLS and TLS."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import trustme
from conftest import fte_cli
from fakes.smtp import Inbox, start_server

from fte.errors import BadInput
from fte.io.channels.contract import ExecutionError, OutcomeUnknown
from fte.io.channels.maildir import maildir_name
from fte.io.channels.smtp import SmtpExecutor, SmtpSettings
from fte.models.tables import Task

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def reply_task() -> Task:
    return Task(
        id="0123456789abcdef0123456789abcdef", kind="email.reply", body="Dear Ann,\n\nYes.\n",
        params={"to": "ann@example.com", "subject": "Re: Invoice", "in_reply_to": "<orig@example.com>",
                "references": "<root@example.com> <orig@example.com>"},
    )


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def cert_files(ca, tmp_path: Path):
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return leaf, str(ca_file)


def executor(controller, tmp_path: Path, **kw) -> SmtpExecutor:
    return SmtpExecutor(SmtpSettings(host="127.0.0.1", port=controller.port, sender="me@example.com",
                                     sent_path=tmp_path / "sent", **kw))


def test_a_reply_carries_threading_headers_and_the_key(tmp_path: Path) -> None:
    inbox = Inbox()
    server = start_server(inbox)
    try:
        ex = executor(server, tmp_path, security="none")
        task = reply_task()
        key = ex.key_for(task)
        assert key == "<fte.0123456789abcdef0123456789abcdef@example.com>"
        assert ex.lookup(key) is None
        ex.perform(task, key, NOW)
        [msg] = inbox.messages
        assert msg["Message-ID"] == key and msg["X-FTE-Task"] == task.id
        assert msg["In-Reply-To"] == "<orig@example.com>"
        assert msg["References"] == "<root@example.com> <orig@example.com>"
        assert msg["Subject"] == "Re: Invoice" and msg["To"] == "ann@example.com"
        assert msg.get_content().replace("\r\n", "\n") == "Dear Ann,\n\nYes.\n"  # CRLF on the wire
        assert inbox.envelopes[0].mail_from == "me@example.com"
        # A second attempt with the same key sends nothing.
        assert ex.lookup(key) == key
        ex.perform(task, key, NOW)
        assert len(inbox.messages) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_modes_with_login(tmp_path: Path, cert_files, mode: str) -> None:
    leaf, ca_file = cert_files
    inbox = Inbox()
    server = start_server(inbox, mode=mode, cert=leaf, auth=("me", "s3cret-pass"))
    try:
        ex = executor(server, tmp_path, security=mode, username="me", password="s3cret-pass", ca_file=ca_file)
        task = reply_task()
        ex.perform(task, ex.key_for(task), NOW)
        assert inbox.tls == [True] and inbox.messages[0]["X-FTE-Task"] == task.id
        bad = executor(server, tmp_path / "2", security=mode, username="me", password="wrong", ca_file=ca_file)
        with pytest.raises(ExecutionError, match="login refused"):
            bad.perform(task, "<other@example.com>", NOW)
    finally:
        server.stop()


def test_a_login_refused_for_now_is_transient(tmp_path: Path, cert_files) -> None:
    """454 at AUTH (RFC 4954: a temporary failure) is retried later, not "check the password"
    (found by mutation testing)."""
    leaf, ca_file = cert_files
    server = start_server(Inbox(), mode="ssl", cert=leaf, auth=("me", "s3cret-pass", "454 4.7.0 Temporary authentication failure"))
    try:
        ex = executor(server, tmp_path, security="ssl", username="me", password="s3cret-pass", ca_file=ca_file)
        with pytest.raises(ExecutionError) as info:
            ex.perform(reply_task(), "<k@example.com>", NOW)
        assert info.value.transient and "454" in str(info.value) and "login refused" not in str(info.value)
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused(tmp_path: Path, cert_files) -> None:
    leaf, _ca_file = cert_files
    server = start_server(Inbox(), mode="ssl", cert=leaf)
    try:
        ex = executor(server, tmp_path, security="ssl")  # the system CAs do not know the test CA
        with pytest.raises(ExecutionError) as info:
            ex.perform(reply_task(), "<k@example.com>", NOW)
        assert not info.value.transient or "not reachable" in str(info.value)
        assert not list((tmp_path / "sent" / "tmp").iterdir())  # nothing may have been sent
    finally:
        server.stop()


@pytest.mark.parametrize(("where", "reply", "transient"), [
    ("rcpt", "451 4.7.1 Greylisted, try again in 5 minutes", True),
    ("rcpt", "550 5.1.1 No such user here", False),
    ("data", "550 5.7.1 Message rejected as spam", False),
    ("data", "452 4.3.1 Insufficient system storage", True),
    ("data", "500 5.5.2 Syntax error, command unrecognized", False),
])
def test_a_reply_code_is_a_definite_answer_whatever_the_command(tmp_path: Path, where: str, reply: str,
                                                                transient: bool) -> None:
    """RFC 5321 §4.2.1: 4yz = not taken, try later; 5yz = not taken. Never "unknown": the server
    answered, so nothing was delivered, and the task can be retried (later, or when the person asks)."""
    inbox = Inbox(refuse_with=reply if where == "rcpt" else None, refuse_data_with=reply if where == "data" else None)
    server = start_server(inbox)
    try:
        ex = executor(server, tmp_path, security="none")
        with pytest.raises(ExecutionError) as info:
            ex.perform(reply_task(), "<k@example.com>", NOW)
        assert not isinstance(info.value, OutcomeUnknown), info.value
        assert info.value.transient is transient and reply.split()[0] in str(info.value)
        assert inbox.messages == []
        assert not list((tmp_path / "sent" / "tmp").iterdir()) and ex.lookup("<k@example.com>") is None
    finally:
        server.stop()


def test_a_connection_lost_after_data_is_an_unknown_outcome(tmp_path: Path) -> None:
    inbox = Inbox(hang_up_after_data=True)
    server = start_server(inbox)
    try:
        ex = executor(server, tmp_path, security="none", timeout=10)
        with pytest.raises(OutcomeUnknown):
            ex.perform(reply_task(), "<k@example.com>", NOW)
        assert len(inbox.messages) == 1  # the server kept it; the client could not know
        with pytest.raises(OutcomeUnknown):
            ex.lookup("<k@example.com>")  # tmp/ is kept: a person decides
    finally:
        server.stop()


def test_a_connection_lost_before_data_is_transient(tmp_path: Path) -> None:
    """Lost at RCPT, before the message was handed over: definitely not delivered, retried later
    (found by mutation testing: a wrong test of the last command made it "unknown")."""
    inbox = Inbox(hang_up_at_rcpt=True)
    server = start_server(inbox)
    try:
        ex = executor(server, tmp_path, security="none", timeout=10)
        with pytest.raises(ExecutionError) as info:
            ex.perform(reply_task(), "<k@example.com>", NOW)
        assert not isinstance(info.value, OutcomeUnknown) and info.value.transient
        assert inbox.messages == [] and ex.lookup("<k@example.com>") is None
    finally:
        server.stop()


def test_an_interrupted_send_is_an_unknown_outcome(tmp_path: Path) -> None:
    ex = SmtpExecutor(SmtpSettings(host="127.0.0.1", port=1, sent_path=tmp_path / "sent"))
    key = "<fte.x@example.com>"
    (tmp_path / "sent" / "tmp" / maildir_name(key)).write_bytes(b"...")  # what a crash mid-send leaves
    with pytest.raises(OutcomeUnknown):
        ex.lookup(key)


def test_unreachable_server_is_transient(tmp_path: Path) -> None:
    from fakes.smtp import free_port

    ex = SmtpExecutor(SmtpSettings(host="127.0.0.1", port=free_port(), security="none", sent_path=tmp_path / "sent", timeout=5))
    with pytest.raises(ExecutionError) as info:
        ex.perform(reply_task(), "<k@example.com>", NOW)
    assert info.value.transient and not list((tmp_path / "sent" / "tmp").iterdir())


def send_through(home: Path, server) -> None:  # noqa: ANN001
    """The home's replies go out through the SMTP server ``server`` (plain, on 127.0.0.1)."""
    toml = home / "fte.toml"
    toml.write_text(toml.read_text().replace(
        'transport = "maildir"', f'transport = "smtp"\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"'))


def test_the_daemon_sends_through_smtp(home_dir: Path) -> None:
    from hosts import HostRun, drop_mail

    inbox = Inbox()
    server = start_server(inbox)
    try:
        send_through(home_dir, server)
        drop_mail(home_dir, 1)
        run = HostRun(home_dir)
        run.tick()
        [task] = run.home.store.tasks(state="pending")
        fte_cli("approve", task.id, "--home", str(home_dir))
        run.tick()
        assert run.home.store.get(task.id).state == "done"
        [msg] = inbox.messages
        assert msg["X-FTE-Task"] == task.id and msg["In-Reply-To"] == task.params["in_reply_to"]
        run.close()
    finally:
        server.stop()


def test_a_send_the_server_refused_is_replayed_without_force(home_dir: Path) -> None:
    """550 5.7.1 at DATA: the task fails as refused (not "may have been delivered"), and `fte replay`
    sends it again when the person asks, without --force, once the server takes it."""
    from hosts import HostRun, drop_mail

    inbox = Inbox(refuse_data_with="550 5.7.1 Message rejected as spam")
    server = start_server(inbox)
    try:
        send_through(home_dir, server)
        drop_mail(home_dir, 1)
        run = HostRun(home_dir)
        run.tick()
        [task] = run.home.store.tasks(state="pending")
        fte_cli("approve", task.id, "--home", str(home_dir))
        run.tick()
        failed = run.home.store.get(task.id)
        assert failed.state == "failed" and "550" in failed.last_error and "unknown" not in failed.last_error
        assert run.home.store.executions(task.id)[-1].outcome == "error"
        run.close()
        inbox.refuse_data_with = None  # the person fixed what the server disliked
        result = fte_cli("replay", task.id, "--home", str(home_dir))
        assert result.exit_code == 0, result.output
        run = HostRun(home_dir)
        run.tick()
        assert run.home.store.get(task.id).state == "done" and len(inbox.messages) == 1
        run.close()
    finally:
        server.stop()


@pytest.mark.parametrize("to", ["", "   ", None])
def test_a_reply_with_no_recipient_is_refused_before_anything_is_sent(tmp_path: Path, to) -> None:  # noqa: ANN001
    inbox = Inbox()
    server = start_server(inbox)
    try:
        ex = executor(server, tmp_path, security="none")
        task = reply_task()
        task.params = dict(task.params, to=to)
        with pytest.raises((ExecutionError, BadInput)):
            ex.perform(task, ex.key_for(task), NOW)
        assert inbox.messages == [] and not list((tmp_path / "sent" / "tmp").iterdir())
    finally:
        server.stop()


def test_a_daemon_killed_mid_send_leaves_that_reply_to_the_person_and_goes_on(home_dir: Path) -> None:
    """A real daemon process killed while the server holds its message (``tmp/`` written, no reply):
    the next daemon cannot tell whether it was delivered — that reply fails with outcome unknown for
    the person (`fte replay --force` sends it) — and the next approval is still sent. The lookup's
    "cannot tell" used to escape the tick, at every tick, and nothing was sent again."""
    import subprocess
    import sys

    from hosts import HostRun, drop_mail

    from fte.host.home import open_home

    inbox = Inbox(stall_data=True)
    server = start_server(inbox)
    try:
        send_through(home_dir, server)
        drop_mail(home_dir, 1)
        drop_mail(home_dir, 2)
        run = HostRun(home_dir)
        run.tick()
        first, second = sorted(run.home.store.tasks(state="pending"), key=lambda t: (t.created_at, t.id))
        run.close()
        fte_cli("approve", first.id, "--home", str(home_dir))
        daemon = subprocess.Popen([sys.executable, "-m", "fte", "daemon", "--once", "--home", str(home_dir)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert inbox.data_seen.wait(60), "the daemon never reached DATA"
        finally:
            daemon.kill()
            daemon.wait(30)
        inbox.stall_data = False
        fte_cli("approve", second.id, "--home", str(home_dir))
        again = subprocess.run([sys.executable, "-m", "fte", "daemon", "--once", "--home", str(home_dir)],
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        with open_home(home_dir) as h:
            lost, sent = h.store.get(first.id), h.store.get(second.id)
            assert lost.state == "failed" and "a person decides" in lost.last_error
            assert h.store.executions(first.id)[-1].outcome == "unknown"
            assert sent.state == "done"
        assert [m["X-FTE-Task"] for m in inbox.messages] == [second.id]
    finally:
        server.stop()
