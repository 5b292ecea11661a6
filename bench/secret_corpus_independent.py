"""The secret guard on the independent corpus (tests/data/secrets_independent/): recall on what
holds a secret, false positives on ordinary mail, for fte's own rules alone (the guard before
gitleaks' rules joined it) and for the guard as it is (docs/RELIABILITY.md).

    python bench/secret_corpus_independent.py [--misses]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests/data/secrets_independent"))
from build import load  # noqa: E402

from fte.io.vault.secretguard import own_scan, scan  # noqa: E402


def measure(scanner, items):  # noqa: ANN001, ANN201
    by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed, touched = [], []
    start = time.perf_counter()
    for item in items:
        hit = bool(scanner(item["text"].encode("utf-8", "surrogatepass")))
        row = by_source[item["source"]]
        row[0] += hit
        row[1] += 1
        if item["label"] == "secret" and not hit:
            missed.append(item)
        if item["label"] == "ordinary" and hit:
            touched.append(item)
    return by_source, missed, touched, (time.perf_counter() - start) / len(items)


def main() -> None:
    items = load()
    secrets = [i for i in items if i["label"] == "secret"]
    ordinary = [i for i in items if i["label"] == "ordinary"]
    print(f"{len(items)} items: {len(secrets)} holding a secret, {len(ordinary)} ordinary mails, "
          f"{len(items) - len(secrets) - len(ordinary)} code negatives (gitleaks' own false-positive tests)")
    for name, scanner in (("fte's own rules (before)", own_scan), ("fte + gitleaks (now)", scan)):
        by_source, missed, touched, per_item = measure(scanner, items)
        caught = len(secrets) - len(missed)
        print(f"\n{name}: recall {caught}/{len(secrets)} ({100 * caught / len(secrets):.1f} %), "
              f"ordinary mail touched {len(touched)}/{len(ordinary)} ({100 * len(touched) / len(ordinary):.2f} %), "
              f"{per_item * 1e6:.0f} µs per item")
        for source, (hit, n) in sorted(by_source.items()):
            print(f"  {source:20} {hit:4}/{n:<4} found")
        if "--misses" in sys.argv:
            for item in missed:
                print("  missed", item["source"], item["where"], repr(item["text"][:100]))
            for item in touched:
                print("  touched", item["source"], item["where"],
                      [(f.kind, item["text"].encode()[f.offset:f.end][:40]) for f in scanner(item["text"].encode())])


if __name__ == "__main__":
    main()
