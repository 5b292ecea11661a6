"""Signed approvals and assertions (docs/protocol.md): who decided what, bound to one presentation.

An **approval** is written into the note's front matter when a person approves on a local host::

    approval:
      by: ann                 # the person
      host: laptop            # the local host it was made on (whose key signed it)
      at: 2026-11-27T…        # when
      epoch: 2                # the presentation it approves (bumped by every edit, invalidation, replay)
      deadline: 2026-11-30T…  # the task's expiry when it was approved (or null)
      sha256: …               # of the canonical JSON of {id, kind, params, body}: exactly what is executed
      signature: …            # Ed25519, by ``host``, over all of the above plus the task id

Every other step a host asserts beyond drafting — reject, expire, claim, complete, fail — is an
**assertion** record (``event``, ``state``, ``by``, ``host``, ``at``, ``epoch``, ``signature``).
A host believes a pulled note in one of those states only if the record verifies with a key in its
keyring (:class:`fte.host.keys.Keyring`). The cloud holds no signing key: it verifies, never signs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fte.clock import iso, parse_iso
from fte.host.keys import HostKey, KeyMissing, Keyring
from fte.models.tables import Task

#: The events whose resulting state another host believes only with a signature, and that state.
ASSERTED: dict[str, str] = {"reject": "rejected", "expire": "expired", "claim": "claimed", "complete": "done",
                            "fail": "failed"}
#: Pulled states that need a signed record (``approved`` needs the approval itself).
SIGNED_STATES = frozenset({"approved", *ASSERTED.values()})


def content_digest(task_id: str, kind: str, params: dict[str, Any], body: str) -> str:
    """SHA-256 of exactly what will be executed."""
    canonical = json.dumps({"id": task_id, "kind": kind, "params": params, "body": body},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Trust:
    """What a host signs with (local hosts) and whose signatures it accepts (every host)."""

    keyring: Keyring
    signer: HostKey | None = None

    def _signer(self) -> HostKey:
        if self.signer is None:
            raise KeyMissing("this host has no signing key; decisions are made on a local host")
        return self.signer

    # -- making ------------------------------------------------------------------------------------

    def approval(self, task: Task, by: str, at: datetime) -> dict[str, Any]:
        """The signed approval of ``task`` as it stands (its params, body, epoch and deadline)."""
        signer = self._signer()
        record: dict[str, Any] = {
            "by": by, "host": signer.agent, "at": iso(at), "epoch": int(task.epoch or 0),
            "deadline": iso(task.expires_at) if task.expires_at else None,
            "sha256": content_digest(task.id, task.kind, task.params or {}, task.body),
        }
        record["signature"] = signer.sign(record | {"event": "approve", "task": task.id})
        return record

    def assertion(self, task: Task, event: str, by: str, at: datetime) -> dict[str, Any]:
        """The signed record of ``event`` (reject, expire, claim, complete, fail) on ``task``."""
        signer = self._signer()
        record: dict[str, Any] = {"event": event, "state": ASSERTED[event], "by": by, "host": signer.agent,
                                  "at": iso(at), "epoch": int(task.epoch or 0)}
        record["signature"] = signer.sign(record | {"task": task.id})
        return record

    # -- checking ----------------------------------------------------------------------------------

    def verify_approval(self, task_id: str, kind: str, params: dict[str, Any], body: str, approval: Any,
                        epoch: int | None = None) -> str | None:
        """None when ``approval`` is a trusted host's, for exactly this content (and ``epoch``, if
        given), made before its deadline; otherwise the reason it is not."""
        if not isinstance(approval, dict):
            return "no approval record"
        fields = _fields(approval, ("by", "host", "at", "epoch", "sha256", "signature"))
        if isinstance(fields, str):
            return fields
        signed = {k: approval.get(k) for k in ("by", "host", "at", "epoch", "deadline", "sha256")}
        reason = self.keyring.verify(str(approval["host"]), signed | {"event": "approve", "task": task_id},
                                     str(approval["signature"]))
        if reason:
            return f"approval: {reason}"
        if not hmac.compare_digest(content_digest(task_id, kind, params, body), str(approval["sha256"])):
            return "the body or parameters changed after approval"
        if epoch is not None and approval["epoch"] != epoch:
            return f"the approval is of presentation {approval['epoch']}, the task is at {epoch}: approve again"
        if approval.get("deadline") is not None:
            try:
                if parse_iso(str(approval["at"])) > parse_iso(str(approval["deadline"])):
                    return "the approval was made after the task's deadline"
            except ValueError:
                return "the approval's times are not valid"
        return None

    def verify_assertion(self, task_id: str, state: str, record: Any) -> str | None:
        """None when ``record`` is a trusted host's signed assertion that the task reached ``state``."""
        if not isinstance(record, dict):
            return f"no signed record for state {state!r}"
        fields = _fields(record, ("event", "state", "by", "host", "at", "epoch", "signature"))
        if isinstance(fields, str):
            return fields
        if record["state"] != state or ASSERTED.get(str(record["event"])) != state:
            return f"the signed record says {record['state']!r}, the note says {state!r}"
        signed = {k: record.get(k) for k in ("event", "state", "by", "host", "at", "epoch")}
        reason = self.keyring.verify(str(record["host"]), signed | {"task": task_id}, str(record["signature"]))
        return f"{state}: {reason}" if reason else None


def _fields(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    missing = [k for k in keys if k not in record]
    if missing:
        return f"the signed record lacks {', '.join(missing)}"
    if not isinstance(record.get("epoch"), int) or isinstance(record.get("epoch"), bool):
        return "the signed record's epoch is not a whole number"
    if not all(isinstance(record.get(k), str) for k in keys if k != "epoch"):
        return "the signed record's fields must be text"
    return None


def verify_task(trust: Trust, task: Task) -> str | None:
    """The executor's check: the row's approval verifies for its content and its current epoch."""
    return trust.verify_approval(task.id, task.kind, task.params or {}, task.body, task.approval, int(task.epoch or 0))
