"""The secret guard: scan the exact bytes about to be committed for credentials.

A hit is never committed (docs/sync.md, "The secret guard"): the caller quarantines the file outside git and flags the task.
Patterns follow the providers' published token formats:

* AWS access key ids ``AKIA…``/``ASIA…`` (20 chars) and ``aws_secret_access_key = <40 chars>``;
* PEM private key blocks (``-----BEGIN … PRIVATE KEY-----``);
* OpenAI keys ``sk-…`` / ``sk-proj-…``, Anthropic keys ``sk-ant-…``;
* Google OAuth access tokens ``ya29.…`` and refresh tokens ``1//…``; Google API keys ``AIza…``;
* GitHub tokens ``ghp_ gho_ ghu_ ghs_ ghr_`` and ``github_pat_…``; Slack tokens ``xox[baprs]-…``;
* JWTs (three base64url parts, the first two decoding to JSON objects: ``eyJ…``);
* ``password=`` / ``api_key=`` / ``secret=`` / ``token=`` assignments whose value looks random
  (Shannon entropy ≥ 3.0 bits per character and at least 12 characters) — so ``password: see the
  handbook`` in a reply is not a hit, ``password=Xk29!fQz8#Lm`` is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

PATTERNS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("aws-access-key-id", re.compile(rb"\b(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{16}\b")),
    ("aws-secret-access-key", re.compile(rb"(?i)aws_secret_access_key\s*[:=]\s*['\"]?[A-Za-z0-9/+=]{36,}")),
    ("private-key", re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("anthropic-api-key", re.compile(rb"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}")),
    ("openai-api-key", re.compile(rb"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    ("google-oauth-access-token", re.compile(rb"\bya29\.[0-9A-Za-z_\-]{20,}")),
    ("google-oauth-refresh-token", re.compile(rb"(?<![0-9A-Za-z])1//0[0-9A-Za-z_\-]{20,}")),
    ("google-api-key", re.compile(rb"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("github-token", re.compile(rb"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("slack-token", re.compile(rb"\bxox[baprs]-[0-9A-Za-z\-]{10,}")),
    ("jwt", re.compile(rb"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
)
_ASSIGNMENT = re.compile(
    rb"(?i)\b(?:password|passwd|pwd|api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|token)"
    rb"\s*[:=]\s*['\"]?([^\s'\"]{12,})"
)
MIN_ENTROPY = 3.0


@dataclass(frozen=True)
class Finding:
    """What matched and where — never the secret itself (findings end up in logs and the Dashboard)."""

    kind: str
    offset: int


def entropy(value: bytes) -> float:
    """Shannon entropy in bits per byte."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def scan(data: bytes) -> list[Finding]:
    """Every credential-looking thing in ``data``, in order of position."""
    found = [Finding(kind, m.start()) for kind, pattern in PATTERNS for m in pattern.finditer(data)]
    for m in _ASSIGNMENT.finditer(data):
        value = m.group(1)
        if entropy(value) >= MIN_ENTROPY and not value.lower().startswith((b"http://", b"https://")):
            found.append(Finding("password-assignment", m.start()))
    return sorted(found, key=lambda f: f.offset)
