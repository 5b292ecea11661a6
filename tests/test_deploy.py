"""The systemd units are part of the code: check what the daemon relies on."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.mark.parametrize("unit", ["fte-cloud.service", "fte-local.service"])
def test_unit_matches_the_daemon(unit: str) -> None:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment]
    cp.read(DEPLOY / unit)
    service = cp["Service"]
    assert service["ExecStart"].endswith("fte daemon")
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"  # the signal fte daemon treats as "finish and exit 0"
    assert int(service["TimeoutStopSec"]) >= 120
    assert "HUP" in service["ExecReload"]
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert "FTE_HOME=" in service["Environment"]


def _unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment]
    cp.read(DEPLOY / name)
    return cp


@pytest.mark.parametrize("unit", ["fte-cloud.service", "fte-local.service"])
def test_a_unit_points_at_nothing_the_install_lacks(unit: str) -> None:
    """Documentation=file:///usr/share/doc/fte/deploy.md named a file nothing installs."""
    docs = _unit(unit)["Unit"].get("Documentation", "")
    assert not [u for u in docs.split() if u.startswith("file:")], docs


def test_the_user_unit_writes_wherever_the_vault_is_and_waits_for_nothing_it_cannot_see() -> None:
    """A vault outside ~/fte (~/Documents/Obsidian…) was read-only under ProtectSystem=strict; and a
    user manager cannot order itself after network-online.target (a system target)."""
    local = _unit("fte-local.service")
    assert local["Service"]["ReadWritePaths"] == "%h"
    assert "network-online.target" not in local["Unit"].get("After", "") + local["Unit"].get("Wants", "")
    cloud = _unit("fte-cloud.service")  # a system unit: there it means something
    assert "network-online.target" in cloud["Unit"]["After"] and cloud["Service"]["ReadWritePaths"] == "/var/lib/fte"


def test_env_examples_hold_no_values() -> None:
    for f in DEPLOY.glob(".env.example*"):
        for line in f.read_text().splitlines():
            empty_key = line.endswith("=") and line[:-1].replace("_", "").isalnum()
            assert not line.strip() or line.startswith("#") or empty_key, f"{f.name}: {line}"
    cloud = (DEPLOY / ".env.example.cloud").read_text()
    assert "SMTP" not in cloud and "ODOO" not in cloud


def test_odoo_compose_keeps_ports_on_loopback_and_has_health_checks() -> None:
    import yaml

    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    odoo = compose["services"]["odoo"]
    assert all(str(p).startswith("127.0.0.1:") for p in odoo["ports"])
    assert "healthcheck" in odoo and "healthcheck" in compose["services"]["db"]
    assert odoo["depends_on"]["db"]["condition"] == "service_healthy"
    assert set(compose["volumes"]) == {"odoo-db", "odoo-data"}


def test_every_package_is_installed_not_only_in_editable_mode() -> None:
    """`pip install .` ships the packages pyproject lists: a new package missing from the list works
    in the editable install the tests use, and breaks `fte demo` on a fresh machine (it did)."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "fte").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
