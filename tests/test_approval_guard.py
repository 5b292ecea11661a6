"""The approval guard of fte/states/reconcile.py, case by case, with real keys: what a pulled note
may assert (``unproven``), which version of a note counts as a decision at a merge
(``merge_evidence``), and the checks every approval passes (``check_deadline``,
``check_sendable``, ``approve_move``). The protocol tests drive the same code through real hosts
and git; these name each refusal's reason, so a guard that goes missing fails here by name
(docs/protocol.md, "What each transition needs" and "Pulled notes")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import new_task
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fte.errors import BadInput
from fte.host.home import Home
from fte.host.keys import HostKey, Keyring
from fte.io.vault.notes import render_task
from fte.models.tables import Task
from fte.states.approvals import Trust
from fte.states.reconcile import (
    approve_move,
    check_deadline,
    check_sendable,
    merge_evidence,
    unproven,
)

AT = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
ID = "c" * 32


@pytest.fixture
def trust(tmp_path: Path) -> Trust:
    ring = Keyring(tmp_path / "keyring.json")
    laptop = HostKey("laptop", Ed25519PrivateKey.generate())
    ring.trust("laptop", laptop.public, AT)
    return Trust(ring, laptop)


@pytest.fixture
def mallory(trust: Trust) -> Trust:
    """A host the keyring does not trust, signing with its own key."""
    return Trust(trust.keyring, HostKey("mallory", Ed25519PrivateKey.generate()))


def task(epoch: int = 2, **kw: Any) -> Task:
    base: dict[str, Any] = dict(id=ID, kind="email.reply", params={"to": "ann@example.com", "subject": "Re: x"},
                                body="Dear Ann,\n", epoch=epoch, expires_at=AT + timedelta(days=3))
    return Task(**(base | kw))


def fields(t: Task, approval: Any = None, assertion: Any = None, claimed_by: str | None = None,
           epoch: int | None = None) -> dict[str, Any]:
    """What ``note_fields`` gives for a note of ``t`` carrying these records."""
    return {"kind": t.kind, "params": t.params, "body": t.body, "approval": approval, "assertion": assertion,
            "epoch": t.epoch if epoch is None else epoch, "claimed_by": claimed_by}


def signed(trust: Trust, state: str, t: Task | None = None, **kw: Any) -> dict[str, Any]:
    """A note's fields for ``state``, with every record a trusted host would have made for it."""
    t = t or task()
    approval = trust.approval(t, "ann", AT) if state in ("approved", "claimed", "done", "failed") else None
    event = {"rejected": "reject", "expired": "expire", "claimed": "claim", "done": "complete",
             "failed": "fail"}.get(state)
    assertion = trust.assertion(t, event, "ann", AT) if event else None
    return fields(t, approval, assertion, claimed_by="laptop" if state == "claimed" else None) | kw


# -- unproven: what a pulled note may assert -----------------------------------------------------------


def fresh(text: str) -> str:
    """``text`` as a new string object, as a parser makes it (a literal is interned: ``is`` would pass)."""
    return "".join(list(text))


@pytest.mark.parametrize("state", ["approved", "rejected", "expired", "claimed", "done", "failed"])
def test_every_decided_state_signed_by_a_trusted_host_is_proven(trust: Trust, state: str) -> None:
    assert unproven(trust, ID, state, signed(trust, state), None) is None


@pytest.mark.parametrize("state", ["approved", "rejected", "expired", "claimed", "done", "failed"])
def test_states_and_epochs_are_compared_by_value_as_a_parsed_note_gives_them(trust: Trust, state: str) -> None:
    """A note's state is a string its parser made and its epoch may be past the small ints Python
    shares: compared by identity, a proven note would be refused (or an unproven one believed)."""
    t = task(epoch=1000)
    note = signed(trust, state, t)
    note = note | {"epoch": int(fresh("1000")), "claimed_by": note["claimed_by"] and fresh(note["claimed_by"])}
    assert unproven(trust, ID, fresh(state), note, None) is None
    assert unproven(trust, ID, fresh("failed"), fields(task()), task(state=fresh("synced"))) is None


@pytest.mark.parametrize("state", ["detected", "drafted", "synced", "pending"])
def test_a_state_before_any_decision_needs_no_signature(trust: Trust, state: str) -> None:
    assert unproven(trust, ID, state, fields(task()), None) is None


@pytest.mark.parametrize(("state", "reason"), [
    ("approved", "no approval record"),
    ("claimed", "no approval record"),
    ("done", "no approval record"),
    ("rejected", "no signed record for state 'rejected'"),
    ("expired", "no signed record for state 'expired'"),
])
def test_an_unsigned_decision_is_refused_with_its_reason(trust: Trust, state: str, reason: str) -> None:
    assert unproven(trust, ID, state, fields(task()), None) == reason


