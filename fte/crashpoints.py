"""Named crash points for the crash-safety harness.

``FTE_CRASHPOINT=<name>`` makes the process kill itself with SIGKILL when it reaches that point, so
tests and ``bench/`` can show that every step converges after a restart. Unset (the normal case) it
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    """Die here, uncleanly, if the environment asks for it."""
    if os.environ.get("FTE_CRASHPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
