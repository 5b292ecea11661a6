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
    assert list(found) == ["settings", "secrets", "role", "database", "vault", "remote", "keys", "channels", "odoo"]


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
    assert found["secrets"]["status"] == "warn" and found["secrets"]["fix"].startswith("chmod 600")
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
