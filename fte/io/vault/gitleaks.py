"""gitleaks' rule set, read as data: ``rules/gitleaks.toml`` (MIT, ``rules/LICENSE.gitleaks``).

The secret guard (:mod:`fte.io.vault.secretguard`) runs these rules beside fte's own. A rule is
taken as gitleaks' detector takes it (its ``detect/detect.go``):

* its ``keywords``: a rule runs only on text that holds one of them, in lower case (a cheap
  pre-filter: most text holds none, and no regex runs). They are found in one pass
  (Aho-Corasick, as gitleaks does);
* the secret is the rule's ``secretGroup``, else the first non-empty group, else the whole match;
* ``entropy``: a secret whose Shannon entropy is not above it is no finding;
* allowlists, the file's global one and the rule's own: ``regexes`` (against the secret, or the
  match or the line when ``regexTarget`` says so) and ``stopwords`` (in the secret, in lower case);
  ``condition = "AND"`` asks for every criterion given.

Not taken: rules that match a file's *path* (``.p12`` files, Terraform, NuGet, Kubernetes manifests:
the guard sees a note's bytes, and fte syncs none of those files), allowlists by path or commit,
and gitleaks' decoding of base64/hex/percent-encoded segments.

gitleaks writes Go's RE2 syntax; :func:`python_regex` turns it into Python's: a flag group such as
``(?i)`` after the start (Python 3.11 refuses it) becomes a scoped group up to the end of its own
group, as RE2 reads it; POSIX classes (``[[:alnum:]]``) become their ranges; ``\\z`` is ``\\Z``.
Rules compile on first use (a rule whose keyword never appears never compiles). A rule of the
semi-generic shape (:data:`SEMI_GENERIC`: up to 50 identifier characters, then a keyword, an
assignment and a value) is searched from its keyword on, and its match extended back over the
identifier characters before it (at most 50, never into the previous match): the same matches as
the whole pattern's, found eight times faster, because Python's engine tries the lazy prefix at
every byte (``tests/test_secret_guard.py`` holds the two to the same answers).

``python -m fte.io.vault.gitleaks update [FILE|URL]`` takes a newer rule set (rules/README.md).
"""

from __future__ import annotations

import functools
import math
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("rules") / "gitleaks.toml"
#: fte's own additions to the global allowlist, in gitleaks' format (each says why)
LOCAL_ALLOWLIST = Path(__file__).with_name("rules") / "allowlist.toml"
UPSTREAM = "https://raw.githubusercontent.com/gitleaks/gitleaks/master/config/gitleaks.toml"

_POSIX = {"alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9", "xdigit": "0-9A-Fa-f", "upper": "A-Z",
          "lower": "a-z", "space": r"\s", "word": r"\w", "blank": r" \t", "cntrl": r"\x00-\x1f\x7f",
          "punct": r"!-/:-@\[-`{-~", "print": r" -~", "graph": r"!-~", "ascii": r"\x00-\x7f"}
_FLAGS = re.compile(r"\(\?([imsU-]+)\)")
#: How gitleaks' semi-generic rules begin (utils.GenerateSemiGenericRegex): an identifier of at
#: most 50 characters, then a keyword.
SEMI_GENERIC = "(?i)[\\w.-]{0,50}?"
_IDENTIFIER = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def python_regex(go: str) -> str:
    """A Go RE2 pattern as a Python ``re`` pattern with the same meaning (see the module's docstring)."""
    out: list[str] = []
    scoped: list[list[str]] = [[]]  # per open group: the flag groups opened in it, still open
    i, in_class = 0, False
    while i < len(go):
        c = go[i]
        if c == "\\":
            pair = go[i:i + 2]
            out.append(r"\Z" if pair == r"\z" and not in_class else pair)
            i += 2
            continue
        if in_class:
            posix = re.match(r"\[:(\^?)([a-z]+):\]", go[i:])
            if posix and posix.group(2) in _POSIX:
                if posix.group(1):
                    raise ValueError(f"a negated POSIX class is not supported: {posix.group()}")
                out.append(_POSIX[posix.group(2)])
                i += posix.end()
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if go[i:i + 1] == "^":
                out.append("^")
                i += 1
            if go[i:i + 1] == "]":  # a ] first in a class is itself
                out.append(r"\]")
                i += 1
            continue
        flags = _FLAGS.match(go, i)
        if flags and i > 0:
            # RE2: the flags hold to the end of the enclosing group, across its alternatives;
            # Python takes flags only at the very start, so each stretch is a scoped group
            group = f"(?{flags.group(1).replace('U', '')}:"
            out.append(group)
            scoped[-1].append(group)
            i = flags.end()
            continue
        if c == "(":
            scoped.append([])
        elif c == ")":
            out.append(")" * len(scoped.pop()))
        elif c == "|" and scoped[-1]:
            out.append(")" * len(scoped[-1]) + "|" + "".join(scoped[-1]))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(scoped.pop()))
    return "".join(out)


