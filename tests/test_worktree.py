"""The working-tree writer: fte writes a path only while it still holds what fte last wrote or saw;
the three-way merge by task id. Real files, real git for the merge's blobs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fte.io.vault import worktree
from fte.io.vault.treemerge import Entry, blob_sha, plan_merge
from fte.io.vault.worktree import KEPT, REFUSED, UNCHANGED, WRITTEN, Update
from fte.states.convergence import CONVERGENCE


def upd(path: str, new: bytes | None, *expected: bytes | None) -> Update:
    return Update(path, new, frozenset(None if e is None else blob_sha(e) for e in expected))


def test_blob_sha_is_gits(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "f").write_bytes(b"hello\n")
    out = subprocess.run(["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True)
    assert blob_sha(b"hello\n") == out.stdout.strip()


def test_a_file_still_holding_what_fte_saw_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "n.md").write_bytes(b"old")
    assert worktree.apply(tmp_path, upd("A/n.md", b"new", b"old")) == WRITTEN
    assert (tmp_path / "A" / "n.md").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "A")) == ["n.md"]  # no temp or aside file left


def test_the_persons_bytes_are_never_replaced_or_removed(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_bytes(b"typed by the person")
    assert worktree.apply(tmp_path, upd("n.md", b"new", b"old")) == KEPT
    assert worktree.apply(tmp_path, upd("n.md", None, b"old")) == KEPT
    assert (tmp_path / "n.md").read_bytes() == b"typed by the person"


def test_a_note_the_person_moved_away_is_not_brought_back(tmp_path: Path) -> None:
    assert worktree.apply(tmp_path, upd("Pending/n.md", b"new", b"old")) == KEPT
    assert not (tmp_path / "Pending" / "n.md").exists()


def test_a_new_file_never_replaces_one_the_person_created(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_bytes(b"mine")
    assert worktree.apply(tmp_path, upd("n.md", b"theirs", None)) == KEPT
    assert (tmp_path / "n.md").read_bytes() == b"mine"
    assert worktree.apply(tmp_path, upd("m.md", b"theirs", None)) == WRITTEN


def test_already_there_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_bytes(b"new")
    assert worktree.apply(tmp_path, upd("n.md", b"new", b"old")) == UNCHANGED
    assert worktree.apply(tmp_path, upd("gone.md", None, b"old")) == UNCHANGED


def test_removal_prunes_empty_subfolders_but_never_a_top_level_folder(tmp_path: Path) -> None:
    (tmp_path / "Pending_Approval" / "email").mkdir(parents=True)
    (tmp_path / "Pending_Approval" / "email" / "n.md").write_bytes(b"old")
    assert worktree.apply(tmp_path, upd("Pending_Approval/email/n.md", None, b"old")) == WRITTEN
    assert (tmp_path / "Pending_Approval").is_dir() and not (tmp_path / "Pending_Approval" / "email").exists()


def test_no_write_goes_through_a_symlinked_folder(tmp_path: Path) -> None:
    vault, outside = tmp_path / "vault", tmp_path / "outside"
    vault.mkdir(), outside.mkdir()
    (vault / "Approved").symlink_to(outside)
    assert worktree.apply(vault, upd("Approved/n.md", b"x", None)) == REFUSED
    assert worktree.apply(vault, upd("../outside/n.md", b"x", None)) == REFUSED
    assert os.listdir(outside) == []


def test_a_symlink_at_the_path_is_never_written_through(tmp_path: Path) -> None:
    vault, target = tmp_path / "vault", tmp_path / "secret.txt"
    vault.mkdir()
    target.write_bytes(b"old")
    (vault / "n.md").symlink_to(target)
    assert worktree.apply(vault, upd("n.md", b"new", b"old")) == REFUSED
    assert target.read_bytes() == b"old"


def test_an_aside_copy_left_by_a_crash_is_put_back_first(tmp_path: Path) -> None:
    (tmp_path / ".fte-aside-n.md").write_bytes(b"old")  # a crash between "rename aside" and "link new"
    assert worktree.apply(tmp_path, upd("n.md", b"new", b"old")) == WRITTEN
    assert (tmp_path / "n.md").read_bytes() == b"new" and not (tmp_path / ".fte-aside-n.md").exists()


def note(task_id: str, state: str, body: str = "draft") -> bytes:
    return f"---\nid: {task_id}\nkind: email.reply\nstate: {state}\n---\n{body}\n".encode()


class Blobs(dict):
    def put(self, data: bytes) -> Entry:
        self[blob_sha(data)] = data
        return Entry("100644", blob_sha(data))


TID = "a" * 32


def decided(task_id: str, state: str, minute: int, body: str = "draft") -> bytes:
    """A decided note whose record was signed at ``minute`` (only what the merge policy reads)."""
    record = "approval" if state == "approved" else "assertion"
    at = f"2031-05-01T09%3A{minute:02d}%3A00%2B00%3A00"
    return (f"---\nid: {task_id}\nkind: email.reply\nstate: {state}\n"
            f"{record}: by=person host=h at={at} epoch=0 signature=x\n---\n{body}\n").encode()


@pytest.mark.parametrize("stands", ["remote", "ours"])
def test_two_decisions_on_one_task_keep_one_note_the_last_word(stands: str) -> None:
    """Approved and rejected rank the same; the person's last word stays, whichever side holds it."""
    blobs = Blobs()
    mine, theirs_note = decided(TID, "approved", 5 if stands == "remote" else 20), decided(TID, "rejected", 10)
    ours = {"Pending_Approval/email/n.md": None, "Approved/n.md": blobs.put(mine)}
    theirs = {"Pending_Approval/email/n.md": None, "Rejected/n.md": blobs.put(theirs_note)}
    plan = plan_merge(ours, theirs, blobs.__getitem__, "laptop", CONVERGENCE)
    [resolution] = plan.resolutions
    [copy] = [p for p in plan.updates if p.startswith("Logs/laptop/conflicts/")]
    assert resolution.task_id == TID and resolution.detail["kept"] == stands.replace("ours", "local")
    if stands == "remote":
        assert plan.updates["Approved/n.md"] is None
        assert plan.updates["Rejected/n.md"] == Entry("100644", blob_sha(theirs_note))
        assert plan.new_blobs[copy] == mine
    else:
        assert plan.updates["Rejected/n.md"] is None and "Approved/n.md" not in plan.updates
        assert plan.new_blobs[copy] == theirs_note


