"""A process killed with SIGKILL between the database commit and the note: the next start repairs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import new_task

from fte.host.home import open_home
from fte.io.vault.notes import parse_note

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fte.host.home import open_home
    with open_home(Path(sys.argv[1])) as h:
        h.lifecycle.fire(sys.argv[2], "draft", actor="child", source="daemon", changes={"body": "the draft"})
    print("not killed")
    """
)


@pytest.mark.parametrize("point", ["after-commit", "after-note-write"])
def test_killed_between_commit_and_note_converges_on_restart(home_dir: Path, point: str) -> None:
    with open_home(home_dir) as h:
        task = new_task(h)
        old_note = task.note_path
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(home_dir), task.id],
        env={"FTE_CRASHPOINT": point, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "not killed" not in proc.stdout

    with open_home(home_dir) as h:
        assert h.repaired == 1
        row = h.store.get(task.id)
        assert (row.state, row.version, row.mirrored_version) == ("drafted", 2, 2)
        notes = [p for p in h.vault.notes() if p.name.endswith(f"-{task.id[:8]}.md")]
        assert [h.vault.rel(p) for p in notes] == [row.note_path]
        assert row.note_path.startswith("Updates/") and row.note_path != old_note
        note = parse_note(notes[0].read_bytes())
        assert note.meta["state"] == "drafted"
        assert note.body.startswith("# Invoice question\n\nthe draft\n\n<!-- fte:")
        assert not list(h.vault.root.rglob(".fte-tmp-*"))
    # A second start has nothing left to do.
    with open_home(home_dir) as h:
        assert h.repaired == 0