def entropy(value: bytes) -> float:
    """Shannon entropy in bits per character (gitleaks' ``shannonEntropy``, over bytes)."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


@dataclass(frozen=True)
class Allowlist:
    regexes: tuple[str, ...] = ()
    target: str = "secret"  # secret | match | line
    stopwords: tuple[bytes, ...] = ()
    every: bool = False  # condition = "AND"

    @classmethod
    def of(cls, data: dict[str, Any]) -> Allowlist:
        return cls(tuple(data.get("regexes", ())), data.get("regexTarget", "secret") or "secret",
                   tuple(w.lower().encode() for w in data.get("stopwords", ())), data.get("condition") == "AND")

    @functools.cached_property
    def _compiled(self) -> tuple[re.Pattern[bytes], ...]:
        return tuple(re.compile(python_regex(r).encode()) for r in self.regexes)

    def allows(self, secret: bytes, match: bytes, line: bytes) -> bool:
        target = {"match": match, "line": line}.get(self.target, secret)
        checks = []
        if self.regexes:
            checks.append(any(p.search(target) for p in self._compiled))
        if self.stopwords:
            lower = secret.lower()
            checks.append(any(w in lower for w in self.stopwords))
        return bool(checks) and (all(checks) if self.every else any(checks))


@dataclass(frozen=True)
class Rule:
    id: str
    regex: str
    keywords: tuple[bytes, ...]
    entropy: float = 0.0
    secret_group: int = 0
    allowlists: tuple[Allowlist, ...] = ()

    @functools.cached_property
    def pattern(self) -> re.Pattern[bytes]:
        return re.compile(python_regex(self.regex).encode())

    @functools.cached_property
    def from_keyword(self) -> re.Pattern[bytes] | None:
        """For a semi-generic rule, its pattern without the identifier before the keyword."""
        if not self.regex.startswith(SEMI_GENERIC):
            return None
        return re.compile(("(?i)" + python_regex(self.regex[len(SEMI_GENERIC):])).encode())

    def matches(self, data: bytes) -> list[tuple[int, re.Match[bytes]]]:
        """Each match as (where it starts, the match object): what ``pattern.finditer`` finds."""
        rest = self.from_keyword
        if rest is None:
            return [(m.start(), m) for m in self.pattern.finditer(data)]
        found, previous_end = [], 0
        for m in rest.finditer(data):
            start = m.start()
            floor = max(previous_end, start - 50)
            while start > floor and data[start - 1] in _IDENTIFIER:
                start -= 1
            found.append((start, m))
            previous_end = m.end()
        return found


@dataclass(frozen=True)
class Hit:
    """A finding: the rule, the secret's span, and where the rule's whole match starts."""

    rule: str
    start: int
    end: int
    match_start: int


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    allowlists: tuple[Allowlist, ...]
    skipped: tuple[str, ...]  # rules for a path, not a content

    @functools.cached_property
    def _keywords(self) -> Any:
        """One automaton of every rule's keywords (latin-1 text: one character per byte)."""
        import ahocorasick  # type: ignore[import-not-found]  # no stubs

        automaton = ahocorasick.Automaton()
        for keyword in {k for rule in self.rules for k in rule.keywords}:
            automaton.add_word(keyword.decode("latin-1"), keyword)
        automaton.make_automaton()
        return automaton

    @functools.cached_property
    def _keywordless(self) -> bool:
        return any(not rule.keywords for rule in self.rules)

    @functools.cached_property
    def _rules_by_keyword(self) -> dict[bytes, frozenset[int]]:
        """Each keyword → the rules (by position) it calls for."""
        by: dict[bytes, set[int]] = {}
        for i, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                by.setdefault(keyword, set()).add(i)
        return {k: frozenset(v) for k, v in by.items()}

    def scan(self, data: bytes, lower: bytes | None = None) -> list[Hit]:
        """Every finding of the rules in ``data`` (``lower``: ``data.lower()``, if already made)."""
        lower = data.lower() if lower is None else lower
        wanted = {i for i, rule in enumerate(self.rules) if not rule.keywords} if self._keywordless else set()
        for keyword in {keyword for _end, keyword in self._keywords.iter(lower.decode("latin-1"))}:
            wanted |= self._rules_by_keyword[keyword]
        hits: list[Hit] = []
        for i in sorted(wanted):  # the file's order, as before
            rule = self.rules[i]
            for match_start, m in rule.matches(data):
                hit = self._hit(rule, match_start, m, data)
                if hit is not None:
                    hits.append(hit)
        return hits

    def _hit(self, rule: Rule, match_start: int, m: re.Match[bytes], data: bytes) -> Hit | None:
        start, end = match_start, m.end()
        if rule.secret_group and (m.lastindex or 0) >= rule.secret_group and m.group(rule.secret_group):
            start, end = m.span(rule.secret_group)
        elif m.lastindex:
            for g in range(1, m.lastindex + 1):
                if m.group(g):
                    start, end = m.span(g)
                    break
        secret = data[start:end]
        if not secret or (rule.entropy and entropy(secret) <= rule.entropy):
            return None
        line_start = data.rfind(b"\n", 0, match_start) + 1
        line_end = data.find(b"\n", m.end())
        line = data[line_start:len(data) if line_end < 0 else line_end]
        for allowlist in self.allowlists + rule.allowlists:
            if allowlist.allows(secret, data[match_start:m.end()], line):
                return None
        return Hit(rule.id, start, end, match_start)