def test_a_later_state_wins_over_an_edit_in_place_and_the_edit_is_kept_as_a_copy() -> None:
    blobs = Blobs()
    ours = {"Pending_Approval/email/n.md": blobs.put(note(TID, "pending", "edited by the person"))}
    theirs = {"Pending_Approval/email/n.md": None, "In_Progress/pc/n.md": blobs.put(note(TID, "claimed"))}
    plan = plan_merge(ours, theirs, blobs.__getitem__, "laptop", CONVERGENCE)
    assert plan.updates["Pending_Approval/email/n.md"] is None
    assert plan.updates["In_Progress/pc/n.md"] == Entry("100644", blob_sha(note(TID, "claimed")))
    assert list(plan.new_blobs.values()) == [note(TID, "pending", "edited by the person")]


def test_the_remote_wins_a_tie_which_makes_the_claim_push_a_lock() -> None:
    blobs = Blobs()
    ours = {"Approved/n.md": None, "In_Progress/me/n.md": blobs.put(note(TID, "claimed", "me"))}
    theirs = {"Approved/n.md": None, "In_Progress/other/n.md": blobs.put(note(TID, "claimed", "other"))}
    plan = plan_merge(ours, theirs, blobs.__getitem__, "me", CONVERGENCE)
    assert plan.updates["In_Progress/me/n.md"] is None
    assert plan.updates["In_Progress/other/n.md"] is not None
    assert plan.resolutions[0].detail["kept"] == "remote"


N = f"x-{TID[:8]}.md"  # named as fte names notes (the history is searched by the id in the name)


def test_a_decision_that_a_later_push_covered_still_reached_the_remote_first() -> None:
    """The remote held an approval, then the old pending note again (same bytes as the base): the
    tip shows no change, yet the approval was first; our rejection loses to it."""
    blobs = Blobs()
    approved = blobs.put(decided(TID, "approved", 15))
    pending = blobs.put(note(TID, "pending"))
    ours = {f"Pending_Approval/email/{N}": None, f"Rejected/{N}": blobs.put(decided(TID, "rejected", 10))}
    history = [(f"Approved/{N}", approved), (f"Pending_Approval/email/{N}", pending)]
    plan = plan_merge(ours, {}, blobs.__getitem__, "laptop", CONVERGENCE, history=history, proves=lambda _d, _p: True)
    assert plan.updates[f"Rejected/{N}"] is None
    assert plan.updates[f"Approved/{N}"] == approved
    [resolution] = plan.resolutions
    assert resolution.detail["kept"] == "remote" and resolution.detail["from_history"] == f"Approved/{N}"
    # Without the history, the tip alone says nothing: our rejection would stand.
    assert plan_merge(ours, {}, blobs.__getitem__, "laptop", CONVERGENCE).updates == {}


def test_a_version_that_proves_nothing_never_wins_and_is_reported() -> None:
    blobs = Blobs()
    forged = blobs.put(decided(TID, "rejected", 20, "forged"))
    ours = {f"Pending_Approval/email/{N}": None, f"Approved/{N}": blobs.put(decided(TID, "approved", 10))}
    theirs = {f"Pending_Approval/email/{N}": None, f"Rejected/{N}": forged}
    proves = lambda data, _path: b"forged" not in data  # noqa: E731
    plan = plan_merge(ours, theirs, blobs.__getitem__, "laptop", CONVERGENCE, history=[(f"Rejected/{N}", forged)], proves=proves)
    assert plan.updates[f"Rejected/{N}"] is None and f"Approved/{N}" not in plan.updates
    [resolution] = plan.resolutions
    assert resolution.detail["kept"] == "local" and resolution.detail["unproven"] == [f"Rejected/{N}"]
    assert list(plan.new_blobs.values()) == [decided(TID, "rejected", 20, "forged")]  # set aside, not dropped
    # Believed, the same forgery would have won: it says it was the last word.
    assert plan_merge(ours, theirs, blobs.__getitem__, "laptop", CONVERGENCE).resolutions[0].detail["kept"] == "remote"


