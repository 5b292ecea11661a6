from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import new_task

from fte.errors import InvalidTransition, SchemaTooNew
from fte.host.home import Home, open_home
from fte.models import migrate
from fte.models.store import Store
from fte.models.tables import Base


def test_sqlite_settings_on_the_writer(home: Home) -> None:
    with home.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_writes_take_the_write_lock_at_begin(home: Home) -> None:
    # BEGIN IMMEDIATE: while our write transaction is open, another writer cannot even begin.
    other = sqlite3.connect(home.settings.db_path, timeout=0, isolation_level=None)
    with home.store.write() as s:
        s.connection()  # starts the transaction
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_transitions_log_refuses_update_and_delete(home: Home) -> None:
    new_task(home)
    conn = sqlite3.connect(home.settings.db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE transitions SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM transitions")
    assert conn.execute("SELECT actor FROM transitions").fetchall() == [("laptop",)]
    conn.close()


def test_same_source_ref_is_one_task(home: Home) -> None:
    a = new_task(home, ref="<same@x>")
    b, created = home.lifecycle.detect(kind="email.reply", source="maildir", source_ref="<same@x>", title="again")
    assert not created and b.id == a.id and b.title == a.title
    assert len(home.store.tasks()) == 1
    assert len(home.store.timeline(a.id)) == 1


def test_illegal_event_changes_nothing(home: Home) -> None:
    task = new_task(home)
    with pytest.raises(InvalidTransition, match="'approve' is not allowed from 'detected'"):
        home.lifecycle.fire(task.id, "approve", actor="x", source="cli")
    again = home.store.get(task.id)
    assert (again.state, again.version) == ("detected", 1)
    assert len(home.store.timeline(task.id)) == 1


def test_fire_writes_state_version_and_one_audit_row(home: Home, clock) -> None:
    task = new_task(home)
    clock.advance(minutes=5)
    drafted = home.lifecycle.fire(task.id, "draft", actor="template", source="daemon", changes={"body": "Hi Ann"}, words=2)
    assert (drafted.state, drafted.version, drafted.body) == ("drafted", 2, "Hi Ann")
    log = home.store.timeline(task.id)
    assert [(t.event, t.from_state, t.to_state, t.version) for t in log] == [
        ("detect", None, "detected", 1), ("draft", "detected", "drafted", 2)]
    assert log[1].detail == {"words": 2} and log[1].at == clock.now


def test_models_match_the_newest_migration(home: Home) -> None:
    with home.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_empty_database_is_upgraded_on_open(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "x.db")
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    store.close()


def test_older_database_is_upgraded_on_open(home_dir: Path) -> None:
    from alembic import command

    store = Store(home_dir / "fte.db")
    cfg = migrate.alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert migrate.current_revision(store.engine) is None
    store.close()
    with open_home(home_dir) as h:
        assert migrate.current_revision(h.store.engine) == migrate.head_revision()
        assert h.store.tasks() == []


def test_newer_database_is_refused_and_untouched(home_dir: Path) -> None:
    db = home_dir / "fte.db"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this fte"):
        open_home(home_dir)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)
    conn.close()
