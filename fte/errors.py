"""The one exception tree of fte.

Every error that crosses a module boundary is an :class:`FteError`; adapters map what their library
raises into one of these (``raise ... from exc``) so callers never catch a third-party type. Each
class carries the command line's exit code (docs/architecture.md: 1 failure, 2 bad usage or input, 3 not
reachable). The whole tree (classes defined elsewhere are named with their module)::

    FteError (1)
    ├── BadInput (2)                  the caller gave something that cannot be used; nothing changed
    │   ├── NotFound                  no task (or object) matches
    │   ├── InvalidTransition         the event is not allowed from the task's state
    │   ├── Stale                     a decision about a presentation the task has left (look again)
    │   ├── ReadOnlyViolation         `fte sql` asked to write
    │   ├── NoteError                 a vault note that does not parse (reported, left alone)
    │   ├── NotInitialised            no fte.toml in the home
    │   ├── CorruptDatabase           fte.db is not a readable SQLite file
    │   ├── RoleViolation             the settings contradict the role (a cloud host holding a key)
    │   ├── AuthError                 a provider refused the credentials: fix the token or the key
    │   │   ├── io.gmail.GmailAuthError
    │   │   └── odoo.client.OdooAuthError
    │   ├── io.mail.UnsafeMail        a reply that cannot be sent safely (nothing was sent)
    │   ├── odoo.client.OdooUserError Odoo's business rules refused it (also an OdooError)
    │   └── odoo.client.OdooNotFound  no such model, field or record (also an OdooError)
    ├── SchemaTooNew                  the database was written by a newer fte
    ├── AlreadyRunning                another daemon holds the home
    ├── LockTimeout                   the host's git lock stayed held too long
    ├── KeyMissing                    this host has no signing key (a cloud host)
    ├── ExecutionError                a provider refused or failed an action (``transient``: retry later)
    │   └── OutcomeUnknown            it may have happened: look the key up, or a person decides
    │       └── odoo.client.OdooOutcomeUnknown   (also below Unreachable)
    ├── DraftError                    the drafter could not draft (``transient``: at a later tick)
    ├── odoo.client.OdooError         base of Odoo's answers (OdooAuthError, OdooUserError, OdooNotFound)
    └── Unreachable (3)               a remote or a provider did not answer; state kept, retried
        └── odoo.client.OdooUnreachable
            └── odoo.client.OdooOutcomeUnknown   a write sent and its answer lost

A class drawn under another is its subclass (``tests/test_errors.py`` reads this drawing to hold it).
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


class Stale(BadInput):
    """A decision about what a front end showed, after the task changed (an edit, a replay, another
    device's decision): nothing was decided; the person looks again."""


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


class RoleViolation(BadInput):
    """The host's settings contradict its role (e.g. a cloud host holding executor credentials)."""


class AuthError(BadInput):
    """A provider refused the credentials (a wrong, expired or revoked token or key, a missing scope)."""


class AlreadyRunning(FteError):
    """Another daemon holds this home."""


class LockTimeout(FteError):
    """The lock stayed held longer than we were willing to wait."""


class KeyMissing(FteError):
    """This host has no signing key: it is a cloud host, or its home is incomplete."""


class ExecutionError(FteError):
    """The provider refused or failed. ``transient``: a retry (after a lookup) may succeed."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class OutcomeUnknown(ExecutionError):
    """It cannot be known whether the action happened (a send cut short): a person decides."""


class DraftError(FteError):
    """The drafter could not draft. ``transient``: try again at a later tick (a timeout, a 429, a 5xx)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
