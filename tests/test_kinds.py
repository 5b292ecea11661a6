"""Each task kind is declared once, beside its channel, as data (fte/io/channels/kinds.py), and
everything else derives from it: no module outside fte/io/channels/ names a kind literally."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fte.io.channels import kinds
from fte.io.channels.drafters import TEMPLATES
from fte.io.channels.registry import CHANNELS, LOCAL_SOURCES
from fte.io.vault.properties import PARAM_PROPERTIES
from fte.settings.spec import DEFAULT_EXPIRY_HOURS, DEFAULT_RATE_LIMITS, TASK_KINDS
from fte.states.execution import NEVER_RETRY

ROOT = Path(__file__).resolve().parents[1] / "fte"
CHANNELS_DIR = ROOT / "io" / "channels"


def kind_literals(source: str) -> list[tuple[int, str]]:
    """The string constants in ``source`` that are a kind's name, or a channel's prefix of one
    (``"odoo."``) — what a module writes when it decides by kind on its own. Docstrings and longer
    texts that mention a kind are not decisions."""
    names = set(kinds.NAMES) | {f"{k.channel}." for k in kinds.KINDS}
    return [(node.lineno, node.value) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]


def test_no_module_outside_the_channels_names_a_kind() -> None:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if CHANNELS_DIR in path.parents:
            continue
        found += [f"{path.relative_to(ROOT.parent)}:{line}: {value!r}" for line, value in kind_literals(path.read_text())]
    assert found == [], "kinds are named in fte/io/channels/kinds.py only:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "hits"), [
    ('if task.kind == "email.reply":\n    pass\n', 1),
    ('drafter = t if task.kind.startswith(("odoo.", "linkedin.")) else d\n', 2),
    ('LIMITS = {"odoo.payment": 3}\n', 1),
    ('"""Replies (``email.reply``) are drafted by the cloud."""\n', 0),
    ('name = "odoo.exceptions.UserError"\n', 0),
])
def test_the_rule_sees_a_decision_by_kind_and_not_a_mention(source: str, hits: int) -> None:
    assert len(kind_literals(source)) == hits


def test_every_table_of_kinds_derives_from_the_declarations() -> None:
    assert TASK_KINDS == kinds.NAMES and len(set(kinds.NAMES)) == len(kinds.KINDS)
    assert PARAM_PROPERTIES == {k.name: k.params for k in kinds.KINDS}
    assert set(NEVER_RETRY) == {k.name for k in kinds.KINDS if not k.retry} == {"odoo.payment"}
    assert DEFAULT_RATE_LIMITS == {"email.reply": 10, "odoo.payment": 3}
    assert DEFAULT_EXPIRY_HOURS == {"email.reply": 72, "odoo.payment": 24, "default": 72}
    assert kinds.ADDRESSED == {"email.reply", "x.reply", "whatsapp.reply"}
    assert LOCAL_SOURCES == {"whatsapp", "cli", "mcp"}


@pytest.mark.parametrize("kind", kinds.KINDS, ids=lambda k: k.name)
def test_each_kind_is_whole(kind: kinds.Kind) -> None:
    assert kind.channel and kind.action and kind.name == f"{kind.channel}.{kind.action}"
    assert kind.template in TEMPLATES
    assert kind.recipient is None or kind.recipient in kind.params  # shown in the note, checked at approval
    executors = [c.name for c in CHANNELS if c.part == "executor" and kind.name in c.kinds]
    assert executors, f"no executor performs {kind.name}"


def test_every_executor_performs_declared_kinds_only() -> None:
    for channel in CHANNELS:
        assert set(channel.kinds) <= set(kinds.NAMES), channel.name
