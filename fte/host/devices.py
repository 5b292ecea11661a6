"""The devices that may open ``fte web``: one long random token per device, shown once, kept
hashed in the home (``<home>/web-devices.json``, mode 0600; never in the vault).

A token is 256 random bits (``fte_`` and 43 URL-safe characters), so a plain SHA-256 is enough to
keep it: nothing about it can be guessed, and a stolen file lets no one log in. Revoking a device
ends its sessions at their next request (the web server asks :meth:`Devices.who` every time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from datetime import datetime
from pathlib import Path

from fte.clock import iso
from fte.errors import BadInput, NotFound

DEVICES_NAME = "web-devices.json"
TOKEN_PREFIX = "fte_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Devices:
    """The device tokens of one home, read fresh from the file each time they are asked about (the
    file changes under a running server when a device is added or revoked)."""

    def __init__(self, home: Path) -> None:
        self.path = home / DEVICES_NAME

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(f"{self.path}: not a list of devices ({exc}); fix or remove it") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) and isinstance(v.get("hash"), str)
                                                 for v in data.values()):
            raise BadInput(f"{self.path}: not a list of devices; fix or remove it")
        return data

    def _save(self, entries: dict[str, dict[str, str]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def add(self, name: str, now: datetime) -> str:
        """A new device ``name`` and its token (returned once, never stored as it is)."""
        name = name.strip()
        if not _NAME_RE.fullmatch(name):
            raise BadInput(f"{name!r} is not a device name (letters, digits, space, '_', '.', '-'; at most 40)")
        entries = self._load()
        if name in entries:
            raise BadInput(f"a device named {name!r} exists; revoke it first, or pick another name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        entries[name] = {"hash": _digest(token), "added": iso(now)}
        self._save(entries)
        return token

    def list(self) -> list[dict[str, str]]:
        """Each device's name and when it was added (never its token)."""
        return [{"name": n, "added": e.get("added", "")} for n, e in sorted(self._load().items())]

    def revoke(self, name: str) -> None:
        entries = self._load()
        if name not in entries:
            raise NotFound(f"no device {name!r} (fte web token list)")
        del entries[name]
        self._save(entries)

    def who(self, token: str) -> str | None:
        """The device whose token this is, or None. Every stored hash is compared, in constant time."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = _digest(token)
        found = None
        for name, entry in self._load().items():
            if hmac.compare_digest(entry["hash"], digest):
                found = name
        return found

    def known(self, name: str) -> bool:
        return name in self._load()
