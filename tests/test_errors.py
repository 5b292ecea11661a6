"""One exception tree (fte/errors.py): every FteError subclass in fte is drawn in its docstring, and
the same kind of failure has the same exit code wherever it is raised."""

from __future__ import annotations

import importlib
import pkgutil

import fte
from fte import errors


def every_error() -> set[type]:
    for mod in pkgutil.walk_packages(fte.__path__, "fte."):
        if not mod.name.startswith(("fte.migrations", "fte.vault_template")):
            importlib.import_module(mod.name)
    found: set[type] = set()
    todo = [errors.FteError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_every_error_class_is_drawn_in_the_tree() -> None:
    missing = sorted(c.__name__ for c in every_error() if not c.__name__.startswith("_")
                     and c.__name__ not in (errors.__doc__ or ""))
    assert missing == [], f"draw these in fte/errors.py's docstring: {missing}"


def test_the_same_kind_of_failure_has_the_same_exit_code() -> None:
    for cls in every_error():
        if issubclass(cls, errors.Unreachable):
            assert cls.exit_code == 3, cls
        elif issubclass(cls, (errors.BadInput, errors.AuthError)):
            assert cls.exit_code == 2, cls
    from fte.io.channels.gmail import GmailAuthError
    from fte.odoo.client import OdooAuthError

    assert issubclass(GmailAuthError, errors.AuthError) and issubclass(OdooAuthError, errors.AuthError)
