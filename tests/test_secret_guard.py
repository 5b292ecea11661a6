"""The secret guard: credentials in a draft never reach git; the note is quarantined and flagged."""

from __future__ import annotations

import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from fte.io.secretguard import scan

from hosts import HostRun, bare_remote, make_host

# Shapes of real credentials, made up and assembled at run time, so that this file itself holds no
# literal token for a secret scanner (ours, or a code host's) to trip on. None of these is live.
_R = "Q2x9vLmN4bT7yR1sK8wZ3pD6fH0jG5aE"  # filler with the right alphabet and length
SECRETS = {
    "aws-access-key-id": "AKIA" + "Q3EGRZ7XN4PLW2KM",
    "aws-secret-access-key": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzEXAMPLEKEY",
    "private-key": "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "openai-api-key": "sk-" + "proj-" + _R,
    "anthropic-api-key": "sk-" + "ant-api03-" + _R + "-AbCdEf",
    "google-oauth-access-token": "ya29" + ".a0AfB_" + _R,
    "google-oauth-refresh-token": "1//" + "0g" + _R,
    "github-token": "gh" + "p_" + _R + "IjKl",
    "slack-token": "xo" + "xb-2048-1024-" + _R,
    "jwt": "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0." + _R,
    "password-assignment": "pass" + "word=Xk29!fQz8#Lm-rT",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_pattern_is_found(kind: str) -> None:
    assert kind in {f.kind for f in scan(SECRETS[kind].encode())}


@pytest.mark.parametrize("text", [
    "Your password: see the handbook", "the api_key is in the vault", "token: pending",
    "risk-assessment-2026 and desk-sharing", "Reset your password at https://example.com/reset?x=1",
])
def test_ordinary_prose_is_not_a_secret(text: str) -> None:
    assert scan(text.encode()) == []


def test_no_secret_reaches_the_remote(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    cloud_home = make_host(tmp_path, "cloud", "cloud", remote)
    for i, (kind, secret) in enumerate(sorted(SECRETS.items())):
        msg = EmailMessage()
        msg["From"] = "ann@example.com"
        msg["Subject"] = f"credentials {kind}"
        msg["Message-ID"] = f"<s{i}@example.com>"
        msg.set_content(f"Here you go:\n{secret}\n")
        (cloud_home / "inbox" / "new" / f"{i}.secret").write_bytes(bytes(msg))
    clean = EmailMessage()
    clean["From"] = "bob@example.com"
    clean["Subject"] = "lunch"
    clean["Message-ID"] = "<clean@example.com>"
    clean.set_content("Lunch on Friday?\n")
    (cloud_home / "inbox" / "new" / "clean").write_bytes(bytes(clean))
    cloud = HostRun(cloud_home)
    cloud.tick()
    cloud.tick()
    history = subprocess.run(["git", "log", "-p", "--all"], cwd=remote, capture_output=True, text=True, check=True).stdout
    for kind, secret in SECRETS.items():
        first_line = secret.splitlines()[0]
        assert first_line not in history, kind
        assert secret.split("=")[-1].strip() not in history, kind
    assert "Lunch on Friday?" in history  # the clean draft did go
    tasks = cloud.home.store.tasks()
    flagged = [t for t in tasks if t.flags.get("quarantined")]
    assert len(flagged) == len(SECRETS)
    assert {t.state for t in flagged} == {"drafted"}  # never synced
    quarantine = cloud_home / "vault" / "Quarantine"
    assert len(list(quarantine.iterdir())) >= len(SECRETS)
    assert len(cloud.home.store.incidents("quarantine")) >= len(SECRETS)
    ignored = subprocess.run(["git", "check-ignore", "-q", "Quarantine/x.md"], cwd=cloud_home / "vault")
    assert ignored.returncode == 0
    cloud.close()


def test_local_dashboard_tells_of_a_note_quarantined_on_cloud(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    cloud_home = make_host(tmp_path, "cloud", "cloud", remote)
    local_home = make_host(tmp_path, "local", "local", remote)
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["Subject"] = "keys"
    msg["Message-ID"] = "<k@example.com>"
    msg.set_content(f"use {SECRETS['github-token']}\n")
    (cloud_home / "inbox" / "new" / "k").write_bytes(bytes(msg))
    cloud, local = HostRun(cloud_home), HostRun(local_home)
    cloud.tick(), local.tick()
    dashboard = (local_home / "vault" / "Dashboard.md").read_text()
    assert "Quarantined" in dashboard and "on cloud" in dashboard and "github-token" in dashboard
    assert SECRETS["github-token"] not in dashboard
    cloud.close(), local.close()
