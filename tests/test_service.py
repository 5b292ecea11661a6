"""The transition service's contract (fte/states/service.py), method by method: versions, the
dedupe of detections, conditional writes, adopting another host's note. Written from a mutation
run's survivors (docs/RELIABILITY.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import TEST_EPOCH, new_task

from fte.errors import BadInput
from fte.host.home import Home, init_home, open_home
from fte.io.vault.notes import parse_note, render_task
from fte.states.service import Detection, Move


def versions(home: Home, task_id: str) -> list[int]:
    return [t.version for t in home.store.timeline(task_id)]


def test_each_bulk_transition_adds_exactly_one_to_the_version(home: Home) -> None:
    task = new_task(home)
    for event in ("draft", "sync", "present", "approve"):
        [done], refused = home.lifecycle.fire_many([Move(task.id, event)], actor="t", source="daemon")
        assert refused == []
    assert home.store.get(task.id).version == 5 and versions(home, task.id) == [1, 2, 3, 4, 5]


def test_a_detection_seen_again_is_the_same_task_beyond_a_query_of_500_keys(home: Home) -> None:
    items = [Detection(kind="email.reply", source="maildir", source_ref=f"<m{n:04d}@x>") for n in range(1001)]
    first = home.lifecycle.detect_many(items)
    assert all(created for _task, created in first)
    again = home.lifecycle.detect_many(list(reversed(items)))
    assert not any(created for _task, created in again)
    assert {t.id for t, _c in again} == {t.id for t, _c in first} and len(home.store.tasks()) == 1001


def test_a_detection_of_a_kind_that_is_not_domain_action_is_refused_and_makes_nothing(home: Home) -> None:
    with pytest.raises(BadInput, match="domain.action"):
        home.lifecycle.detect_many([Detection(kind="email.reply", source="maildir", source_ref="<a@x>"),
                                    Detection(kind="reply", source="maildir", source_ref="<b@x>")])
    assert home.store.tasks() == []


@pytest.mark.parametrize("expected", [1, 3])
def test_a_conditional_write_on_another_version_changes_nothing(home: Home, expected: int) -> None:
    task = new_task(home)
    home.lifecycle.fire(task.id, "draft", actor="t", source="daemon")  # now at version 2
    with pytest.raises(BadInput, match="changed meanwhile"):
        home.lifecycle.fire(task.id, "sync", actor="t", source="daemon", expect_version=expected)
    assert home.store.get(task.id).state == "drafted"
    assert home.lifecycle.fire(task.id, "sync", actor="t", source="daemon", expect_version=2).version == 3


@pytest.fixture
def other(tmp_path: Path) -> Home:
    """A second host, whose notes the first adopts; its clock is days ahead of the first's."""
    init_home(tmp_path / "other", role="cloud", agent="cloud")
    with open_home(tmp_path / "other", clock=lambda: TEST_EPOCH + timedelta(days=3, minutes=7, seconds=13.5)) as h:
        yield h


def adopt_from(other: Home, home: Home, ref: str, source: str = "maildir", state: str = "detected"):
    theirs, _ = other.lifecycle.detect(kind="email.reply", source=source, source_ref=ref, title="From the cloud",
                                       params={"to": "ann@example.com", "subject": "Re: x"})
    path = f"Needs_Action/email/{theirs.id}.md"
    return home.lifecycle.adopt(parse_note(render_task(theirs), path), path, state, actor="cloud")


def test_an_adopted_note_is_version_1_when_detected_and_2_when_later(home: Home, other: Home) -> None:
    detected = adopt_from(other, home, "<a@x>")
    assert (detected.version, detected.mirrored_version, versions(home, detected.id)) == (1, 1, [1])
    drafted = adopt_from(other, home, "<b@x>", state="drafted")
    assert (drafted.version, drafted.mirrored_version, versions(home, drafted.id)) == (2, 2, [1, 2])


