"""Schema migrations: Alembic, batch mode for SQLite, run by fte itself on start.

``upgrade(engine)`` brings an older database to head. A database stamped with a revision this fte
does not know was written by a newer fte: :class:`SchemaTooNew`, and nothing is touched.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from fte.errors import SchemaTooNew


def script_location() -> Path:
    """The migrations folder: ``alembic/`` in a checkout, shipped as ``fte.migrations`` when installed."""
    checkout = Path(__file__).resolve().parents[2] / "alembic"
    if (checkout / "env.py").exists():
        return checkout
    return Path(__file__).resolve().parents[1] / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_known(engine: Engine) -> str | None:
    """The database's revision; raises :class:`SchemaTooNew` when this fte does not know it."""
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