@pytest.mark.parametrize("state", ["claimed", "done", "failed"])
def test_an_executed_state_needs_its_own_record_besides_the_approval(trust: Trust, state: str) -> None:
    note = signed(trust, state, assertion=None)
    assert unproven(trust, ID, state, note, None) == f"no signed record for state {state!r}"


@pytest.mark.parametrize("state", ["claimed", "done"])
def test_an_executed_state_needs_the_approval_besides_its_own_record(trust: Trust, state: str) -> None:
    note = signed(trust, state, approval=None)
    assert unproven(trust, ID, state, note, None) == "no approval record"


def test_an_approved_note_needs_no_record_besides_its_approval(trust: Trust) -> None:
    """``approved`` is proven by the approval alone; a record of another event is not asked for."""
    assert unproven(trust, ID, "approved", signed(trust, "approved", assertion=None), None) is None


@pytest.mark.parametrize("state", ["approved", "claimed", "done", "failed"])
def test_an_approval_by_an_untrusted_host_is_refused(trust: Trust, mallory: Trust, state: str) -> None:
    note = signed(trust, state, approval=mallory.approval(task(), "ann", AT))
    assert unproven(trust, ID, state, note, None) == "approval: host 'mallory' is not in this host's keyring"


@pytest.mark.parametrize("state", ["rejected", "expired", "claimed", "done", "failed"])
def test_a_record_by_an_untrusted_host_is_refused(trust: Trust, mallory: Trust, state: str) -> None:
    event = {"rejected": "reject", "expired": "expire", "claimed": "claim", "done": "complete", "failed": "fail"}
    note = signed(trust, state, assertion=mallory.assertion(task(), event[state], "ann", AT))
    assert unproven(trust, ID, state, note, None) == f"{state}: host 'mallory' is not in this host's keyring"


def test_an_approval_for_other_content_is_refused(trust: Trust) -> None:
    note = signed(trust, "approved", body="Send the money to Mallory.\n")
    assert unproven(trust, ID, "approved", note, None) == "the body or parameters changed after approval"


@pytest.mark.parametrize("state", ["approved", "claimed", "done", "failed"])
@pytest.mark.parametrize(("signed_at", "note_at"), [(1, 2), (3, 2)])
def test_an_approval_of_another_presentation_than_the_note_is_refused(trust: Trust, state: str, signed_at: int,
                                                                      note_at: int) -> None:
    """A replayed or re-presented task: the old approval's signature still verifies, its epoch does
    not — nor does a newer one's under a note rolled back to an older presentation."""
    note = signed(trust, state, task(epoch=signed_at)) | {"epoch": note_at}
    assert unproven(trust, ID, state, note, None) == \
        f"its approval is of presentation {signed_at}, the note is at {note_at}"


@pytest.mark.parametrize("state", ["rejected", "expired"])
@pytest.mark.parametrize(("signed_at", "note_at"), [(1, 3), (4, 3)])
def test_a_record_of_another_presentation_than_the_note_is_refused(trust: Trust, state: str, signed_at: int,
                                                                   note_at: int) -> None:
    note = signed(trust, state, task(epoch=signed_at)) | {"epoch": note_at}
    assert unproven(trust, ID, state, note, None) == \
        f"its {state} record is of presentation {signed_at}, the note is at {note_at}"


def test_a_done_whose_record_is_of_another_presentation_than_its_approval_is_refused(trust: Trust) -> None:
    """The approval matches the note's epoch; the completion record was made for an older one."""
    note = signed(trust, "done") | {"assertion": trust.assertion(task(epoch=1), "complete", "ann", AT)}
    assert unproven(trust, ID, "done", note, None) == "its done record is of presentation 1, the note is at 2"


def test_a_record_of_another_state_is_refused(trust: Trust) -> None:
    """A signed ``claim`` record under a note that says ``done``: the claim proves no completion."""
    note = signed(trust, "done") | {"assertion": trust.assertion(task(), "claim", "ann", AT)}
    assert unproven(trust, ID, "done", note, None) == "the signed record says 'claimed', the note says 'done'"


@pytest.mark.parametrize("claimant", ["mallory", "desktop"])  # names that sort after and before the signer's
def test_a_claim_names_the_host_that_signed_it(trust: Trust, claimant: str) -> None:
    note = signed(trust, "claimed") | {"claimed_by": claimant}
    assert unproven(trust, ID, fresh("claimed"), note, None) == f"claimed by {claimant!r} but signed by 'laptop'"


