"""The secret guard: find credentials in the exact bytes about to leave the host, and redact them.

What leaves is scanned twice (docs/sync.md, "The secret guard"): every file fte commits (a hit is
**redacted** — the value replaced by a visible ``[redacted: <kind>]`` so the task still reaches the
person, the original kept in the local, ignored ``Quarantine/``), and every outgoing commit before
a push, the person's own included (a hit there blocks the push: fte never rewrites someone's
commit). Findings carry the kind and the span, never the secret (they end up in logs).

What is recognised, by the providers' published formats: AWS access key ids (also glued to a
word, ``KEY_AKIA…``) and secret keys, PEM private keys (also with ``&nbsp;`` or a no-break space
in the BEGIN line, as HTML mail writes it), OpenAI and Anthropic keys, Google API keys and OAuth
tokens, GitHub and GitLab tokens, Slack tokens and webhook URLs, Stripe secret and restricted keys,
SendGrid, npm and Mailgun keys, JWTs, Azure storage account keys, passwords inside URLs
(``postgres://user:pw@host``); and, after a keyword, a value that looks like a credential:

* after *password* (``password:``, ``password =``, "the password is …", ``pass:``): a single word of
  at least 6 characters that holds a digit, a symbol, or both cases — ``hunter22``, ``Xk29!fQz8#Lm``
  — not ``see the handbook``, ``required`` or ``********``;
* after *api key*, *secret*, *client secret*, *token*, *auth token*: at least 16 characters of
  token alphabet with an entropy of at least 3 bits per character — an invoice number after
  "Token:" is too short, ``YOUR_API_KEY_HERE`` is a placeholder, and a ``token=`` in a link's query
  string (an unsubscribe link) is not the person's credential.

Beside these, gitleaks' maintained rule set (:mod:`fte.io.vault.gitleaks`, about 220 providers'
formats kept as data) runs on the same bytes; its findings are named by the rule's id
(``[redacted: twilio-api-key]``). fte's own rules stay for what gitleaks lacks (prose passwords,
HTML-mangled PEM keys, passwords in URLs, keywords without an assignment).

Measured on the labelled corpus in ``tests/data/secrets/`` and on an independent one
(``tests/data/secrets_independent/``), docs/RELIABILITY.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from fte.io.vault import gitleaks

#: A space as mail writes it: blanks, an HTML ``&nbsp;``, a UTF-8 no-break space.
_SP = rb"(?:[ \t]|&nbsp;|&#160;|&#xa0;|\xc2\xa0)+"

PATTERNS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("aws-access-key-id", re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Z])")),
    ("aws-secret-access-key", re.compile(rb"(?i)aws_secret_access_key\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})")),
    ("private-key", re.compile(rb"-----BEGIN" + _SP + rb"(?:[A-Z0-9]+" + _SP + rb")*PRIVATE" + _SP + rb"KEY(?:"
                               + _SP + rb"BLOCK)?-----")),
    ("anthropic-api-key", re.compile(rb"(?<![A-Za-z0-9])sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}")),
    ("openai-api-key", re.compile(rb"(?<![A-Za-z0-9])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    ("stripe-secret-key", re.compile(rb"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[0-9A-Za-z]{16,}")),
    ("google-oauth-access-token", re.compile(rb"(?<![A-Za-z0-9])ya29\.[0-9A-Za-z_\-]{20,}")),
    ("google-oauth-refresh-token", re.compile(rb"(?<![0-9A-Za-z])1//0[0-9A-Za-z_\-]{20,}")),
    ("google-api-key", re.compile(rb"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])")),
    ("github-token", re.compile(rb"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("gitlab-token", re.compile(rb"(?<![A-Za-z0-9])gl(?:pat|dt|ptt|rt)-[0-9A-Za-z_\-]{20,}")),
    ("slack-token", re.compile(rb"(?<![A-Za-z0-9])xox[baprs]-[0-9A-Za-z\-]{10,}")),
    ("slack-webhook", re.compile(rb"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,}")),
    ("sendgrid-api-key", re.compile(rb"(?<![A-Za-z0-9])SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}")),
    ("npm-token", re.compile(rb"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}")),
    # Mailgun's private API key as its dashboard shows it; gitleaks takes it only after "mailgun" and
    # an assignment, so a key pasted into prose went through
    ("mailgun-api-key", re.compile(rb"(?<![A-Za-z0-9])key-[0-9a-f]{32}(?![0-9A-Za-z])")),
    ("jwt", re.compile(rb"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    ("azure-storage-key", re.compile(rb"(?i)AccountKey=([A-Za-z0-9+/]{40,}={0,2})")),
    ("url-password", re.compile(rb"(?i)\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@<>\"']{1,64}:([^\s:/@<>\"']{4,128})@")),
)
#: Literal text every match of a pattern holds (lower case for the ``(?i)`` patterns): a note
#: with none of them cannot match, and ``in`` finds that a hundred times faster than the regex —
#: a pattern that opens with a look-behind is tried at every byte (~30 µs per note each, ~0.6 ms
#: for all of them, twice per note and task). tests/test_secret_guard.py checks each list against
#: strings generated from its pattern.
NEEDLES: dict[str, tuple[bytes, ...]] = {
    "aws-access-key-id": (b"AKIA", b"ASIA", b"AIDA", b"AROA", b"ABIA", b"ACCA"),
    "aws-secret-access-key": (b"aws_secret_access_key",),
    "private-key": (b"-----BEGIN",),
    "anthropic-api-key": (b"sk-ant-",),
    "openai-api-key": (b"sk-",),
    "stripe-secret-key": (b"k_live_", b"k_test_"),
    "google-oauth-access-token": (b"ya29.",),
    "google-oauth-refresh-token": (b"1//0",),
    "google-api-key": (b"AIza",),
    "github-token": (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
    "gitlab-token": (b"glpat-", b"gldt-", b"glptt-", b"glrt-"),
    "slack-token": (b"xox",),
    "slack-webhook": (b"https://hooks.slack.com/",),
    "sendgrid-api-key": (b"SG.",),
    "npm-token": (b"npm_",),
    "mailgun-api-key": (b"key-",),
    "jwt": (b"eyJ",),
    "azure-storage-key": (b"accountkey=",),
    "url-password": (b"://",),
    "password": (b"pass", b"pwd"),
    "token-assignment": (b"key", b"secret", b"token"),
}


def may_match(kind: str, pattern: re.Pattern[bytes], data: bytes, lower: bytes) -> bool:
    """False only when ``pattern`` cannot match ``data`` (none of its :data:`NEEDLES` is there);
    ``lower`` is ``data.lower()``, for the patterns that ignore case. A kind with no needles is
    always tried."""
    needles = NEEDLES.get(kind)
    if needles is None:
        return True
    haystack = lower if pattern.flags & re.IGNORECASE else data
    return any(n in haystack for n in needles)


_END_PEM = re.compile(rb"-----END" + _SP + rb"(?:[A-Z0-9]+" + _SP + rb")*PRIVATE" + _SP + rb"KEY(?:" + _SP
                      + rb"BLOCK)?-----")
_PASSWORD = re.compile(
    # "pass" alone only where it starts a line or follows a separator ("login: ann / pass: …"), so a
    # "Boarding pass: 7XK2PQ9" is no password; as the end of a name (DB_PASSWORD=, SMTP_PASS=) too:
    # `\b` does not hold after an underscore, and a pasted .env went through.
    rb"(?i)(?:\b(?:password|passwd|passwort|pwd)|(?<![A-Za-z] )\bpass|(?<=_)(?:password|passwd|pwd|pass))\b"
    rb"(?:\s+is\b|\s*[:=])\s*['\"]?([^\s'\"<>]{6,})")
_TOKEN = re.compile(
    rb"(?i)(?<![A-Za-z0-9])(?:api[_\- ]?key|apikey|secret(?:[_\- ]?key)?|client[_\- ]?secret|access[_\- ]?token|"
    rb"auth[_\- ]?token|token|private[_\- ]?key)(?:\s+is\b|\s*[:=])\s*['\"]?([A-Za-z0-9_\-+/=.~]{16,})")
#: Keywords that, in a link's query string, name the link's own machinery (unsubscribe, tracking).
_URL_QUERY_KEYS = (b"token", b"secret")
_PLACEHOLDER = re.compile(rb"(?i)your|here|example|change.?me|placeholder|redacted|xxxx|\*\*\*|^<|^\$|^\{|^\.\.\.")
MIN_ENTROPY = 3.0


@dataclass(frozen=True)
class Finding:
    """What matched and where (``offset``..``end``, the span redaction replaces) — never the secret."""

    kind: str
    offset: int
    end: int = -1


def entropy(value: bytes) -> float:
    """Shannon entropy in bits per byte."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def _looks_like_password(value: bytes) -> bool:
    value = value.rstrip(b".,;:!?)]}")
    if len(value) < 6 or _PLACEHOLDER.search(value) or len(set(value)) < 3:
        return False
    has_digit = any(48 <= c <= 57 for c in value)
    has_symbol = any(not chr(c).isalnum() for c in value if c < 128)
    mixed = any(65 <= c <= 90 for c in value) and any(97 <= c <= 122 for c in value)
    return has_digit or has_symbol or mixed


