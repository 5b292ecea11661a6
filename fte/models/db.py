"""SQLite engine setup: the one writer, and read-only readers.

The writer: WAL, ``synchronous=FULL``, foreign keys on, a busy timeout, and every transaction opened
with ``BEGIN IMMEDIATE`` so a write never fails half-way with SQLITE_BUSY on lock upgrade. The pysqlite
driver's own transaction handling is switched off for that (SQLAlchemy's documented recipe,
"Serializable isolation / Savepoints / Transactional DDL" in the SQLite dialect docs).

Readers (``fte status``, ``fte sql``) open the file with ``?mode=ro``: SQLite itself refuses writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fte.errors import CorruptDatabase

if TYPE_CHECKING:  # SQLAlchemy is imported by the writer only: readers need sqlite3 alone
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 10_000


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = FULL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _on_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def writer_engine(path: Path) -> Engine:
    """The host's single writer engine: one pooled connection, so writes are serialised in-process."""
    from sqlalchemy import create_engine, event

    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: callers mirror the committed row into the vault.
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection; SQLite refuses any write through it (``attempt to write a readonly database``)."""
    if not path.exists():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # a file that is not a database fails here
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise
        raise corrupt(path, exc) from None
    conn.row_factory = sqlite3.Row
    return conn


def corrupt(path: Path, exc: BaseException) -> CorruptDatabase:
    """The one line for a database that cannot be read, with the way back."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return CorruptDatabase(
        f"{path}: not a readable fte database ({reason}). To recover: stop fte, move the file aside "
        f"(mv {path} {path}.corrupt); at the next start fte makes a new one and reads the tasks back from "
        f"the vault (the audit history only the old file held is lost)")