def test_adopting_refuses_only_the_same_source_and_ref_under_another_id(home: Home, other: Home) -> None:
    mine = new_task(home, ref="<m@x>")
    # Neighbours in every order are other tasks: another ref of the source, the ref of another source.
    for source, ref in (("maildir", "<a@x>"), ("maildir", "<z@x>"), ("gmail", "<m@x>"), ("x", "<m@x>")):
        adopt_from(other, home, ref, source=source)
    with pytest.raises(BadInput, match=f"repeats the source of task {mine.id[:8]}"):
        adopt_from(other, home, "<m@x>")
    assert len(home.store.tasks()) == 5


def test_the_same_ref_from_two_sources_is_two_tasks(home: Home) -> None:
    [(mail, made)] = home.lifecycle.detect_many([Detection(kind="email.reply", source="maildir", source_ref="<a@x>")])
    [(gmail, also)] = home.lifecycle.detect_many([Detection(kind="email.reply", source="gmail", source_ref="<a@x>")])
    assert made and also and mail.id != gmail.id


def presented(home: Home):
    task = new_task(home)
    for event in ("draft", "sync", "present"):
        home.lifecycle.fire(task.id, event, actor="t", source="daemon")
    return home.store.get(task.id)


def test_what_this_host_asserts_is_signed_and_verifies(home: Home) -> None:
    task = home.lifecycle.fire(presented(home).id, "reject", actor="ann", source="cli")
    record = task.assertion
    assert record["event"] == "reject" and record["state"] == "rejected" and record["host"] == "laptop"
    assert home.lifecycle.trust.verify_assertion(task.id, "rejected", record) is None


def test_a_replay_to_approved_is_approved_afresh_for_the_new_presentation_and_to_pending_is_not(home: Home) -> None:
    from fte.states.reconcile import approve

    trust = home.lifecycle.trust
    for target in ("approved", "pending"):
        task = presented(home) if target == "approved" else new_task(home, ref="<m9@x>")
        if target == "pending":
            for event in ("draft", "sync", "present"):
                home.lifecycle.fire(task.id, event, actor="t", source="daemon")
            task = home.store.get(task.id)
        approve(home.lifecycle, trust, task, "ann", "cli")
        for event in ("claim", "fail"):
            home.lifecycle.fire(task.id, event, actor="laptop", source="daemon",
                                changes={"claimed_by": "laptop"} if event == "claim" else {})
        before = home.store.get(task.id)
        after = home.lifecycle.fire(task.id, "replay", actor="ann", source="replay", to=target)
        assert after.epoch == before.epoch + 1
        assert before.assertion["state"] == "failed" and after.assertion is None  # a new presentation
        if target == "approved":
            assert after.approval["epoch"] == after.epoch and after.approval != before.approval
            assert trust.verify_approval(after.id, after.kind, after.params, after.body, after.approval) is None
        else:
            assert after.approval is None or after.approval["epoch"] != after.epoch


def test_a_refused_move_does_not_stop_the_moves_after_it(home: Home) -> None:
    first, second = new_task(home), new_task(home, ref="<m2@x>")
    done, refused = home.lifecycle.fire_many([Move("f" * 32, "draft"), Move(first.id, "approve"), Move(second.id, "draft")],
                                             actor="t", source="daemon")
    assert [t.id for t in done] == [second.id]
    assert [tid for tid, _why in refused] == ["f" * 32, first.id]


def test_a_bulk_move_that_would_change_what_no_event_may_is_refused_before_anything(home: Home) -> None:
    task = new_task(home)
    with pytest.raises(BadInput, match="cannot change kind"):
        home.lifecycle.fire_many([Move(task.id, "draft"), Move(task.id, "sync", changes={"kind": "x.post"})],
                                 actor="t", source="daemon")
    assert home.store.get(task.id).state == "detected"


def test_an_adopted_task_was_created_when_its_note_says(home: Home, other: Home, clock) -> None:
    from datetime import datetime, timezone

    adopted = adopt_from(other, home, "<c@x>")
    theirs = other.store.tasks()[-1]
    # Notes say their dates to the minute; this host's own clock is days earlier (a fake one).
    assert adopted.created_at == theirs.created_at.replace(second=0, microsecond=0) != home.lifecycle.clock()
    # Seen here later than it was made there: detected when the note says, not when it was pulled.
    clock.now = datetime(2027, 1, 4, tzinfo=timezone.utc)
    later = adopt_from(other, home, "<d@x>")
    assert home.store.timeline(later.id)[0].at == later.created_at < clock.now


