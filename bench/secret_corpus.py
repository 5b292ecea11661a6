"""The secret guard against Yelp's detect-secrets, on the labelled corpus of tests/data/secrets/.

    pip install detect-secrets==1.5.0      # not a dependency of fte: only this comparison needs it
    python bench/secret_corpus.py [--json]

For each scanner: mails with a secret that were caught (recall, by mail), secrets left readable
after its findings are removed (by value: a finding that covers only part of a key leaks the
rest), and ordinary mails it would touch (false positives). detect-secrets is run the way its CLI
runs (``SecretsCollection.scan_file`` under its default settings: every plugin, every filter).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fte.io.vault.secretguard import redact  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "data" / "secrets"))
from generate import corpus  # noqa: E402

CORPUS = corpus()


def ours(text: str) -> tuple[bool, str]:
    clean, findings = redact(text.encode())
    return bool(findings), clean.decode("utf-8", "replace")


def detect_secrets_scanner() -> Callable[[str], tuple[bool, str]] | None:
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    folder = Path(tempfile.mkdtemp(prefix="fte-ds-"))

    def scan(text: str) -> tuple[bool, str]:
        path = folder / "mail.txt"
        path.write_text(text, encoding="utf-8")
        secrets = SecretsCollection()
        with default_settings():
            secrets.scan_file(str(path))
        found = [s for _f, s in secrets]
        clean = text
        for s in found:
            if s.secret_value:
                clean = clean.replace(s.secret_value, "[redacted]")
        return bool(found), clean
    return scan


def measure(name: str, scan: Callable[[str], tuple[bool, str]]) -> dict[str, Any]:
    started = time.perf_counter()
    caught = leaked = touched = 0
    missed_ids, leaked_ids, touched_ids = [], [], []
    for case in CORPUS:
        hit, clean = scan(case["text"])
        if case["label"] == "secret":
            caught += hit
            if not hit:
                missed_ids.append(case["id"])
            if any(secret in clean for secret in case["secrets"]):
                leaked += 1
                leaked_ids.append(case["id"])
        elif hit:
            touched += 1
            touched_ids.append(case["id"])
    secret = sum(c["label"] == "secret" for c in CORPUS)
    ordinary = len(CORPUS) - secret
    return {"scanner": name, "secret_mails": secret, "ordinary_mails": ordinary,
            "recall": round(caught / secret, 3), "left_readable": leaked,
            "false_positive_rate": round(touched / ordinary, 3), "missed": missed_ids, "leaked": leaked_ids,
            "touched": touched_ids, "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure("fte secret guard", ours)]
    ds = detect_secrets_scanner()
    if ds is None:
        print("detect-secrets is not installed: pip install detect-secrets==1.5.0", file=sys.stderr)
    else:
        results.append(measure("detect-secrets 1.5.0 (defaults)", ds))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['scanner']}: recall {r['recall']:.1%} of {r['secret_mails']} secret mails, "
              f"{r['left_readable']} left readable, false positives {r['false_positive_rate']:.1%} of "
              f"{r['ordinary_mails']} ordinary mails, {r['seconds']} s")
        for key in ("missed", "leaked", "touched"):
            if r[key]:
                print(f"  {key}: {', '.join(r[key][:30])}{' …' if len(r[key]) > 30 else ''}")


if __name__ == "__main__":
    main()
