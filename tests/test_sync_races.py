"""The person acts while fte syncs: real git, a bare remote, two hosts, moves made *inside* each
step of a sync (through the crash points' hooks), not politely between ticks."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from hosts import HostRun, bare_remote, drop_mail, git, make_host

from fte.daemon import TickReport
from fte.io.vault.notes import parse_note
from fte.support import crashpoints

SYNC_POINTS = ("sync-fetched", "sync-merged", "sync-checkout-path", "sync-checked-out", "sync-pushed")


@pytest.fixture
def net(tmp_path: Path):
    remote = bare_remote(tmp_path / "remote.git")
    cloud_home = make_host(tmp_path, "cloud", "cloud", remote)
    local_home = make_host(tmp_path, "local", "local", remote)
    cloud, local = HostRun(cloud_home), HostRun(local_home)
    yield cloud, local
    cloud.close()
    local.close()


def sent(local: HostRun) -> dict[str, list[str]]:
    """Task id → the bodies of the mails sent for it (counted by the X-FTE-Task header)."""
    found: dict[str, list[str]] = {}
    for path in (local.path / "outbox" / "new").iterdir():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.setdefault(str(msg["X-FTE-Task"]), []).append(msg.get_body(("plain",)).get_content())
    return found


def remote_notes(vault: Path) -> dict[str, list[str]]:
    """Task id → the paths of its notes in the remote's tree."""
    found: dict[str, list[str]] = {}
    for path in git(vault, "ls-tree", "-r", "--name-only", "origin/main").splitlines():
        if path.endswith(".md") and path.split("/")[0] in ("Needs_Action", "Updates", "Pending_Approval", "Approved",
                                                            "Rejected", "In_Progress", "Done", "Failed"):
            note = parse_note(git(vault, "show", f"origin/main:{path}").encode(), path)
            found.setdefault(note.id, []).append(path)
    return found


def assert_every_draft_presented_once(cloud: HostRun, local: HostRun, n: int) -> None:
    """Every mail is pending on both hosts, with exactly one note in Pending_Approval/ on the remote."""
    assert len(local.states()) == n and set(local.states().values()) == {"pending"}
    assert local.states() == cloud.states()
    notes = remote_notes(local.path / "vault")
    assert sorted(notes) == sorted(local.states())
    assert all(len(paths) == 1 and paths[0].startswith("Pending_Approval/") for paths in notes.values())


def settle(cloud: HostRun, local: HostRun, rounds: int = 4) -> None:
    for _ in range(rounds):
        local.tick()
        cloud.tick()


def move(vault: Path, rel: str, folder: str, edit: str | None = None) -> str:
    src = vault / rel
    data = src.read_text()
    if edit is not None:
        data = data.replace("Hello", edit, 1)
    dest = vault / folder / src.name
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(data)
    src.unlink()
    return str(dest.relative_to(vault))


def test_new_drafts_survive_a_move_that_empties_their_folder(net) -> None:
    """The local host moves the last note out of Updates/ while the cloud pushes new drafts into it:
    no directory-rename guessing carries them off, and none is deleted."""
    cloud, local = net
    drop_mail(cloud.path, 1)
    cloud.tick()
    report = TickReport()
    local.runner.sync_in(report)  # adopts the first draft
    for n in (2, 3, 4):
        drop_mail(cloud.path, n)
    cloud.tick()  # the cloud pushes three new drafts into Updates/
    local.runner.intake.present(report)  # the local host empties Updates/ on its side...
    local.runner.publish(report)  # ...and its push is refused, fetched, merged
    settle(cloud, local)
    assert_every_draft_presented_once(cloud, local, 4)
    for run in (cloud, local):
        assert git(run.path / "vault", "status", "--porcelain") == ""


def test_drafts_committed_while_the_remote_emptied_their_folder_are_not_carried_off(net) -> None:
    """The other way round: the local host pushed the move that emptied Updates/ while the cloud
    had new drafts committed there but not yet pushed."""
    cloud, local = net
    drop_mail(cloud.path, 1)
    cloud.tick()
    local.tick()  # presents the only draft: Updates/ is empty on the remote
    report = TickReport()
    for n in (2, 3, 4):
        drop_mail(cloud.path, n)
    cloud.runner.intake.detect(report)
    cloud.runner.intake.draft(report)
    cloud.runner.publish(report, push=False)  # committed on the cloud, not yet pushed
    settle(cloud, local)
    assert_every_draft_presented_once(cloud, local, 4)


