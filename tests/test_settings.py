"""Strict settings (docs/settings.md): a typo is an error with one line and exit 2, never a silent
default; every bad input a new user was seen to type gives that line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import fte_cli, fte_process

from fte.config import load_settings
from fte.errors import BadInput
from fte.settings import spec as settings_spec

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    r = fte_cli("init", "--home", str(h), "--role", "all", "--agent", "laptop")
    assert r.exit_code == 0, r.output
    return h


def run_status(home: Path) -> tuple[int, str]:
    r = fte_cli("status", "--home", str(home), code=None)
    return r.exit_code, r.output


BAD = [
    ("dryrun = true\n", "unknown setting 'dryrun' (did you mean 'dry_run'?)"),
    # typed at the end of the file, below the last [table]: it belongs to that table, and the answer says so
    ("[executors.email]\ntransport = \"maildir\"\ndryrun = true\n",
     "unknown setting 'executors.email.dryrun' (did you mean 'dry_run'? A setting below a [table] line"),
    ("executors = 5\n", "[executors] must be a table"),
    ("vault = 5\n", "vault must be text"),
    ("[sources.maildir]\npath = 5\n", "sources.maildir.path must be text"),
    ("[executors.email]\nport = \"abc\"\n", "executors.email.port must be a whole number from 1 to 65535"),
    ("[executors.email]\nsecurity = \"tls\"\n", "executors.email.security must be one of"),
    ("[executors.email]\nprot = 25\n", "did you mean 'executors.email.port'?"),
    ("[daemon]\nsync_interval = inf\n", "daemon.sync_interval must be a number above 0 to 86400, not inf"),
    ("[daemon]\nsync_interval = nan\n", "must be a number above 0 to 86400, not nan"),
    # bounded by meaning: values that pass must never overflow what the daemon computes from them
    ("[daemon]\nsync_interval = 1e308\n", "daemon.sync_interval must be a number above 0 to 86400, not 1e+308"),
    ("[daemon]\nheartbeat_interval = 1e300\n", "daemon.heartbeat_interval must be a number above 0 to 86400"),
    ("[daemon]\nremote_check = 1e20\n", "daemon.remote_check must be a number from 0 to 3600"),
    ("[daemon]\nwatch_interval = 86400\n", "daemon.watch_interval must be a number above 0 to 3600"),
    ("[notes]\ndebounce = 9223372036854775807\n", "notes.debounce must be a number from 0 to 3600"),
    ("[archive]\nafter_months = 99999999999\n", "archive.after_months must be a whole number from 0 to 1200"),
    ("[expiry]\ndefault = 1e300\n", "expiry.\"default\" must be a number above 0 to 87600"),
    ("[daemon]\nfile_events = \"yes\"\n", "daemon.file_events must be true or false"),
    ("[expiry]\n\"email.reply\" = nan\n", "expiry.\"email.reply\" must be a number above 0 to 87600"),
    ("expiry = nan\n", "[expiry] must be a table"),
    ("[limits]\n\"emial.reply\" = 3\n", "did you mean 'email.reply'?"),
    ("[limits]\n\"email.reply\" = -1\n", "must be a whole number at least 0"),
    ("[audit]\nretention_days = 0\n", "audit.retention_days must be a whole number from 1 to 36500"),
    ("role = \"boss\"\n", "role must be one of 'cloud', 'local', 'all'"),
    ("[drafter]\nprovider = 5\n", "drafter.provider must be one of"),
    ("[drafter]\nmax_retries = 1e9\n", "drafter.max_retries must be a whole number"),
    ("[sources.gmail]\nmax_full_sync = 1.5\n", "sources.gmail.max_full_sync must be a whole number"),
    ("[executors.x]\nuser_id = \"@me\"\n", "executors.x.user_id must be a numeric id"),
    ("[odoo]\ncompany = true\n", "odoo.company must be a name (in quotes) or a numeric id"),
    ("[odoo]\npassword = \"hunter2\"\n", "unknown setting 'odoo.password'"),
    ("[sources.telegram]\nenabled = true\n", "unknown table 'sources.telegram'"),
    ("agent = \"../x\"\n", "agent name '../x' must be"),
    ("[daemon\n", "fte.toml"),  # not TOML at all
    # text that lands in a header, a path or a log line holds no line break (a From with CR/LF
    # would add headers to every mail sent)
    ("[executors.email]\nfrom = \"fte@example.com\\r\\nBcc: all@example.com\"\n",
     "executors.email.from must be text on one line"),
    ("[executors.email]\nfrom = \"nobody\"\n", "executors.email.from must be an email address"),
    ("[executors.email]\nfrom = \"a@example.com, b@example.com\"\n", "executors.email.from must be an email address"),
    ("[executors.email]\nhost = \"smtp.example.com\\n\"\n", "executors.email.host must be text on one line"),
    ("person = \"Maria\\u202eadmin\"\n", "person must be text on one line"),
    ("remote = \"git@host:v.git\\u0000\"\n", "remote must be text on one line"),
    ("[drafter]\nsignature = \"Maria\\u0007\"\n", "drafter.signature must be text without control"),
    # paths checked for what they must be
    ("vault = \"fte.toml\"\n", "is a file, not a folder"),
    ("vault = \".\"\n", "holds this home"),
    ("vault = \"..\"\n", "holds this home"),
    ("vault = \"" + "x" * 5000 + "\"\n", "cannot be used (File name too long)"),  # a traceback before
    ("vault = \"fte.toml/inside\"\n", "cannot be used (Not a directory)"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[b[0].strip().replace("\n", " ")[:40] for b in BAD])
def test_a_bad_setting_is_one_line_and_exit_2(home: Path, text: str, message: str) -> None:
    (home / "fte.toml").write_text(text if text.startswith("agent") else 'agent = "laptop"\n' + text)
    code, output = run_status(home)
    assert code == 2, output
    assert message in output, output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output, output


def test_a_signature_may_span_lines(home: Path) -> None:
    toml = (home / "fte.toml").read_text()
    assert 'signature = ""' in toml
    (home / "fte.toml").write_text(toml.replace('signature = ""', 'signature = "Best,\\n\\tMaria"'))
    code, output = run_status(home)
    assert code == 0, output


def test_the_same_table_twice_is_refused_by_toml_itself(home: Path) -> None:
    config = home / "fte.toml"
    config.write_text(config.read_text() + "\n[daemon]\nsync_interval = 5\n")
    code, output = run_status(home)
    assert code == 2 and len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize("name", ["fte.toml", ".env"])
def test_a_file_that_is_not_utf8_is_one_line_and_exit_2(home: Path, name: str) -> None:
    (home / name).write_bytes((home / name).read_bytes() + b"\n# caf\xe9\n")
    r = fte_cli("daemon", "--once", "--home", str(home), code=2)
    assert r.exit_code == 2, r.output
    assert f"{name}: not UTF-8 text" in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_an_env_line_that_is_not_key_value_is_named(home: Path) -> None:
    (home / ".env").write_text("FTE_SMTP_PASSWORD=x\nthis is not a setting\n")
    r = fte_cli("daemon", "--once", "--home", str(home), code=2)
    assert r.exit_code == 2 and ".env, line 2: not a KEY=value line" in r.output, r.output


@pytest.mark.parametrize("value", ["hunter\x0022", "x\x1by", "a\x7fb"], ids=["NUL", "ESC", "DEL"])
def test_an_env_line_holding_a_control_character_is_named(home: Path, value: str) -> None:
    (home / ".env").write_text(f"# secrets\nFTE_SMTP_PASSWORD={value}\n")
    r = fte_cli("daemon", "--once", "--home", str(home), code=2)
    assert ".env, line 2: holds a control character" in r.output and "Traceback" not in r.output, r.output
    p = fte_process("doctor", "--json", "--offline", "--home", home, code=1)
    assert "holds a control character" in p.stdout


def test_a_home_under_a_file_is_one_line(tmp_path: Path) -> None:
    r = fte_cli("status", "--home", "/dev/null/x", code=2)
    assert r.exit_code == 2 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_every_setting_the_template_writes_is_known_and_the_defaults_pass(home: Path) -> None:
    settings = load_settings(home)
    from fte.io.channels.registry import EmailSettings

    assert settings.table(EmailSettings).port == 587
    assert settings_spec.check({})["daemon.sync_interval"] == 30.0


def test_known_values_are_typed_and_reach_the_settings(tmp_path: Path) -> None:
    values = settings_spec.check({"daemon": {"sync_interval": 5}, "limits": {"odoo.bill": 2},
                                  "executors": {"email": {"port": 2525}}})
    assert values["daemon.sync_interval"] == 5.0 and isinstance(values["daemon.sync_interval"], float)
    assert values["limits"] == {"odoo.bill": 2} and values["executors.email.port"] == 2525
    with pytest.raises(BadInput, match="did you mean 'daemon.sync_interval'"):
        settings_spec.check({"daemon": {"sync_intervall": 5}})


def test_every_executor_kind_is_a_known_kind() -> None:
    from fte.io.channels.maildir import MaildirOutbox
    from fte.io.channels.odoo import KINDS

    assert set(KINDS) <= set(settings_spec.TASK_KINDS)
    assert set(MaildirOutbox.kinds) <= set(settings_spec.TASK_KINDS)


def test_docs_settings_is_generated_from_the_table() -> None:
    assert (REPO / "docs" / "settings.md").read_text(encoding="utf-8") == settings_spec.markdown(), \
        "docs/settings.md is stale: python -m fte.settings.spec > docs/settings.md"


def test_the_env_file_is_parsed_once_while_it_stays_the_same(home_dir: Path) -> None:
    """Building one daemon read .env five times; now once per version of the file."""
    import os

    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.settings.env import _parse_env, load_env

    env = home_dir / ".env"
    env.write_text("FTE_HOOK_PATH=one\n")
    os.chmod(env, 0o600)
    _parse_env.cache_clear()
    with open_home(home_dir) as home:
        Runner(home)
        load_env(home_dir)
    assert _parse_env.cache_info().misses == 1
    env.write_text("FTE_HOOK_PATH=two-and-longer\n")  # an edit (a reload reads it)
    assert load_env(home_dir)["FTE_HOOK_PATH"] == "two-and-longer"
