"""A pushed tree that no file system holds, or that changes what git sees, changes nothing but an
incident (docs/protocol.md, "What a pulled tree may hold"): every entry is checked before it reaches
a host's history, index or working tree; the rest of the pull is applied; no tick raises."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import fte_cli
from hosts import HostRun, bare_remote, drop_mail, git, make_host

from fte.io.vault.treecheck import refused_reason, shown_path


def blob(work: Path, data: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=work, input=data, capture_output=True,
                          check=True).stdout.decode().strip()


def mktree(work: Path, lines: list[str]) -> str:
    """A tree from ``ls-tree`` lines, made with git's plumbing (which takes names no checkout can)."""
    made = subprocess.run(["git", "mktree"], cwd=work, input=("".join(f"{line}\n" for line in lines)).encode(
        "utf-8", "surrogateescape"), capture_output=True)
    assert made.returncode == 0, made.stderr
    return made.stdout.decode().strip()


def hostile_push(remote: str, work: Path, entries: list[tuple[str, str, bytes]]) -> None:
    """Put entries (mode, name, bytes; a "040000" entry is a folder holding one note) at the top of
    the remote's tree, replacing what has that name, and push."""
    if not work.exists():
        subprocess.run(["git", "clone", "-q", remote, str(work)], check=True)
    git(work, "fetch", "-q", "origin")
    top = [line for line in git(work, "ls-tree", "origin/main").splitlines() if line]
    for mode, name, data in entries:
        if mode == "040000":
            sha, kind = mktree(work, [f"100644 blob {blob(work, data)}\tx.md"]), "tree"
        else:
            sha, kind = blob(work, data), "blob"
        top = [line for line in top if line.split("\t", 1)[1] != name] + [f"{mode} {kind} {sha}\t{name}"]
    commit = git(work, "commit-tree", mktree(work, top), "-p", "origin/main", "-m", "hostile").strip()
    subprocess.run(["git", "push", "-q", "origin", f"{commit}:refs/heads/main"], cwd=work, check=True)


