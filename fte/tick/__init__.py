"""The steps of one tick, each a small object that receives a :class:`~fte.tick.context.Context`
(the home, the log, the clock), never the runner.

``sync`` (recover, publish, sync in, the record of git's events), ``person`` (the protocol folders,
the person's moves and edits), ``intake`` (detect, draft, present, expire), ``execute`` (settle,
claim, perform) and ``outputs`` (Dashboard, briefing, audit export, heartbeat, notices).
:class:`fte.daemon.Runner` builds them for a host's role and runs them in the order
docs/architecture.md ("One tick") gives.
"""
