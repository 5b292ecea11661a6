"""Host keys and the keyring (docs/protocol.md, "Keys").

Each local host has its own Ed25519 key: ``<home>/host.key`` (the private key, hex, mode 0600,
never in the vault). Every host — cloud included — keeps a **keyring**, ``<home>/keyring.json``:
the public keys of the local hosts whose signatures it accepts, managed by a person with
``fte keys trust|revoke``. Trust is decided on each host; public keys may travel in the vault
(``Logs/<agent>/host.pub``) as a convenience, but a key found there is never trusted by itself.

Signed statements are the canonical JSON of a record (sorted keys, no spaces, UTF-8) after a
fixed prefix, so a signature made for one purpose can never verify for another.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fte.clock import iso
from fte.errors import BadInput, KeyMissing

KEY_NAME = "host.key"
KEYRING_NAME = "keyring.json"
PREFIX = b"fte-assertion-v1\n"


def statement(record: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the prefix and the record's canonical JSON (without ``signature``)."""
    body = {k: v for k, v in record.items() if k != "signature"}
    return PREFIX + json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key as ``fte keys show`` prints it (base64 of the 32 raw bytes); BadInput otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error) as exc:
        raise BadInput(f"{text.strip()[:60]!r} is not an Ed25519 public key (base64 of 32 bytes): {exc}") from None


@dataclass(frozen=True)
class HostKey:
    """This host's signing key."""

    agent: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> str:
        return _b64(self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, record: dict[str, Any]) -> str:
        return _b64(self.private.sign(statement(record)))


def create_host_key(home: Path) -> None:
    """Write a new private key to ``<home>/host.key`` (mode 0600); an existing key is kept."""
    path = home / KEY_NAME
    if path.exists():
        return
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(raw.hex() + "\n")


def load_host_key(home: Path, agent: str) -> HostKey:
    path = home / KEY_NAME
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyMissing(f"no signing key at {path}; only local hosts (fte init --role local|all) sign") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot be read ({exc})") from None
    try:
        raw = bytes.fromhex(text)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return HostKey(agent, Ed25519PrivateKey.from_private_bytes(raw))
    except ValueError as exc:
        raise BadInput(f"{path}: not an Ed25519 private key in hex ({exc})") from None


class Keyring:
    """The public keys this host trusts, by agent name: ``<home>/keyring.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, str]] = {}
        self._keys: dict[str, Ed25519PublicKey] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                    raise ValueError("not a JSON object of agents")
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadInput(f"{path}: not a keyring ({exc}); fix or remove it, then `fte keys trust` again") from None
            for agent, entry in data.items():
                self._keys[agent] = parse_public_key(str(entry.get("key", "")))
                self.entries[agent] = {k: str(v) for k, v in entry.items()}

    @classmethod
    def of(cls, home: Path) -> "Keyring":
        return cls(home / KEYRING_NAME)

    def trust(self, agent: str, key: str, now: datetime) -> bool:
        """Trust ``key`` for ``agent``; returns False when it was already trusted."""
        parse_public_key(key)
        if self.entries.get(agent, {}).get("key") == key.strip():
            return False
        self.entries[agent] = {"key": key.strip(), "trusted_at": iso(now)}
        self._keys[agent] = parse_public_key(key)
        self._save()
        return True

    def revoke(self, agent: str) -> bool:
        if agent not in self.entries:
            return False
        del self.entries[agent]
        del self._keys[agent]
        self._save()
        return True

    def verify(self, agent: str, record: dict[str, Any], signature: str) -> str | None:
        """None when ``signature`` is ``agent``'s over ``record``; otherwise why not."""
        key = self._keys.get(agent)
        if key is None:
            return f"host {agent!r} is not in this host's keyring"
        try:
            key.verify(base64.b64decode(signature, validate=True), statement(record))
        except (InvalidSignature, ValueError, binascii.Error):
            return f"the signature is not {agent!r}'s"
        return None

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.entries, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
