"""What a person or a script can ask of a host, one function each, under every front end.

The command line, ``fte review``, ``fte mcp`` and ``fte web`` parse and print; what they do is
here, and the lifecycle rules below it (:mod:`fte.states`). Each use case takes the host's home
folder (and, where time matters, a clock) and plain values, returns plain values, and raises the
errors of :mod:`fte.errors` (``BadInput`` for a refusal, ``NotFound`` for an unknown task…), which
each front end maps to its own answer (an exit code, an HTTP status, an MCP error).

- :mod:`fte.usecases.reads`: ``status``, ``tasks``, ``waiting``, ``show``, ``sql`` — read-only, over a
  read-only SQLite connection (no SQLAlchemy, no git).
- :mod:`fte.usecases.decisions`: ``approve``, ``reject``, ``edit``, ``replay`` — what a person
  decides, read against the note as they see it, signed, committed and pushed.
- :mod:`fte.usecases.work`: ``post``, ``archive``, ``restore``, ``export_audit``, ``briefing``.
- :mod:`fte.usecases.accounting`: the Odoo reads and the write tools (each makes an approval task).
"""