def test_only_a_claim_is_checked_against_claimed_by(trust: Trust) -> None:
    """A ``done`` note keeps the claimant's name, which may be another host than the one that completed."""
    assert unproven(trust, ID, "done", signed(trust, "done") | {"claimed_by": "desktop"}, None) is None


@pytest.mark.parametrize("row_state", [None, "detected", "drafted", "synced"])
def test_an_unsigned_drafting_failure_is_believed_before_anything_was_presented(trust: Trust,
                                                                                row_state: str | None) -> None:
    row = None if row_state is None else task(state=row_state)
    assert unproven(trust, ID, "failed", fields(task()), row) is None


@pytest.mark.parametrize("row_state", ["pending", "approved", "claimed", "done", "rejected", "expired"])
def test_an_unsigned_failure_of_a_presented_task_is_refused(trust: Trust, row_state: str) -> None:
    assert unproven(trust, ID, "failed", fields(task()), task(state=row_state)) == \
        "a presented task cannot be failed without a signed record"


def test_a_failure_with_an_approval_is_checked_as_an_execution_failure_whatever_the_row(trust: Trust) -> None:
    """Carrying an approval, ``failed`` is an executor's assertion: it needs its record even before presentation."""
    note = signed(trust, "failed", assertion=None)
    assert unproven(trust, ID, "failed", note, task(state="drafted")) == "no signed record for state 'failed'"


# -- merge_evidence: which version of a note is a decision at a merge ------------------------------


def note_bytes(t: Task, state: str, trust: Trust | None = None, **records: Any) -> bytes:
    t.state = state
    t.source, t.source_ref, t.origin, t.title, t.original = "maildir", "<m@x>", "cloud", "Hello", ""
    t.created_at = t.updated_at = AT
    if trust is not None:
        f = signed(trust, state, t)
        t.approval, t.assertion = f["approval"], f["assertion"]
        t.claimed_by = f["claimed_by"]
    for key, value in records.items():
        setattr(t, key, value)
    return render_task(t)


@pytest.mark.parametrize("state", ["approved", "rejected", "expired", "claimed", "done", "failed"])
def test_a_signed_decision_proves_itself_at_a_merge(trust: Trust, state: str) -> None:
    assert merge_evidence(trust)(note_bytes(task(), state, trust), "Approved/a.md") is True


@pytest.mark.parametrize("state", ["approved", "rejected", "expired", "claimed", "done"])
def test_an_unsigned_decision_proves_nothing_at_a_merge(trust: Trust, state: str) -> None:
    assert merge_evidence(trust)(note_bytes(task(), state), "Approved/a.md") is False


def test_a_decision_signed_by_an_untrusted_host_proves_nothing_at_a_merge(trust: Trust, mallory: Trust) -> None:
    assert merge_evidence(trust)(note_bytes(task(), "approved", mallory), "Approved/a.md") is False


def test_an_unsigned_failure_proves_nothing_at_a_merge(trust: Trust) -> None:
    """``unproven`` believes a drafting failure of an unknown task; at a merge it is no decision at all."""
    data = note_bytes(task(), "failed")
    assert unproven(trust, ID, "failed", fields(task()), None) is None
    assert merge_evidence(trust)(data, "Failed/a.md") is False


@pytest.mark.parametrize("state", ["detected", "drafted", "synced", "pending"])
def test_a_note_before_any_decision_asserts_nothing_that_needs_proof(trust: Trust, state: str) -> None:
    assert merge_evidence(trust)(note_bytes(task(), state), "Pending_Approval/a.md") is True


@pytest.mark.parametrize("state", ["exploded", "Approved", ""])
def test_a_note_in_no_known_state_proves_nothing(trust: Trust, state: str) -> None:
    assert merge_evidence(trust)(note_bytes(task(), state), "Pending_Approval/a.md") is False


@pytest.mark.parametrize("data", [
    b"not a note at all",
    b"---\nid: " + ID.encode() + b"\nstate: [approved]\nkind: email.reply\n---\nbody\n",
    b"---\nid: " + ID.encode() + b"\nstate: approved\nkind: NOT A KIND\n---\nbody\n",
    b"---\nid: " + ID.encode() + b"\nstate: approved\nkind: email.reply\nepoch: yes\n---\nbody\n",
    b"\xff\xfe---\n",
])
def test_a_note_that_does_not_parse_proves_nothing_and_raises_nothing(trust: Trust, data: bytes) -> None:
    assert merge_evidence(trust)(data, "Approved/a.md") is False


# -- the checks every approval passes ------------------------------------------------------------------