CASES = {
    "a name too long": ("100644", "a" * 300 + ".md", b"x", "bytes (at most 255)"),
    "..": ("100644", "..", b"x", "component '..'"),
    ".": ("100644", ".", b"x", "component '.'"),
    ".git": ("100644", ".git", b"x", "git's own folder"),
    ".GIT folder": ("040000", ".GIT", b"---\nid: x\n---\n", "git's own folder"),
    "not UTF-8": ("100644", "caf\udce9.md", b"x", "not UTF-8"),
    "a Windows device": ("100644", "CON.md", b"x", "Windows reserves"),
    "a forbidden character": ("100644", "what?.md", b"x", "Windows and Obsidian forbid"),
    "a symlink": ("120000", "link.md", b"/etc/passwd", "a symlink"),
    "a file at a protocol folder": ("100644", "Pending_Approval", b"x", "a file where the vault has a folder"),
    "a file at a folder of this tree": ("100644", "Needs_Action", b"x", "a file where the vault has a folder"),
    "a folder at the Dashboard": ("040000", "Dashboard.md", b"x", "a folder where the vault has a file"),
    "a .gitignore": ("100644", ".gitignore", b"*.md\n", "git's configuration"),
    "a .gitattributes": ("100644", ".gitattributes", b"*.md filter=x\n", "git's configuration"),
    "a .gitmodules": ("100644", ".gitmodules", b"[submodule \"x\"]\n", "git's configuration"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_entry_is_refused_and_the_rest_of_the_pull_applied(tmp_path: Path, case: str) -> None:
    mode, name, data, reason = CASES[case]
    remote = bare_remote(tmp_path / "remote.git")
    home = make_host(tmp_path, "alpha", "all", remote)
    run = HostRun(home)
    drop_mail(home, 1)
    run.tick()
    [waiting] = run.home.store.tasks(state="pending")
    fte_cli("approve", waiting.id, "--home", home)
    # Someone else's good change in the same push: it is applied.
    hostile_push(remote, tmp_path / "device", [(mode, name, data),
                                               ("100644", "Company_Handbook.md", b"# Handbook\n\nBe kind.\n")])
    drop_mail(home, 2)
    for _ in range(2):
        run.tick()  # raises nothing
    states = sorted(t.state for t in run.home.store.tasks())
    assert states == ["done", "pending"], states  # the approved one claimed, sent and pushed; the new one shown
    refused = run.home.store.incidents("refused-entry")
    path = shown_path(f"{name}/x.md" if mode == "040000" else name)
    assert [i.path for i in refused] == [path] and reason in refused[0].detail["reason"], \
        [(i.path, i.detail) for i in refused]
    assert (home / "vault" / "Company_Handbook.md").read_text() == "# Handbook\n\nBe kind.\n"
    # This host's merge took the entry off the remote's tip (what has that name there is the vault's own).
    tip = subprocess.run(["git", "ls-tree", "-z", "main"], cwd=remote, capture_output=True, check=True).stdout
    planted = f"{mode} {'tree' if mode == '040000' else 'blob'} " + (
        mktree(tmp_path / "device", [f"100644 blob {blob(tmp_path / 'device', data)}\tx.md"]) if mode == "040000"
        else blob(tmp_path / "device", data))
    assert planted.encode() not in tip and b"\tDone\0" in tip
    if name in (".gitignore", ".gitattributes", ".gitmodules"):
        assert not (home / "vault" / name).exists() or (home / "vault" / name).read_bytes() != data
    run.tick()
    assert len(run.home.store.incidents("refused-entry")) == 1  # said once
    run.close()


def test_a_pushed_gitignore_does_not_hide_the_persons_move(tmp_path: Path) -> None:
    """A committed ``.gitignore`` that ignored Approved/ made fte take the person's move for a
    deletion, and the approval was lost."""
    remote = bare_remote(tmp_path / "remote.git")
    home = make_host(tmp_path, "alpha", "all", remote)
    run = HostRun(home)
    drop_mail(home, 1)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    hostile_push(remote, tmp_path / "device", [("100644", ".gitignore", b"Approved/\n*.md\n")])
    run.tick()
    note = run.home.vault.path(run.home.store.get(task.id).note_path)
    os.replace(note, home / "vault" / "Approved" / note.name)
    run.tick()
    assert run.home.store.get(task.id).state == "done"
    assert len(list((home / "outbox" / "new").iterdir())) == 1
    run.close()


def test_the_first_host_to_pull_refuses_and_the_other_never_holds_the_entry(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    homes = [make_host(tmp_path, name, "local", remote) for name in ("alpha", "beta")]
    runs = [HostRun(h) for h in homes]
    for run in runs:
        run.tick()
    hostile_push(remote, tmp_path / "device", [("100644", "..", b"x"), ("040000", "Dashboard.md", b"x")])
    for _ in range(2):
        for run in runs:
            run.tick()
    alpha, beta = runs
    assert sorted(i.path for i in alpha.home.store.incidents("refused-entry")) == ["..", "Dashboard.md/x.md"]
    assert beta.home.store.incidents("refused-entry") == []  # alpha's merge had taken them off the tip
    for home in homes:
        assert (home / "vault" / "Dashboard.md").is_file()
        assert "Dashboard.md/" not in git(home / "vault", "ls-files")
    for run in runs:
        run.close()


@pytest.mark.parametrize("path", ["Needs_Action/email/20261126-email.reply-question-1a2b3c4d.md", "Dashboard.md",
                                  "Logs/laptop/heartbeat.json", "Pending_Approval/odoo/a b-c.md", "Notes/café.md"])
def test_what_fte_and_obsidian_write_is_taken(path: str) -> None:
    assert refused_reason(path, "100644") is None
    assert refused_reason(path, None) is None


@pytest.mark.parametrize("path", ["a/../b.md", "./a.md", "a//b.md", "Notes/.git/config", "Notes/GIT~1/x.md",
                                  ".Git./x.md", "Notes/aux.txt", "Notes/lpt9", "Notes/name. ", "Notes/tab\there.md",
                                  "x/" * 600 + "y.md", "Notes/.GITIGNORE", "a/b/.gitattributes"])
def test_what_no_file_system_or_git_should_hold_is_refused(path: str) -> None:
    assert refused_reason(path, "100644") is not None


@pytest.mark.parametrize("mode", ["120000", "160000", "040000", "100664"])
def test_only_regular_files_are_taken(mode: str) -> None:
    assert refused_reason("Notes/a.md", mode) is not None