def pending_notes(local: HostRun) -> list[tuple[str, str]]:
    return sorted((t.id, t.note_path) for t in local.home.store.tasks(state="pending"))


@pytest.mark.parametrize("point", SYNC_POINTS)
@pytest.mark.parametrize("action", ["approve", "reject", "edit-approve"])
def test_a_decision_made_during_each_sync_step_is_carried_out(net, point: str, action: str) -> None:
    cloud, local = net
    for n in range(3):
        drop_mail(cloud.path, n)
    cloud.tick(), local.tick(), cloud.tick()
    vault = local.path / "vault"
    (first, first_path), (second, second_path), _ = pending_notes(local)
    # Before the tick: the person approves the first (so the local host has a commit of its own),
    # and the cloud pushes a new draft (so the sync has a real merge to make).
    move(vault, first_path, "Approved")
    drop_mail(cloud.path, 9)
    cloud.tick()
    acted: list[str] = []

    def person() -> None:
        if acted:
            return
        folder = "Rejected" if action == "reject" else "Approved"
        acted.append(move(vault, second_path, folder, edit="Dear Ann" if action == "edit-approve" else None))

    remove = crashpoints.on(point, person)
    try:
        local.tick()
    finally:
        remove()
    assert acted, f"the sync never reached {point}"
    settle(cloud, local)
    states = local.states()
    mails = sent(local)
    assert states[first] == "done" and len(mails[first]) == 1
    if action == "reject":
        assert states[second] == "rejected" and second not in mails
    else:
        assert states[second] == "done" and len(mails[second]) == 1
        assert ("Dear Ann" in mails[second][0]) == (action == "edit-approve")
    assert states == cloud.states()
    assert sorted(remote_notes(vault)) == sorted(states)
    assert all(len(p) == 1 for p in remote_notes(vault).values())
    kinds = [i.kind for i in local.home.store.incidents()]
    assert "duplicate-id" not in kinds and "unexpected-move" not in kinds, kinds
    assert git(vault, "status", "--porcelain") == ""


def test_an_emptied_approved_folder_is_recreated_and_a_move_into_it_works(net) -> None:
    cloud, local = net
    drop_mail(cloud.path, 1)
    cloud.tick(), local.tick()
    vault = local.path / "vault"
    for folder in ("Approved", "Rejected", "In_Progress"):
        if (vault / folder).exists() and not any((vault / folder).iterdir()):
            (vault / folder).rmdir()
    local.tick()
    assert (vault / "Approved").is_dir() and (vault / "Rejected").is_dir()
    [(tid, path)] = pending_notes(local)
    move(vault, path, "Approved")
    local.tick()
    assert local.home.store.get(tid).state == "done"


def test_a_rebase_left_holding_only_an_autostash_is_forgotten_once_and_the_stash_kept(net) -> None:
    """The state an older fte left when a person moved a note mid-rebase: ``.git/rebase-merge/``
    holding only ``autostash``. Recovery is one bounded step, reported, and loses nothing."""
    cloud, local = net
    drop_mail(cloud.path, 1)
    cloud.tick(), local.tick()
    vault = local.path / "vault"
    (vault / "Business_Goals.md").write_text("goals the person was typing\n")
    stash = git(vault, "stash", "create").strip()
    git(vault, "checkout", "--", "Business_Goals.md")
    (vault / ".git" / "rebase-merge").mkdir()
    (vault / ".git" / "rebase-merge" / "autostash").write_text(stash + "\n")
    report = local.tick()
    assert report.sync_error is None
    assert not (vault / ".git" / "rebase-merge").exists()
    assert [i.kind for i in local.home.store.incidents()].count("recovered-rebase") == 1
    assert stash in git(vault, "stash", "list", "--format=%H")
    assert "goals the person was typing" in git(vault, "stash", "show", "-p", "stash@{0}")


def test_a_sync_asked_to_stop_ends_at_its_next_step(net) -> None:
    cloud, _local = net
    drop_mail(cloud.path, 1)
    cloud.home.git.should_stop = lambda: True
    report = cloud.tick()
    assert report.sync_error and "stopped" in report.sync_error
    assert set(cloud.states().values()) == {"drafted"}  # nothing claimed to be on the remote
    cloud.home.git.should_stop = lambda: False
    cloud.tick()
    assert set(cloud.states().values()) == {"synced"}
