"""Git sync between hosts: real git, a bare remote in a temp folder, one SQLite file per host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import fte_cli
from hosts import HostRun, bare_remote, drop_mail, make_host


def git(vault: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=vault, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def net(tmp_path: Path):
    remote = bare_remote(tmp_path / "remote.git")
    cloud = make_host(tmp_path, "cloud", "cloud", remote)
    local = make_host(tmp_path, "local", "local", remote)
    runs: list[HostRun] = []

    class Net:
        root = tmp_path
        remote_path = Path(remote)

        def open(self, home: Path) -> HostRun:
            run = HostRun(home)
            runs.append(run)
            return run

    n = Net()
    n.cloud, n.local = cloud, local  # type: ignore[attr-defined]
    yield n
    for r in runs:
        r.close()


def test_cloud_drafts_local_presents_cloud_observes(net) -> None:
    for i in range(3):
        drop_mail(net.cloud, i)
    cloud, local = net.open(net.cloud), net.open(net.local)
    cloud.tick()
    assert set(cloud.states().values()) == {"synced"}
    local.tick()
    assert set(local.states().values()) == {"pending"}
    assert local.states().keys() == cloud.states().keys()
    for task in local.home.store.tasks():
        assert task.origin == "cloud" and task.note_path.startswith("Pending_Approval/email/")
        assert [t.event for t in local.home.store.timeline(task.id)] == ["detect", "observe", "present"]
    cloud.tick()
    assert set(cloud.states().values()) == {"pending"}
    for task in cloud.home.store.tasks():
        assert [t.event for t in cloud.home.store.timeline(task.id)] == ["detect", "draft", "sync", "observe"]
    # Both working trees clean, both at the remote's head.
    for home in (net.cloud, net.local):
        assert git(home / "vault", "status", "--porcelain") == ""
    assert git(net.cloud / "vault", "rev-parse", "HEAD") == git(net.local / "vault", "rev-parse", "HEAD")


def test_remote_down_for_several_ticks_then_back(net) -> None:
    cloud, local = net.open(net.cloud), net.open(net.local)
    cloud.tick(), local.tick()
    hidden = net.root / "remote-away.git"
    net.remote_path.rename(hidden)
    for i in range(4):
        drop_mail(net.cloud, i)
        report = cloud.tick()
        assert report.sync_error and "failed" in report.sync_error
        local.tick()
    # State kept: drafted (not synced — the remote never saw it), commits waiting locally.
    assert set(cloud.states().values()) == {"drafted"} and len(cloud.states()) == 4
    assert local.states() == {}
    host = next(h for h in cloud.home.store.hosts() if h.agent == "cloud")
    assert host.info["sync"]["error"] and host.info["sync"]["ahead"] >= 1

    status = fte_cli("status", "--json", "--home", str(net.cloud))
    import json

    sync = json.loads(status.output)["sync"]
    assert sync["error"] and sync["ahead"] >= 1
    hidden.rename(net.remote_path)
    cloud.tick(), local.tick(), cloud.tick()
    assert set(local.states().values()) == {"pending"} and len(local.states()) == 4
    assert set(cloud.states().values()) == {"pending"}
    assert json.loads(fte_cli("status", "--json", "--home", str(net.cloud)).output)["sync"]["error"] is None


def test_stale_index_lock_is_cleared(net) -> None:
    cloud = net.open(net.cloud)
    lock = net.cloud / "vault" / ".git" / "index.lock"
    lock.write_text("")
    drop_mail(net.cloud, 1)
    cloud.tick()
    assert not lock.exists()
    assert set(cloud.states().values()) == {"synced"}
    assert [i.kind for i in cloud.home.store.incidents()] == ["stale-index-lock"]


def test_conflicting_edits_resolve_by_lifecycle_precedence_and_keep_the_loser(net) -> None:
    drop_mail(net.cloud, 1)
    cloud, local = net.open(net.cloud), net.open(net.local)
    # The cloud pushes the draft but has not yet marked it synced when the local host presents it.
    from fte.daemon import TickReport

    r = TickReport()
    cloud.runner.sync_in(r)
    cloud.runner.intake.detect(r)
    cloud.runner.intake.draft(r)
    pushed = cloud.runner.publish(r)
    local.tick()
    assert set(local.states().values()) == {"pending"}
    # Now the cloud marks it synced: a commit that rewrites the note the local host has moved on.
    assert cloud.runner.intake.mark_synced(pushed)
    synced_bytes = (net.cloud / "vault" / cloud.home.store.tasks()[0].note_path).read_bytes()
    cloud.runner.publish(r)
    cloud.tick()
    [task] = cloud.home.store.tasks()
    assert task.state == "pending"  # the later state won, and the cloud observed it
    kinds = [i.kind for i in cloud.home.store.incidents()]
    assert "conflict" in kinds or "duplicate" in kinds
    copies = list((net.cloud / "vault" / "Logs" / "cloud" / "conflicts").glob("*.md"))
    assert [c.read_bytes() for c in copies] == [synced_bytes]  # the loser's bytes, kept
    remote_note = git(net.cloud / "vault", "ls-tree", "-r", "--name-only", "origin/main", "Pending_Approval")
    assert task.id[:8] in remote_note
    assert git(net.cloud / "vault", "status", "--porcelain") == ""


def test_conflict_on_other_files_keeps_both_versions(net) -> None:
    cloud, local = net.open(net.cloud), net.open(net.local)
    cloud.tick(), local.tick()
    (net.local / "vault" / "Company_Handbook.md").write_text("local rules\n")
    git(net.local / "vault", "commit", "-qam", "local handbook")
    local.home.git.sync()
    (net.cloud / "vault" / "Company_Handbook.md").write_text("cloud rules\n")
    git(net.cloud / "vault", "commit", "-qam", "cloud handbook")
    cloud.tick()
    vault = net.cloud / "vault"
    assert (vault / "Company_Handbook.md").read_text() == "local rules\n"  # the remote's, at its path
    [copy] = vault.glob("Company_Handbook.conflict-cloud-*.md")
    assert copy.read_text() == "cloud rules\n"
    assert copy.name in git(vault, "ls-tree", "--name-only", "origin/main")


def test_interrupted_rebase_is_recovered_before_new_work(net) -> None:
    cloud, local = net.open(net.cloud), net.open(net.local)
    cloud.tick(), local.tick()
    (net.local / "vault" / "Business_Goals.md").write_text("local goals\n")
    git(net.local / "vault", "commit", "-qam", "local goals")
    local.home.git.sync()
    vault = net.cloud / "vault"
    (vault / "Business_Goals.md").write_text("cloud goals\n")
    git(vault, "commit", "-qam", "cloud goals")
    mine = git(vault, "rev-parse", "HEAD").strip()
    git(vault, "fetch", "-q", "origin")
    stopped = subprocess.run(["git", "rebase", "origin/main"], cwd=vault, capture_output=True, text=True)
    assert stopped.returncode != 0 and (vault / ".git" / "rebase-merge").exists()  # planted: mid-rebase
    drop_mail(net.cloud, 7)
    cloud.tick()
    assert not (vault / ".git" / "rebase-merge").exists()
    assert "recovered-rebase" in [i.kind for i in cloud.home.store.incidents()]
    # Nothing lost: both versions of the goals, and the new draft reached the remote.
    texts = {p.name: p.read_text() for p in vault.glob("Business_Goals*.md")}
    assert sorted(texts.values()) == ["cloud goals\n", "local goals\n"]
    assert set(cloud.states().values()) == {"synced"}
    # The interrupted commit's content survives in HEAD (rebased, or kept as a copy).
    assert "cloud goals" in git(vault, "log", "-p", "origin/main")
    assert git(vault, "cat-file", "-t", mine).strip() == "commit"


def test_init_with_an_unreachable_remote_exits_3_and_creates_nothing(tmp_path: Path) -> None:

    home = tmp_path / "h"
    r = fte_cli("init", "--remote", str(tmp_path / "nowhere.git"), "--home", str(home), code=3)
    assert r.exit_code == 3 and "not reachable" in r.output
    assert not (home / "fte.toml").exists()


def test_second_host_clones_the_existing_vault(net) -> None:
    vault = net.local / "vault"
    assert git(vault, "rev-parse", "HEAD") == git(net.cloud / "vault", "rev-parse", "HEAD")
    assert (vault / ".gitignore").read_text().startswith("# fte: only notes")
    assert git(vault, "config", "core.fsync").strip() == "committed,index"
    # Only admitted files are synced.
    (vault / ".obsidian").mkdir()
    (vault / ".obsidian" / "workspace.json").write_text("{}")
    (vault / "photo.png").write_bytes(b"\x89PNG")
    assert git(vault, "status", "--porcelain") == ""


def test_an_uncommitted_edit_that_conflicts_with_a_pull_stays_where_the_person_typed_it(net) -> None:
    cloud, local = net.open(net.cloud), net.open(net.local)
    cloud.tick(), local.tick(), cloud.tick()
    (net.local / "vault" / "Company_Handbook.md").write_text("rules from the laptop\n")
    git(net.local / "vault", "commit", "-qam", "handbook on the laptop")
    local.home.git.sync()
    # A person on the cloud host edits the same file and does not commit it.
    (net.cloud / "vault" / "Company_Handbook.md").write_text("rules typed on the server\n")
    drop_mail(net.cloud, 1)
    cloud.tick()
    vault = net.cloud / "vault"
    # The person's words are never overwritten; the remote's version is what HEAD holds.
    assert (vault / "Company_Handbook.md").read_text() == "rules typed on the server\n"
    assert git(vault, "show", "HEAD:Company_Handbook.md") == "rules from the laptop\n"
    assert git(vault, "status", "--porcelain") == " M Company_Handbook.md\n"
    assert "kept-person-change" in [i.kind for i in cloud.home.store.incidents()]
    # Nothing git-ish left behind, and the tick's own work went out.
    assert git(vault, "diff", "--name-only", "--diff-filter=U") == ""
    assert git(vault, "stash", "list") == ""
    assert list(cloud.states().values()) == ["synced"]
    assert git(vault, "rev-parse", "HEAD") == git(vault, "rev-parse", "origin/main")


def test_refs_read_from_the_repository_are_the_ones_git_names(tmp_path: Path) -> None:
    """HEAD and origin/main are read from .git without a process (a tick asks a dozen times): the
    same answer as `git rev-parse`, with loose refs, packed refs, a detached HEAD, and none yet."""
    from fte.io.vault.gitlock import HostLock
    from fte.io.vault.gitsync import GitSync
    from fte.states.convergence import CONVERGENCE

    remote = bare_remote(tmp_path / "remote.git")
    home = make_host(tmp_path, "laptop", "all", remote)
    vault = home / "vault"
    HostRun(home).close()
    sync = GitSync(vault, "laptop", HostLock(home / "git.lock"), remote, policy=CONVERGENCE)

    def rev_parse(ref: str) -> str | None:
        r = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], cwd=vault,
                           capture_output=True, text=True)
        return r.stdout.strip() or None

    def same() -> None:
        for ref in ("HEAD", "origin/main"):
            assert sync._rev(ref) == rev_parse(ref), ref
        assert sync._read_ref("HEAD") is not None

    same()
    git(vault, "pack-refs", "--all")
    assert not (vault / ".git" / "refs" / "heads" / "main").exists()
    same()
    git(vault, "commit", "-q", "--allow-empty", "-m", "loose again")
    same()
    git(vault, "checkout", "-q", "--detach", "HEAD~1")
    same()
    git(vault, "checkout", "-q", "main")
    (vault / ".git" / "refs" / "remotes" / "origin" / "main").unlink(missing_ok=True)
    git(vault, "pack-refs", "--all")
    subprocess.run(["git", "update-ref", "-d", "refs/remotes/origin/main"], cwd=vault, check=True)
    assert sync._rev("origin/main") is None and rev_parse("origin/main") is None


def test_a_conflict_the_persons_git_leaves_mid_tick_is_seen_before_the_next_commit(net) -> None:
    """The recovery inside a tick lists the index's unmerged entries only when the index changed
    since it was seen clean: a `git stash pop` that stops on a conflict (unmerged entries, and no
    state file to notice) right after the tick's first recovery is still found before fte's next
    commit (with it unnoticed, the commit was made over an index still holding the conflict)."""
    cloud = net.open(net.cloud)
    cloud.tick()
    vault = net.cloud / "vault"
    assert cloud.home.git.recover() == []  # the tick's first, full recovery: the index is clean
    (vault / "Business_Goals.md").write_text("goals, stashed\n")
    git(vault, "stash", "-q")
    (vault / "Business_Goals.md").write_text("goals, committed\n")
    git(vault, "commit", "-qam", "person: goals")
    assert subprocess.run(["git", "stash", "pop"], cwd=vault, capture_output=True).returncode != 0
    assert git(vault, "ls-files", "-u") != "" and not (vault / ".git" / "MERGE_HEAD").exists()
    ours = vault / "Logs" / "cloud" / "note.md"
    ours.parent.mkdir(parents=True, exist_ok=True)
    ours.write_text("fte's own file\n")
    result = cloud.home.git.commit(["Logs/cloud/note.md"], "fte cloud: a note")
    assert result.sha is not None and git(vault, "ls-files", "-u") == ""
    assert "Logs/cloud/note.md" in git(vault, "show", "--name-only", "--format=", "HEAD")
    assert git(vault, "stash", "list") != ""  # the person's stashed words are kept
