"""The lifecycle (pure table + machine) and the transition service that persists and mirrors it."""

# Nothing is imported here: `fte --help` must not pay for SQLAlchemy. Import the modules:
# fte.states.lifecycle (the table), fte.states.service (Lifecycle), fte.states.reconcile…
