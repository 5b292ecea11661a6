"""Schema migrations: Alembic, batch mode for SQLite, run by fte itself on start.

``upgrade(engine)`` brings an older database to head. A database stamped with a revision this fte
does not know was written by a newer fte: :class:`SchemaTooNew`, and nothing is touched.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from fte.errors import SchemaTooNew

if TYPE_CHECKING:  # Alembic is imported only to migrate: a reader checks the head without it
    from alembic.config import Config
    from sqlalchemy import Engine


def script_location() -> Path:
    """The migrations folder: ``alembic/`` in a checkout, shipped as ``fte.migrations`` when installed."""
    checkout = Path(__file__).resolve().parents[2] / "alembic"
    if (checkout / "env.py").exists():
        return checkout
    return Path(__file__).resolve().parents[1] / "migrations"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    return cfg


_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision: the one no other revision names as its ``down_revision``. Read from the
    migration files' two assignments (as Alembic writes them), without importing Alembic."""
    revisions: dict[str, str | None] = {}
    for path in sorted((script_location() / "versions").glob("*.py")):
        found = dict((m.group(1), m.group(2)) for m in _REVISION.finditer(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions[found["revision"]] = found.get("down_revision")  # type: ignore[assignment]
    heads = set(revisions) - {down for down in revisions.values() if down}
    if len(heads) != 1:
        raise SchemaTooNew(f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); expected one")
    return heads.pop()


def at_head(engine: Engine) -> bool:
    """Whether the database is stamped with this fte's newest revision — one query, no Alembic
    (importing it and running an upgrade that has nothing to do cost ~0.3 s at every start)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'")).fetchone() is None:
            return False  # a new (or foreign) database: Alembic creates or judges it
        row = conn.execute(text("SELECT version_num FROM alembic_version")).fetchone()
    return row is not None and row[0] == head_revision()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_known(engine: Engine) -> str | None:
    """The database's revision; raises :class:`SchemaTooNew` when this fte does not know it."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    rev = current_revision(engine)
    if rev is None:
        return None
    script = ScriptDirectory.from_config(alembic_config())
    try:
        script.get_revision(rev)
    except CommandError:
        raise SchemaTooNew(
            f"the database is at schema revision {rev}, newer than this fte knows "
            f"(its newest is {script.get_current_head()}); upgrade fte, or use the fte that wrote it"
        ) from None
    return rev


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Upgrade to ``target``; returns (revision before, revision after)."""
    from alembic import command

    before = check_known(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return before, current_revision(engine) or ""


def ensure_schema(path: Path) -> str:
    """Make sure the database at ``path`` is at head without taking the write lock when it already is.

    Readers (``fte status``, ``fte sql``) call this first: an older database is upgraded (the one
    moment a reader writes), a newer one refused, a current one only read.
    """
    from fte.models.db import connect_readonly, writer_engine

    if path.exists():
        conn = connect_readonly(path)
        try:
            row = conn.execute(
                "SELECT version_num FROM alembic_version"
                " WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'alembic_version')"
            ).fetchone()
        except Exception:
            row = None
        finally:
            conn.close()
        if row is not None and row[0] == head_revision():
            return row[0]
    engine = writer_engine(path)
    try:
        return upgrade(engine)[1]
    finally:
        engine.dispose()