def test_an_unproven_history_with_no_tip_leaves_ours_alone() -> None:
    blobs = Blobs()
    ours = {f"Pending_Approval/email/{N}": None, f"Approved/{N}": blobs.put(note(TID, "approved"))}
    history = [(f"Rejected/{N}", blobs.put(note(TID, "rejected", "forged")))]
    plan = plan_merge(ours, {}, blobs.__getitem__, "laptop", CONVERGENCE, history=history,
                      proves=lambda data, _path: b"forged" not in data)
    assert plan.updates == {} and plan.resolutions == []


def test_new_notes_on_one_side_are_never_moved_or_dropped() -> None:
    blobs = Blobs()
    other = "b" * 32
    ours = {"Updates/one.md": None, "Pending_Approval/email/one.md": blobs.put(note(TID, "pending"))}
    theirs = {"Updates/two.md": blobs.put(note(other, "drafted"))}
    plan = plan_merge(ours, theirs, blobs.__getitem__, "laptop", CONVERGENCE)
    assert plan.updates == {"Updates/two.md": Entry("100644", blob_sha(note(other, "drafted")))}
    assert plan.resolutions == []


def test_other_files_keep_both_versions_and_own_files_keep_ours() -> None:
    blobs = Blobs()
    ours = {"Company_Handbook.md": blobs.put(b"ours\n"), "Dashboard.md": blobs.put(b"my dashboard\n")}
    theirs = {"Company_Handbook.md": blobs.put(b"theirs\n"), "Dashboard.md": blobs.put(b"their dashboard\n")}
    plan = plan_merge(ours, theirs, blobs.__getitem__, "pc", CONVERGENCE, owns=lambda p: p == "Dashboard.md")
    assert plan.updates["Company_Handbook.md"] == Entry("100644", blob_sha(b"theirs\n"))
    [side] = [p for p in plan.updates if p.startswith("Company_Handbook.conflict-pc-")]
    assert plan.updates[side] == Entry("100644", blob_sha(b"ours\n"))
    assert "Dashboard.md" not in plan.updates


@pytest.mark.parametrize("mine_deleted", [True, False])
def test_a_change_against_a_removal_keeps_the_change(mine_deleted: bool) -> None:
    blobs = Blobs()
    changed = blobs.put(b"changed\n")
    ours = {"Business_Goals.md": None if mine_deleted else changed}
    theirs = {"Business_Goals.md": changed if mine_deleted else None}
    plan = plan_merge(ours, theirs, blobs.__getitem__, "pc", CONVERGENCE)
    assert plan.updates.get("Business_Goals.md", changed) == changed


def test_only_ours_since_refuses_a_fast_forward_to_another_hosts_commits(tmp_path: Path) -> None:
    from hosts import git

    from fte.io.vault.gitlock import HostLock
    from fte.io.vault.gitsync import GitSync

    root = tmp_path / "repo"
    GitSync.init(root, "laptop")
    sync = GitSync(root, "laptop", HostLock(tmp_path / "lock"), policy=CONVERGENCE)
    (root / "a.md").write_text("a\n")
    base = sync.commit(["a.md"], "fte laptop: a").sha
    (root / "b.md").write_text("b\n")
    ours = sync.commit(["b.md"], "fte laptop: b").sha
    assert base and ours and sync.only_ours_since(base, ours) and sync.only_ours_since(ours, ours)
    (root / "c.md").write_text("c\n")
    git(root, "add", "c.md")
    git(root, "-c", "user.name=fte cloud", "commit", "-qm", "fte cloud: c")
    theirs = git(root, "rev-parse", "HEAD").strip()
    assert not sync.only_ours_since(ours, theirs)  # linear, but another host's
    assert not sync.only_ours_since(theirs, base)  # not a descendant
    assert not sync.only_ours_since("0" * 40, ours)  # a commit this repository does not have
    # A side branch of our own from base, and a merge of our own: neither is "base plus ours".
    git(root, "checkout", "-q", "-b", "side", base)
    (root / "d.md").write_text("d\n")
    side = sync.commit(["d.md"], "fte laptop: d").sha
    assert side and sync.only_ours_since(base, side) and not sync.only_ours_since(ours, side)
    git(root, "-c", "user.name=fte laptop", "merge", "-q", "--no-ff", "-m", "fte laptop: merge", ours)
    merged = git(root, "rev-parse", "HEAD").strip()
    assert not sync.only_ours_since(base, merged) and not sync.only_ours_since(side, merged)