def test_a_host_that_signs_nothing_fails_a_draft_without_a_record(tmp_path: Path) -> None:
    """A cloud host holds no signing key: its drafting failures carry no signed record (and raise
    nothing for the lack of one)."""
    init_home(tmp_path / "cloud", role="cloud", agent="cloud")
    with open_home(tmp_path / "cloud") as cloud:
        assert cloud.lifecycle.trust is not None and cloud.lifecycle.trust.signer is None
        task = new_task(cloud)
        failed = cloud.lifecycle.fire(task.id, "fail", actor="openai", source="daemon",
                                      changes={"last_error": "drafting failed: 401"})
        assert failed.state == "failed" and failed.assertion is None


def test_a_bulk_decision_is_signed_as_the_person_who_made_it(home: Home) -> None:
    task = presented(home)
    [done], _ = home.lifecycle.fire_many([Move(task.id, "reject", actor="ann")], actor="laptop", source="obsidian")
    assert done.assertion["by"] == "ann" and home.store.timeline(task.id)[-1].actor == "ann"


@pytest.mark.parametrize("detail", [{"seen": {1, 2}}, "circular"])
def test_a_transition_detail_that_is_not_json_is_refused(home: Home, detail) -> None:
    task = new_task(home)
    if detail == "circular":
        loop: dict = {}
        loop["again"] = loop
        detail = {"loop": loop}
    with pytest.raises(BadInput, match="must be JSON"):
        home.lifecycle.fire(task.id, "draft", actor="t", source="daemon", **detail)
    assert home.store.get(task.id).state == "detected"


def test_new_tasks_are_in_the_journal_the_commit_message_is_made_from(home: Home) -> None:
    home.lifecycle.journal.clear()
    [(task, _)] = home.lifecycle.detect_many([Detection(kind="email.reply", source="maildir", source_ref="<j@x>")])
    assert home.lifecycle.journal == [(task.id, "detect", "detected")]
    home.lifecycle.journal.clear()
    home.lifecycle.detect_many([Detection(kind="email.reply", source="maildir", source_ref="<j@x>")])  # seen again
    assert home.lifecycle.journal == []


def test_in_a_batch_new_notes_are_owed_and_written_at_the_flush(home: Home) -> None:
    with home.lifecycle.batch():
        [(task, _)] = home.lifecycle.detect_many([Detection(kind="email.reply", source="maildir", source_ref="<b@x>")])
        assert home.lifecycle.owes_notes is True and home.store.get(task.id).note_path is None
        home.lifecycle.flush()
        assert home.lifecycle.owes_notes is False
        row = home.store.get(task.id)
        assert row.mirrored_version == row.version == 1 and (home.vault.root / row.note_path).is_file()


@pytest.mark.parametrize("state", ["approved", "claimed", "done"])
def test_a_note_adopted_in_a_decided_state_is_in_that_state(home: Home, other: Home, state: str) -> None:
    adopted = adopt_from(other, home, f"<{state}@x>", state=state)
    assert (adopted.state, adopted.version) == (state, 2)
    assert [t.event for t in home.store.timeline(adopted.id)] == ["detect", "observe"]


def test_a_released_claim_keeps_the_persons_approval(home: Home) -> None:
    """Only a replay the person asks for is approved afresh by this host; a claim given back (lost
    at the push, a lease run out) keeps the record of who approved it."""
    from fte.states.reconcile import approve

    task = presented(home)
    approved = approve(home.lifecycle, home.lifecycle.trust, task, "ann", "cli")
    home.lifecycle.fire(task.id, "claim", actor="laptop", source="daemon", changes={"claimed_by": "laptop"})
    released = home.lifecycle.fire(task.id, "release", actor="laptop", source="daemon")
    assert released.state == "approved" and released.approval == approved.approval
    assert released.approval["by"] == "ann"
