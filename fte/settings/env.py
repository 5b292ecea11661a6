"""A host's secrets and paths: ``<home>/.env`` overlaid by the environment, and path settings
resolved against the home. Below the settings (the channel registry reads them while the settings
table is being built from it)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from fte.errors import BadInput

ENV_NAME = ".env"


def home_path(home: Path, value: str) -> Path:
    """A path setting: ``~`` expanded; relative to the home unless absolute."""
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else home / p


def load_env(home: Path) -> dict[str, str]:
    """Secrets for this host: ``<home>/.env`` (KEY=VALUE lines) overlaid by the real environment.
    The file is parsed once per process while it stays the same (a daemon's reload after an edit
    reads the new one): building one daemon used to read it five times."""
    path = home / ENV_NAME
    try:
        st = path.stat()
        values = dict(_parse_env(str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    except (FileNotFoundError, NotADirectoryError):
        values = {}
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    values.update({k: v for k, v in os.environ.items() if k.startswith(("FTE_", "OPENAI_"))})
    return values


@functools.lru_cache(maxsize=8)
def _parse_env(name: str, _mtime_ns: int, _size: int, _inode: int) -> tuple[tuple[str, str], ...]:
    """The KEY=value lines of one version of a ``.env`` (the stat fields key the cache)."""
    path = Path(name)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{path}, line {number}: not a KEY=value line")
        if any(ord(c) < 32 and c != "\t" for c in line) or "\x7f" in line:
            # A NUL or another control character cannot be a secret's text (the environment refuses a
            # NUL; a header built from it would be cut or split).
            raise BadInput(f"{path}, line {number}: holds a control character (a NUL?); remove it")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return tuple(values.items())