def parse(text: str) -> RuleSet:
    """The rule set of a gitleaks configuration file's text."""
    data = tomllib.loads(text)
    rules, skipped = [], []
    for r in data.get("rules", []):
        if "path" in r or "regex" not in r:
            skipped.append(r["id"])
            continue
        rules.append(Rule(r["id"], r["regex"], tuple(k.lower().encode() for k in r.get("keywords", ())),
                          float(r.get("entropy", 0.0)), int(r.get("secretGroup", 0)),
                          tuple(Allowlist.of(a) for a in r.get("allowlists", ()))))
    global_lists = data.get("allowlists") or ([data["allowlist"]] if "allowlist" in data else [])
    return RuleSet(tuple(rules), tuple(Allowlist.of(a) for a in global_lists), tuple(skipped))


@functools.cache
def rules() -> RuleSet:
    """The rule set fte ships (``rules/gitleaks.toml``, with ``rules/allowlist.toml``), read once."""
    shipped = parse(RULES_FILE.read_text(encoding="utf-8"))
    local = tomllib.loads(LOCAL_ALLOWLIST.read_text(encoding="utf-8")).get("allowlists", [])
    return RuleSet(shipped.rules, shipped.allowlists + tuple(Allowlist.of(a) for a in local), shipped.skipped)


def check(rule_set: RuleSet) -> list[str]:
    """Every rule (and allowlist) that does not compile, with why: nothing may go unread."""
    problems = []
    for rule in rule_set.rules:
        try:
            rule.pattern  # noqa: B018 — compiling is the check
            rule.from_keyword  # noqa: B018
            for allowlist in rule.allowlists:
                allowlist._compiled  # noqa: B018
        except (re.error, ValueError) as exc:
            problems.append(f"{rule.id}: {exc}")
    for allowlist in rule_set.allowlists:
        try:
            allowlist._compiled  # noqa: B018
        except (re.error, ValueError) as exc:
            problems.append(f"global allowlist: {exc}")
    return problems


def update(source: str = UPSTREAM) -> int:
    """``python -m fte.io.vault.gitleaks update [FILE|URL]``: replace the shipped rules with
    ``source`` if every rule of it compiles; 0 done, 1 refused."""
    if source.startswith(("https://", "http://")):
        import httpx

        text = httpx.get(source, timeout=60, follow_redirects=True).raise_for_status().text
    else:
        text = Path(source).read_text(encoding="utf-8")
    fresh = parse(text)
    problems = check(fresh)
    if problems:
        print("refused, these rules do not compile:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    RULES_FILE.write_text(text, encoding="utf-8")
    print(f"{len(fresh.rules)} rules ({len(fresh.skipped)} for paths, not taken) written to {RULES_FILE}; "
          "record the commit in rules/README.md")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["update"] or len(sys.argv) > 3:
        print("usage: python -m fte.io.vault.gitleaks update [FILE|URL]", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(update(*sys.argv[2:]))
