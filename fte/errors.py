"""The one exception tree of fte.

Every error that crosses a module boundary is an :class:`FteError`; adapters map what their library
raises into one of these (``raise ... from exc``) so callers never catch a third-party type. Each
class carries the command line's exit code (docs/architecture.md: 1 failure, 2 bad usage or input, 3 not
reachable).
"""

from __future__ import annotations


class FteError(Exception):
    """Base of every fte error."""

    exit_code = 1


class BadInput(FteError):
    """The caller (a person, a script, a note in the vault) gave something that cannot be used."""

    exit_code = 2


class NotFound(BadInput):
    """No task (or other object) matches what was asked for."""


class InvalidTransition(BadInput):
    """The event is not allowed from the task's current state; nothing was changed."""


class ReadOnlyViolation(BadInput):
    """A read-only interface (``fte sql``) was asked to write."""


class NoteError(BadInput):
    """A vault note that cannot be parsed; it is reported and left alone."""


class NotInitialised(BadInput):
    """The home folder has no ``fte.toml``."""


class CorruptDatabase(BadInput):
    """The host's database file is not a readable SQLite database (one line: the file, the way back)."""


class SchemaTooNew(FteError):
    """The database was written by a newer fte than this one."""


class Unreachable(FteError):
    """A remote (git, a provider) could not be reached; state is kept and the work retried."""

    exit_code = 3
