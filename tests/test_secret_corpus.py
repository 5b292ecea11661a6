"""The secret guard measured on a labelled corpus (tests/data/secrets/generate.py, built at run
time): every secret found and redacted, at most 1 % of ordinary mails touched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fte.io.vault.secretguard import redact, scan

sys.path.insert(0, str(Path(__file__).parent / "data" / "secrets"))
from generate import corpus  # noqa: E402

CORPUS = corpus()
SECRET = [c for c in CORPUS if c["label"] == "secret"]
ORDINARY = [c for c in CORPUS if c["label"] == "ordinary"]


def test_the_corpus_is_big_enough() -> None:
    assert len(SECRET) >= 50 and len(ORDINARY) >= 200


@pytest.mark.parametrize("case", SECRET, ids=[c["id"] for c in SECRET])
def test_every_secret_is_found_and_redacted(case: dict) -> None:
    clean, findings = redact(case["text"].encode())
    assert findings, case["text"]
    for secret in case["secrets"]:
        assert secret.encode() not in clean, (secret[:12], clean.decode()[:300])
    assert b"[redacted: " in clean
    assert scan(clean) == []  # what is committed passes the guard itself


def test_ordinary_mail_is_left_alone() -> None:
    touched = [c["id"] for c in ORDINARY if scan(c["text"].encode())]
    assert len(touched) <= len(ORDINARY) // 100, touched  # at most 1 %


@pytest.mark.parametrize("text", [
    "Use KEY_" + "AKIA" + "Q3EGRZ7XN4PLW2KM" + " in CI",  # glued to "_"
    "-----BEGIN&nbsp;RSA&nbsp;" + "PRIVATE KEY-----<br>MIIEow",  # an HTML mail's BEGIN line
    "-----BEGIN\u00a0RSA\u00a0" + "PRIVATE\u00a0KEY-----\nMIIEow",  # a no-break space
    "The pass" + "word is Xk29!fQz8#Lm",
    "pass" + "word: kq7x2z",  # short
    "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "gl" + "pat-" + "x8Yb3kLmN2pQ7rT9vW1z",
    "https://hooks.slack.com/services/" + "T00000000/B00000000/" + "XXXXXXXXXXXXXXXXXXXXXXXX",
])
def test_the_evasions_seen_are_caught(text: str) -> None:
    assert scan(text.encode()), text


@pytest.mark.parametrize("text", [
    "Tracking number: 1Z999AA10123456784",
    "Token: INV-2026-0042",
    "set api_key=YOUR_API_KEY_HERE",
    "Secret: the surprise party is on Friday",
    "Unsubscribe: https://news.example.com/unsubscribe?token=8f3a9c2e7b1d4f6a9e8c7b5a3d2f1e0c&u=1",
    "Passcode: 482913",
    "Boarding pass: 7XK2PQ9, gate B12",
    "The password policy requires 12 characters; password is required.",
    "password: ********",
])
def test_the_false_alarms_seen_are_not_raised(text: str) -> None:
    assert scan(text.encode()) == [], text
