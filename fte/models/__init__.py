"""Persistence: the ORM models, the SQLite engine (one writer, read-only readers), migrations."""

from fte.models.tables import Base, Cursor, Execution, Host, Incident, Task, Transition

__all__ = ["Base", "Cursor", "Execution", "Host", "Incident", "Task", "Transition"]
