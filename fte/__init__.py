"""fte — a personal digital employee.

Library first: :mod:`fte.host` opens a host's home (settings, database, vault) and everything the
command line does is a call into it.
"""

__version__ = "0.1.0"
