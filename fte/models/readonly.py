"""Read-only SQL over a host's database, for ``fte sql`` and scripts.

Two locks on the door: the file is opened ``?mode=ro`` (SQLite refuses writes), and an authorizer
allows only reading actions, so a write is refused *before* it runs, with a clear reason, and even
``ATTACH`` (which could create a file) or a ``PRAGMA`` that sets something never get through.
Functions that reach past SQL (``fts3_tokenizer``, which reads and sets raw pointers;
``load_extension``) are refused the same way. A query runs for at most ``timeout`` seconds (a
progress handler interrupts it: a recursive CTE cannot hang the command).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from fte.errors import BadInput, ReadOnlyViolation
from fte.models.db import connect_readonly

#: Pragmas that only read, even with an argument (``PRAGMA table_info(tasks)``).
_READ_PRAGMAS_WITH_ARG = frozenset({
    "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list",
})
#: Pragmas that read when given no value (``PRAGMA user_version``) and write when given one.
_READ_PRAGMAS = _READ_PRAGMAS_WITH_ARG | {
    "table_list", "database_list", "user_version", "schema_version", "page_count", "page_size",
    "journal_mode", "compile_options", "function_list", "pragma_list", "collation_list",
}


#: Functions no read-only query needs, and that reach past SQL.
_REFUSED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension"})
#: How often (in SQLite virtual-machine steps) the time limit is checked.
_PROGRESS_STEPS = 10_000


def _authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _REFUSED_FUNCTIONS else sqlite3.SQLITE_OK
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _READ_PRAGMAS_WITH_ARG or (arg2 is None and name in _READ_PRAGMAS):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def run_query(path: Path, query: str, params: tuple[Any, ...] = (),
              timeout: float = 5.0) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only statement for at most ``timeout`` seconds; returns (column names, rows).

    Raises :class:`ReadOnlyViolation` for anything that would write, :class:`BadInput` for bad SQL
    or a query that ran over its time.
    """
    if not timeout > 0:
        raise BadInput(f"the time limit must be more than 0 seconds, not {timeout}")
    conn = connect_readonly(path)
    conn.set_authorizer(_authorizer)
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, _PROGRESS_STEPS)
    try:
        cur = conn.execute(query, params)
        columns = [d[0] for d in cur.description or []]
        rows = [tuple(r) for r in cur.fetchall()]
        return columns, rows
    except sqlite3.DatabaseError as exc:
        msg = str(exc)
        if "interrupted" in msg and time.monotonic() > deadline:
            raise BadInput(f"the query ran over its {timeout:g}-second limit (--timeout)") from None
        if "not authorized" in msg or "readonly" in msg or "authorization denied" in msg:
            raise ReadOnlyViolation(f"fte sql is read-only: refused ({msg})") from None
        raise BadInput(f"SQL error: {msg}") from None
    except sqlite3.ProgrammingError as exc:
        raise BadInput(f"SQL error: {exc}") from None
    except sqlite3.Warning as exc:
        raise BadInput(f"SQL error: {exc}") from None
    finally:
        conn.close()
