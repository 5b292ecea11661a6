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


def drawn_edges(drawing: str) -> list[tuple[str, str]]:
    """(parent, child) for every line of the docstring's tree: the class named on a line sits below
    the nearest line above it that is one level shallower."""
    import re

    edges, stack = [], []  # stack of (depth, name)
    for line in drawing.splitlines():
        m = re.match(r"^[ │]*(?:[├└]── )?([A-Za-z_.]+)", line)
        if not m or not re.search(r"[├└]── |^    FteError", line):
            continue
        depth = (m.start(1) - 4) // 4  # where the name starts: 4 columns a level
        name = m.group(1).rsplit(".", 1)[-1]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            edges.append((stack[-1][1], name))
        stack.append((depth, name))
    return edges


def test_the_drawing_and_the_classes_agree() -> None:
    """A class drawn under another is its subclass (found drifted: Odoo's refusals were drawn under
    BadInput but were not BadInput, so ``except BadInput`` missed them; OdooOutcomeUnknown was
    not an OutcomeUnknown)."""
    classes = {c.__name__: c for c in every_error()} | {"FteError": errors.FteError}
    edges = drawn_edges(errors.__doc__ or "")
    assert len(edges) >= 25, edges  # the parser read the tree
    wrong = [(p, c) for p, c in edges if not issubclass(classes[c], classes[p])]
    assert wrong == [], f"drawn below a class they do not subclass: {wrong}"


def test_the_drawing_rule_reads_nesting() -> None:
    drawing = "    FteError (1)\n    ├── BadInput (2)   text\n    │   └── NotFound   text\n    └── Unreachable (3)\n"
    assert drawn_edges(drawing) == [("FteError", "BadInput"), ("BadInput", "NotFound"), ("FteError", "Unreachable")]
