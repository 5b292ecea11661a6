"""`fte doctor`: every check says what is wrong and how to fix it, exit 1 when something fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.odoo_server import FakeOdoo
from hosts import bare_remote, make_host


def doctor(home: Path, *args: str) -> tuple[int, dict[str, dict[str, str]]]:
    r = subprocess.run([sys.executable, "-m", "fte", "doctor", "--json", "--home", str(home), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.stderr == "" or "warning" in r.stderr, r.stderr
    return r.returncode, {c["name"]: c for c in json.loads(r.stdout)}


def test_a_healthy_local_host_with_a_remote_is_all_ok(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "local", bare_remote(tmp_path / "remote.git"))
    code, found = doctor(home)
    assert code == 0, found
    assert found.pop("clock")["status"] == "warn"  # a test's processes run on the test's clock (FTE_CLOCK)
    assert {c["status"] for c in found.values()} == {"ok"}, found
    assert list(found) == ["settings", "secrets", "role", "database", "vault", "remote", "keys", "channels", "notify",
                           "odoo"]


def test_each_problem_is_named_with_its_fix(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    home = make_host(tmp_path, "cloud", "cloud", remote)
    os.rename(tmp_path / "remote.git", tmp_path / "gone.git")  # the remote is away
    (home / ".env").write_text("FTE_SMTP_PASSWORD=x\n")
    os.chmod(home / ".env", 0o644)
    code, found = doctor(home)
    assert code == 1
    assert found["remote"]["status"] == "fail" and remote in found["remote"]["detail"]
    assert found["role"]["status"] == "fail" and "FTE_SMTP_PASSWORD" in found["role"]["detail"]
    assert found["secrets"]["status"] == "fail" and found["secrets"]["fix"] == f"chmod 600 {home / '.env'}"
    assert found["keys"]["status"] == "warn"  # a cloud host that believes no signed decision
    code, offline = doctor(home, "--offline")
    assert offline["remote"]["status"] == "warn"  # not checked


def test_a_bad_setting_stops_the_checks_at_the_first_one(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    (home / "fte.toml").write_text((home / "fte.toml").read_text().replace("dry_run", "dryrun"))
    code, found = doctor(home)
    assert code == 1 and list(found) == ["settings"] and "did you mean 'dry_run'" in found["settings"]["detail"]


def test_a_channel_without_its_secret_and_a_corrupt_database_fail(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    (home / "fte.toml").write_text((home / "fte.toml").read_text() + '\n[executors.x]\nenabled = true\nuser_id = "42"\n')
    (home / "fte.db").write_bytes(os.urandom(4096))
    for name in ("fte.db-wal", "fte.db-shm"):
        (home / name).unlink(missing_ok=True)
    code, found = doctor(home)
    assert code == 1
    assert found["channels"]["status"] == "fail" and "FTE_X_CONSUMER_KEY" in found["channels"]["detail"]
    assert found["database"]["status"] == "fail" and "not a readable fte database" in found["database"]["detail"]


@pytest.mark.parametrize("good", [True, False])
def test_the_odoo_login_is_checked(tmp_path: Path, good: bool) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    with FakeOdoo() as fake:
        (home / "fte.toml").write_text((home / "fte.toml").read_text()
                                       + f'\n[odoo]\nurl = "{fake.url}"\ndb = "{fake.db}"\nlogin = "{fake.login}"\n')
        (home / ".env").write_text(f"FTE_ODOO_API_KEY={fake.api_key if good else 'wrong-key'}\n")
        code, found = doctor(home)
    assert (code == 0) is good, found
    assert found["odoo"]["status"] == ("ok" if good else "fail"), found["odoo"]
    if good:
        assert "YourCompany" in found["odoo"]["detail"]


def test_a_signing_key_others_can_read_is_a_failure_with_its_fix(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "local", "")
    code, found = doctor(home, "--offline")
    assert found["keys"]["status"] == "ok"
    os.chmod(home / "host.key", 0o644)
    code, found = doctor(home, "--offline")
    assert code == 1 and found["keys"]["status"] == "fail", found["keys"]
    assert "readable by others" in found["keys"]["detail"] and found["keys"]["fix"] == f"chmod 600 {home / 'host.key'}"


def test_every_secret_file_others_can_read_fails(tmp_path: Path) -> None:
    """.env and the OAuth tokens: whoever reads one sends mail or reads the inbox as this person."""
    home = make_host(tmp_path, "laptop", "all", "")
    (home / ".env").write_text("FTE_SMTP_PASSWORD=x\n")
    os.chmod(home / ".env", 0o600)
    token = home / "gmail-send.json"
    token.write_text("{}")
    os.chmod(token, 0o600)
    code, found = doctor(home, "--offline")
    assert found["secrets"]["status"] == "ok" and "gmail-send.json" in found["secrets"]["detail"], found["secrets"]
    os.chmod(token, 0o640)
    code, found = doctor(home, "--offline")
    assert code == 1 and found["secrets"]["status"] == "fail" and found["secrets"]["fix"] == f"chmod 600 {token}"


def test_notify_urls_are_parsed_by_apprise(tmp_path: Path) -> None:
    home = make_host(tmp_path, "laptop", "all", "")
    toml = home / "fte.toml"
    base = toml.read_text()
    toml.write_text(base + '\n[notify]\nurls = ["json://127.0.0.1:9/hook", "ntfy://${FTE_TOPIC}"]\n')
    (home / ".env").write_text("FTE_TOPIC=fte-test\n")
    os.chmod(home / ".env", 0o600)
    code, found = doctor(home, "--offline")
    assert code == 0 and found["notify"]["status"] == "ok" and "2 URLs" in found["notify"]["detail"], found
    toml.write_text(base + '\n[notify]\nurls = ["ntfy://fte-test", "nosuchscheme://host/x"]\n')
    code, found = doctor(home, "--offline")
    assert code == 1 and found["notify"]["status"] == "fail" and "nosuchscheme" in found["notify"]["detail"]


def test_the_smtp_server_is_reached_and_logged_in(tmp_path: Path) -> None:
    from fakes.smtp import Inbox, free_port, start_server

    home = make_host(tmp_path, "laptop", "local", "")
    toml = home / "fte.toml"
    base = toml.read_text()
    inbox = Inbox()
    server = start_server(inbox)
    try:
        toml.write_text(base.replace('transport = "maildir"', f'transport = "smtp"\nhost = "127.0.0.1"\n'
                                                              f'port = {server.port}\nsecurity = "none"'))
        code, found = doctor(home)
        assert found["providers"]["status"] == "ok" and f"127.0.0.1:{server.port} answers" in found["providers"]["detail"]
        assert inbox.messages == []  # nothing was sent
        assert doctor(home, "--offline")[1]["providers"]["status"] == "warn"
    finally:
        server.stop()
    port = free_port()  # nothing listens there
    toml.write_text(base.replace('transport = "maildir"', f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
                                                          'security = "none"'))
    code, found = doctor(home)
    assert code == 1 and found["providers"]["status"] == "fail" and "refused" in found["providers"]["detail"].lower(), \
        found["providers"]


def test_a_daemon_says_so_when_a_secret_file_is_readable_by_others(tmp_path: Path) -> None:
    from conftest import fte_process

    home = make_host(tmp_path, "laptop", "all", "")
    (home / ".env").write_text("FTE_SMTP_PASSWORD=x\n")
    os.chmod(home / ".env", 0o600)
    quiet = fte_process("daemon", "--once", "--home", str(home))
    assert "others can read" not in quiet.stdout + quiet.stderr
    os.chmod(home / ".env", 0o644)
    told = fte_process("daemon", "--once", "--home", str(home))
    assert f"{home / '.env'} holds secrets and others can read it: chmod 600" in told.stdout + told.stderr