def _looks_like_token(value: bytes) -> bool:
    value = value.rstrip(b".,;:)")
    return len(value) >= 16 and entropy(value) >= MIN_ENTROPY and not _PLACEHOLDER.search(value) \
        and not value.lower().startswith((b"http://", b"https://"))


def _in_query_string(data: bytes, start: int) -> bool:
    return start > 0 and data[start - 1:start] in (b"?", b"&", b";")


def scan(data: bytes) -> list[Finding]:
    """Every credential-looking thing in ``data``, in order of position: fte's own rules' findings,
    and gitleaks' where they are not already inside one of those."""
    lower = data.lower()
    own = own_scan(data, lower)
    spans = [(f.offset, f.end) for f in own]
    for hit in gitleaks.rules().scan(data, lower):
        if any(start <= hit.start and hit.end <= end for start, end in spans):
            continue  # one of fte's own findings holds it already
        if hit.rule.startswith("generic") and _in_query_string(data, hit.match_start):
            continue  # a link's own machinery (an unsubscribe token), as for fte's own keywords
        own.append(Finding(hit.rule, hit.start, hit.end))
    return sorted(own, key=lambda f: (f.offset, -f.end))


def own_scan(data: bytes, lower: bytes | None = None) -> list[Finding]:
    """The findings of fte's own rules alone (``lower``: ``data.lower()``, if already made)."""
    found: list[Finding] = []
    lower = data.lower() if lower is None else lower
    for kind, pattern in PATTERNS:
        if not may_match(kind, pattern, data, lower):
            continue
        for m in pattern.finditer(data):
            if kind == "private-key":
                end = _END_PEM.search(data, m.end(), m.end() + 16_384)
                found.append(Finding(kind, m.start(), end.end() if end else min(len(data), m.end() + 4096)))
            elif m.lastindex:
                if kind == "url-password" and _PLACEHOLDER.search(m.group(1)):
                    continue
                found.append(Finding(kind, m.start(1), m.end(1)))
            else:
                found.append(Finding(kind, m.start(), m.end()))
    for m in _PASSWORD.finditer(data) if may_match("password", _PASSWORD, data, lower) else ():
        if _looks_like_password(m.group(1)):
            found.append(Finding("password", m.start(1), m.start(1) + len(m.group(1).rstrip(b".,;:!?)]}"))))
    for m in _TOKEN.finditer(data) if may_match("token-assignment", _TOKEN, data, lower) else ():
        keyword = m.group(0)[:m.start(1) - m.start()].lower()
        if _in_query_string(data, m.start()) and keyword.startswith(_URL_QUERY_KEYS):
            continue
        if _looks_like_token(m.group(1)):
            found.append(Finding("token-assignment", m.start(1), m.start(1) + len(m.group(1).rstrip(b".,;:)"))))
    return sorted(found, key=lambda f: (f.offset, -f.end))


def redact(data: bytes) -> tuple[bytes, list[Finding]]:
    """``data`` with every finding's span replaced by ``[redacted: <kind>]``, and the findings."""
    findings = scan(data)
    if not findings:
        return data, []
    out, last = [], 0
    for f in findings:  # sorted by start; an overlapping span is folded into the one before it
        end = f.end if f.end >= 0 else f.offset
        if f.offset < last:
            last = max(last, end)  # and takes its end with it: no tail of a secret is left readable
            continue
        out += [data[last:f.offset], b"[redacted: " + f.kind.encode() + b"]"]
        last = max(end, f.offset)
    out.append(data[last:])
    return b"".join(out), findings


def redacted_text(text: str) -> str:
    """``text`` with every secret replaced by its marker (see :func:`redact`)."""
    data = text.encode("utf-8", "surrogatepass")
    clean, findings = redact(data)
    return clean.decode("utf-8", "surrogatepass") if findings else text