def test_a_decision_after_the_deadline_is_refused_and_at_the_deadline_is_not() -> None:
    t = task(expires_at=AT)
    check_deadline(t, AT)
    check_deadline(t, AT - timedelta(hours=1))
    check_deadline(t, datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc))  # the same instant, another object
    with pytest.raises(BadInput, match="passed its deadline"):
        check_deadline(t, AT + timedelta(microseconds=1))
    check_deadline(task(expires_at=None), AT + timedelta(days=3650))


@pytest.mark.parametrize("kind", ["email.reply", "x.reply", "whatsapp.reply"])
@pytest.mark.parametrize("to", [None, "", "   ", "\t\n"])
def test_an_answer_with_no_recipient_cannot_be_approved(kind: str, to: str | None) -> None:
    params = {"subject": "Re: x"} if to is None else {"to": to, "subject": "Re: x"}
    with pytest.raises(BadInput, match="has no recipient"):
        check_sendable(task(kind=kind, params=params))
    with pytest.raises(BadInput, match="has no recipient"):
        check_sendable(task(kind=kind, params=None))


@pytest.mark.parametrize("kind", ["odoo.invoice", "linkedin.post", "x.post"])
def test_an_action_that_answers_no_one_needs_no_recipient(kind: str) -> None:
    check_sendable(task(kind=kind, params={}))


@pytest.mark.parametrize("to", [["ann@example.com", "bob@example.com"], 5, {"a": 1}, True])
def test_a_recipient_that_is_not_text_cannot_be_approved(to: object) -> None:
    with pytest.raises(BadInput, match="'to' must be one address as text"):
        check_sendable(task(params={"to": to, "subject": "Re: x"}))


def test_an_answer_with_a_recipient_can_be_approved() -> None:
    check_sendable(task(kind="whatsapp.reply", params={"to": "+15551234567"}))


def pending(home: Home) -> Task:
    """A pending task, read back from the database (its state a string SQLite gave, not a literal)."""
    t = new_task(home)
    for event in ("draft", "sync", "present"):
        t = home.lifecycle.fire(t.id, event, actor="t", source="daemon")
    return home.store.get(t.id)


def test_an_approval_move_signs_what_the_person_saw_and_records_where(home: Home) -> None:
    row = pending(home)
    move = approve_move(home.lifecycle, home.lifecycle.trust, row, "ann", body="Edited.\n",
                        params={"to": "bob@example.com", "subject": "Re: x"}, path="Approved/n.md",
                        detail={"via": "move"})
    assert (move.task_id, move.event, move.actor, move.detail) == (row.id, "approve", "ann", {"via": "move"})
    assert move.changes["body"] == "Edited.\n" and move.changes["params"] == {"to": "bob@example.com",
                                                                             "subject": "Re: x"}
    assert move.changes["note_path"] == "Approved/n.md" and move.changes["last_error"] is None
    record = move.changes["approval"]
    assert record["by"] == "ann" and record["epoch"] == row.epoch
    assert home.lifecycle.trust.verify_approval(row.id, row.kind, move.changes["params"], "Edited.\n", record,
                                                row.epoch) is None


def test_an_approval_without_changes_signs_the_row_as_it_stands(home: Home) -> None:
    row = pending(home)
    move = approve_move(home.lifecycle, home.lifecycle.trust, row, "ann")
    assert "note_path" not in move.changes
    assert (move.changes["body"], move.changes["params"]) == (row.body, row.params)
    assert home.lifecycle.trust.verify_approval(row.id, row.kind, row.params, row.body,
                                                move.changes["approval"], row.epoch) is None


@pytest.mark.parametrize(("state", "said"), [
    ("approved", "is already decided (approved)"), ("rejected", "is already decided (rejected)"),
    ("drafted", "is drafted, not waiting for approval"), ("synced", "is synced, not waiting for approval"),
])
def test_only_a_pending_task_can_be_approved(home: Home, state: str, said: str) -> None:
    row = pending(home)
    row.state = state
    with pytest.raises(BadInput, match=said.replace("(", r"\(").replace(")", r"\)")):
        approve_move(home.lifecycle, home.lifecycle.trust, row, "ann")


def test_an_approval_that_would_remove_the_recipient_is_refused(home: Home) -> None:
    row = pending(home)
    with pytest.raises(BadInput, match="has no recipient"):
        approve_move(home.lifecycle, home.lifecycle.trust, row, "ann", params={"subject": "Re: x"})


def test_an_approval_after_the_deadline_is_refused(home: Home) -> None:
    row = pending(home)
    row.expires_at = home.lifecycle.clock() - timedelta(seconds=1)
    with pytest.raises(BadInput, match="passed its deadline"):
        approve_move(home.lifecycle, home.lifecycle.trust, row, "ann")
