"""Builds ``corpus.json.gz``: a labelled corpus for the secret guard that was NOT written together
with it (docs/RELIABILITY.md, "The secret guard on an independent corpus").

Sources, each with its licence (texts are stored base64-encoded, so that no file of this repository
holds a literal token):

* ``gitleaks-fixture`` / ``gitleaks-fp``: the literal true and false positives of gitleaks' own rule
  tests (``cmd/generate/config/rules/*.go`` of https://github.com/gitleaks/gitleaks, MIT);
* ``gitleaks-generated``: one string generated from each of gitleaks' rules (``exrex``), kept only
  where gitleaks' own checks (entropy, allowlists) take it, framed in a line of mail;
* ``detect-secrets``: the test data of https://github.com/Yelp/detect-secrets (Apache-2.0), labelled
  as its file names and tests say (``file_with_secrets``, ``each_secret`` but the red herring…);
* ``cpython-email``: the 65 messages of CPython's ``Lib/test/test_email/data`` (PSF licence):
  ordinary mail, none of it written for a secret scanner;
* ``business-mail``: ordinary business mails made by Faker (seeded), full of what looks like a key
  and is not: order and invoice numbers, IBANs and SWIFT codes, UUIDs, MD5/SHA-1/SHA-256 sums, EANs,
  tracking numbers, commit hashes, links with query strings.

Run (needs the two repositories checked out, and ``pip install faker exrex``)::

    python tests/data/secrets_independent/build.py GITLEAKS_CHECKOUT DETECT_SECRETS_CHECKOUT
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent
_GO_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"|`([^`]*)`')


def _go_unquote(interpreted: str | None, raw: str | None) -> str:
    if raw is not None:
        return raw
    assert interpreted is not None
    return interpreted.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _walk(text: str, start: int = 0, depth: int = 0) -> Iterator[tuple[int, int, re.Match[str] | None]]:
    """Each bracket and string literal of Go source from ``start``: (where, the depth after it, the
    literal or None); comments skipped (one may hold a brace or a quote)."""
    i = start
    while i < len(text):
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        c = text[i]
        if c in "({[" or c in ")}]":
            depth += 1 if c in "({[" else -1
            yield i, depth, None
        elif c in "\"`" and (literal := _GO_STRING.match(text, i)):
            yield i, depth, literal
            i = literal.end()
            continue
        i += 1


def _blocks(source: str, name: str) -> list[str]:
    """The text of each ``name := []string{…}`` and ``name = append(name, …)`` in a Go file."""
    out = []
    for m in re.finditer(rf"\b{name}\s*(?::=\s*\[\]string\{{|=\s*append\({name},)", source):
        end = next((at for at, depth, literal in _walk(source, m.end(), 1) if literal is None and depth == 0),
                   len(source))
        out.append(source[m.end():end])
    return out


def _literals(block: str) -> list[str]:
    """The string literals that stand alone as elements of the list: at its own level (not inside a
    call such as ``GenerateSampleSecrets("x", "…")``) and not part of a ``+`` expression."""
    found = []
    for _at, depth, m in _walk(block):
        if m is None or depth != 0:
            continue
        before = block[:m.start()].rstrip()
        after = re.sub(r"//[^\n]*", "", block[m.end():m.end() + 400]).lstrip()
        if not before.endswith("+") and not after.startswith(("+", ":")):
            found.append(_go_unquote(m.group(1), m.group(2)))
    return found


def gitleaks_fixtures(checkout: Path) -> list[dict]:
    items = []
    for path in sorted((checkout / "cmd/generate/config/rules").glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        source = path.read_text()
        for label, name in (("secret", "tps"), ("code-negative", "fps")):
            for block in _blocks(source, name):
                for text in _literals(block):
                    if text.strip():
                        items.append({"source": "gitleaks-fixture" if label == "secret" else "gitleaks-fp",
                                      "label": label, "where": path.name, "text": text})
    return items


def gitleaks_generated(checkout: Path) -> list[dict]:
    import exrex

    sys.path.insert(0, str(HERE.parents[2]))
    from fte.io.vault import gitleaks

    rule_set = gitleaks.parse((checkout / "config/gitleaks.toml").read_text())
    rng = random.Random(20261208)
    items = []
    for rule in rule_set.rules:
        random.seed(rng.random())  # exrex draws from the random module
        pattern = gitleaks.python_regex(rule.regex)
        for _ in range(40):
            try:
                sample = exrex.getone(pattern, limit=60)
            except Exception:  # noqa: BLE001 — a pattern exrex cannot walk: the rule gets no sample
                break
            if not rule.pattern.search(sample.encode()) or "\n" in sample.strip():
                continue
            if [h for h in rule_set.scan(sample.encode()) if h.rule == rule.id]:
                items.append({"source": "gitleaks-generated", "label": "secret", "where": rule.id,
                              "text": f"Hi,\n\nas asked, here it is:\n{sample}\n\nThanks\n"})
                break
    return items


def detect_secrets(checkout: Path) -> list[dict]:
    data = checkout / "test_data"
    items = []

    def add(label: str, where: str, text: str) -> None:
        items.append({"source": "detect-secrets", "label": label, "where": where, "text": text})

    for line in (data / "each_secret.py").read_text().splitlines():
        if "=" in line:
            add("ordinary" if line.startswith(("red_herring", "id =")) else "secret", "each_secret.py", line)
    add("secret", "config.env", (data / "config.env").read_text())
    add("secret", "files/file_with_secrets.py", (data / "files/file_with_secrets.py").read_text())
    add("secret", "files/private_key", (data / "files/private_key").read_text())
    for name in ("files/file_with_no_secrets.py", "only_comments.yaml"):
        add("ordinary", name, (data / name).read_text())
    return items


def cpython_email() -> list[dict]:
    import test.test_email  # the interpreter's own test data

    folder = Path(test.test_email.__file__).parent / "data"
    return [{"source": "cpython-email", "label": "ordinary", "where": p.name,
             "text": p.read_bytes().decode("utf-8", "replace")} for p in sorted(folder.glob("msg_*.txt"))]


def business_mail(count: int = 400) -> list[dict]:
    from faker import Faker

    fake = Faker(["en_US", "de_DE", "fr_FR", "en_GB"])
    Faker.seed(20261208)
    items = []
    lines = [
        lambda: f"Order {fake.bothify('??-########').upper()} ships today, tracking {fake.bothify('1Z###?##########').upper()}.",
        lambda: f"Invoice {fake.bothify('INV-####-#####')} of {fake.pricetag()} is due on {fake.date()}.",
        lambda: f"Please pay to IBAN {fake.iban()} (BIC {fake.swift()}), reference {fake.bothify('RF## #### ####').upper()}.",
        lambda: f"Your booking reference is {fake.uuid4()}.",
        lambda: f"The file's checksum (SHA-256) is {fake.sha256()}.",
        lambda: f"MD5 of the archive: {fake.md5()}; SHA-1: {fake.sha1()}.",
        lambda: f"EAN {fake.ean13()}, lot {fake.bothify('L####-??').upper()}, best before {fake.date()}.",
        lambda: f"The fix is in commit {fake.sha1()[:12]} on the main branch.",
        lambda: f"Track it here: {fake.url()}track?id={fake.bothify('??######')}&lang=en",
        lambda: f"Ticket #{fake.random_int(10000, 99999)}: {fake.catch_phrase()}.",
        lambda: f"Customer number {fake.bothify('C-#######')}, contract {fake.bothify('??/####/###').upper()}.",
        lambda: f"Your access code for the event is {fake.bothify('####')} (door {fake.random_int(1, 9)}).",
        lambda: f"The meeting ID is {fake.random_int(100, 999)} {fake.random_int(100, 999)} {fake.random_int(1000, 9999)}.",
        lambda: f"API documentation: {fake.url()}docs/api/v{fake.random_int(1, 4)}",
        lambda: f"VAT number {fake.bothify('DE#########')}, registration {fake.bothify('HRB #####')}.",
        lambda: f"Password reset requested? If not, ignore this mail. Reference {fake.uuid4()}.",
        lambda: f"Your key card {fake.bothify('KC-####')} works until {fake.date()}.",
        lambda: f"{fake.paragraph(nb_sentences=3)}",
    ]
    for i in range(count):
        rng = random.Random(i)
        body = "\n".join(rng.choice(lines)() for _ in range(rng.randint(3, 7)))
        text = (f"From: {fake.name()} <{fake.company_email()}>\nSubject: {fake.bs().capitalize()}\n\n"
                f"Dear {fake.first_name()},\n\n{body}\n\nKind regards,\n{fake.name()}\n{fake.company()}\n")
        items.append({"source": "business-mail", "label": "ordinary", "where": f"b{i:03d}", "text": text})
    return items


def main(gitleaks_checkout: str, detect_secrets_checkout: str) -> None:
    items = (gitleaks_fixtures(Path(gitleaks_checkout)) + gitleaks_generated(Path(gitleaks_checkout))
             + detect_secrets(Path(detect_secrets_checkout)) + cpython_email() + business_mail())
    for item in items:
        item["text"] = base64.b64encode(item["text"].encode("utf-8", "surrogatepass")).decode()
    with gzip.open(HERE / "corpus.json.gz", "wt", encoding="utf-8") as fh:
        json.dump(items, fh, indent=0)
    counts: dict[str, int] = {}
    for item in items:
        counts[item["source"]] = counts.get(item["source"], 0) + 1
    print(counts)


def load() -> list[dict]:
    """The corpus, texts decoded (what the tests and bench/secret_corpus.py read)."""
    with gzip.open(HERE / "corpus.json.gz", "rt", encoding="utf-8") as fh:
        items = json.load(fh)
    for item in items:
        item["text"] = base64.b64decode(item["text"]).decode("utf-8", "surrogatepass")
    return items


if __name__ == "__main__":
    main(*sys.argv[1:3])
