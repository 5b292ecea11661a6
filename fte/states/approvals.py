"""Signed approvals (DESIGN §3): who approved what, bound to the exact body and parameters.

The record written into the note's front matter::

    approval:
      by: ann            # the person (the local host's agent name, or --by)
      at: 2026-11-26T…   # when
      sha256: …          # of the canonical JSON of {id, kind, params, body}
      signature: …       # HMAC-SHA256 over id, sha256, by and at, with the local approval key

The key (``<home>/approval.key``) exists only on local hosts and never enters the vault or git, so
a note that arrives already "approved" through a pull cannot carry a signature this host accepts
unless a local host made it. An edit after approval changes the hash: the executor refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from fte.clock import iso
from fte.errors import FteError
from fte.models.tables import Task
from datetime import datetime


class ApprovalKeyMissing(FteError):
    """This host has no approval key: it is not a local host, or its home is incomplete."""


def load_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ApprovalKeyMissing(f"no approval key at {path}; only local hosts (fte init --role local|all) approve") from None
    return bytes.fromhex(text)


def content_digest(task_id: str, kind: str, params: dict[str, Any], body: str) -> str:
    """SHA-256 of exactly what will be executed."""
    canonical = json.dumps({"id": task_id, "kind": kind, "params": params, "body": body},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _mac(key: bytes, task_id: str, digest: str, by: str, at: str) -> str:
    return hmac.new(key, f"fte-approval\n{task_id}\n{digest}\n{by}\n{at}".encode(), hashlib.sha256).hexdigest()


def make_approval(key: bytes, task: Task, by: str, at: datetime) -> dict[str, str]:
    digest = content_digest(task.id, task.kind, task.params or {}, task.body)
    stamp = iso(at)
    return {"by": by, "at": stamp, "sha256": digest, "signature": _mac(key, task.id, digest, by, stamp)}


def verify(key: bytes, task_id: str, kind: str, params: dict[str, Any], body: str, approval: Any) -> str | None:
    """None when ``approval`` is valid for exactly this content; otherwise the reason it is not."""
    if not isinstance(approval, dict):
        return "no approval record"
    try:
        by, at, digest, sig = (str(approval[k]) for k in ("by", "at", "sha256", "signature"))
    except KeyError as exc:
        return f"approval record lacks {exc.args[0]!r}"
    if not hmac.compare_digest(_mac(key, task_id, digest, by, at), sig):
        return "approval signature does not verify"
    if not hmac.compare_digest(content_digest(task_id, kind, params, body), digest):
        return "the body or parameters changed after approval"
    return None


def verify_task(key: bytes, task: Task) -> str | None:
    return verify(key, task.id, task.kind, task.params or {}, task.body, task.approval)
