"""Persistence: the ORM models, the SQLite engine (one writer, read-only readers), migrations."""

# Nothing is imported here: a reader (`fte status`, `fte sql`) needs only sqlite3. The models are
# in fte.models.tables, the engine in fte.models.db, the store in fte.models.store.
