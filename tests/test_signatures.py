"""Signed approvals and assertions (fte/states/approvals.py), each refusal tried as an attacker would:
real Ed25519 keys, a real keyring file, no daemon — every guard has a test that fails without it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fte.host.keys import HostKey, KeyMissing, Keyring
from fte.models.tables import Task
from fte.states.approvals import ASSERTED, Trust, content_digest, verify_task

AT = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def host(name: str) -> HostKey:
    return HostKey(name, Ed25519PrivateKey.generate())


@pytest.fixture
def keys(tmp_path: Path):  # noqa: ANN201
    laptop, mallory = host("laptop"), host("mallory")
    ring = Keyring(tmp_path / "keyring.json")
    ring.trust("laptop", laptop.public, AT)
    return Trust(ring, laptop), Trust(ring, mallory), ring


def task(**kw) -> Task:  # noqa: ANN003
    base = dict(id="a" * 32, kind="email.reply", params={"to": "ann@example.com", "subject": "Re: x"},
                body="Dear Ann,\n", epoch=2, expires_at=AT + timedelta(days=3))
    return Task(**(base | kw))


def test_an_approval_verifies_for_exactly_what_was_approved(keys) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    t = task()
    record = laptop.approval(t, "ann", AT)
    assert set(record) == {"by", "host", "at", "epoch", "deadline", "sha256", "signature"}
    assert record["host"] == "laptop" and record["epoch"] == 2 and record["deadline"] == "2026-11-29T09:00:00.000000+00:00"
    assert record["sha256"] == content_digest(t.id, t.kind, t.params, t.body)
    assert laptop.verify_approval(t.id, t.kind, t.params, t.body, record, epoch=2) is None
    t.approval = record
    assert verify_task(laptop, t) is None


@pytest.mark.parametrize(("change", "reason"), [
    ({"body": "Send the money to Mallory.\n"}, "changed after approval"),
    ({"params": {"to": "mallory@evil.example", "subject": "Re: x"}}, "changed after approval"),
    ({"kind": "x.reply"}, "changed after approval"),
    ({"id": "b" * 32}, "signature"),          # an approval moved onto another task
])
def test_an_approval_does_not_verify_for_anything_else(keys, change: dict, reason: str) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    record = laptop.approval(task(), "ann", AT)
    t = task(**change)
    assert reason in (laptop.verify_approval(t.id, t.kind, t.params, t.body, record) or "")


def test_an_approval_of_an_older_presentation_is_refused(keys) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    record = laptop.approval(task(epoch=1), "ann", AT)
    t = task(epoch=2)
    assert "presentation 1" in laptop.verify_approval(t.id, t.kind, t.params, t.body, record, epoch=2)
    assert laptop.verify_approval(t.id, t.kind, t.params, t.body, record) is None  # no epoch asked: not checked


@pytest.mark.parametrize("field,value", [("by", "mallory"), ("at", "2026-11-25T09:00:00+00:00"), ("epoch", 3),
                                         ("deadline", "2030-01-01T00:00:00+00:00"), ("host", "mallory")])
def test_any_signed_field_changed_breaks_the_signature(keys, field: str, value: object) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    t = task()
    record = dict(laptop.approval(t, "ann", AT), **{field: value})
    assert laptop.verify_approval(t.id, t.kind, t.params, t.body, record) is not None


def test_a_forged_signature_with_a_correct_content_hash_is_refused(keys) -> None:  # noqa: ANN001
    """mallory computes the right sha256 (the content is public) and signs it with its own key, as laptop."""
    laptop, mallory, _r = keys
    t = task()
    forged = mallory.approval(t, "ann", AT) | {"host": "laptop"}
    assert forged["sha256"] == content_digest(t.id, t.kind, t.params, t.body)
    assert "not 'laptop''s" in laptop.verify_approval(t.id, t.kind, t.params, t.body, forged)
    own = mallory.approval(t, "ann", AT)  # signed as itself: a host nobody trusts
    assert "not in this host's keyring" in laptop.verify_approval(t.id, t.kind, t.params, t.body, own)


def test_a_revoked_host_is_no_longer_believed(keys) -> None:  # noqa: ANN001
    laptop, _m, ring = keys
    t = task()
    record = laptop.approval(t, "ann", AT)
    ring.revoke("laptop")
    assert "keyring" in laptop.verify_approval(t.id, t.kind, t.params, t.body, record)


def test_an_approval_made_after_the_deadline_is_refused(keys) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    t = task(expires_at=AT - timedelta(minutes=1))
    record = laptop.approval(t, "ann", AT)
    assert "after the task's deadline" in laptop.verify_approval(t.id, t.kind, t.params, t.body, record)
    t = task(expires_at=AT)  # at the deadline itself: still in time
    assert laptop.verify_approval(t.id, t.kind, t.params, t.body, laptop.approval(t, "ann", AT)) is None
    t = task(expires_at=None)
    assert laptop.verify_approval(t.id, t.kind, t.params, t.body, laptop.approval(t, "ann", AT)) is None


@pytest.mark.parametrize(("broken", "reason"), [
    (None, "no approval record"), ("by=ann", "no approval record"), ({}, "lacks"), ({"by": "ann"}, "lacks"),
    ("missing-signature", "lacks signature"), ("epoch-text", "epoch is not a whole number"),
    ("epoch-bool", "epoch is not a whole number"), ("host-number", "must be text"), ("at-number", "must be text"),
    ("bad-times", "not valid"),
])
def test_a_malformed_record_is_refused_with_its_reason(keys, broken, reason: str) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    t = task()
    good = laptop.approval(t, "ann", AT)
    made = {"missing-signature": {k: v for k, v in good.items() if k != "signature"},
            "epoch-text": good | {"epoch": "2"}, "epoch-bool": good | {"epoch": True},
            "host-number": good | {"host": 7}, "at-number": good | {"at": 5}}
    if broken == "bad-times":  # well signed, but its deadline does not parse: refused, not guessed
        record = {k: v for k, v in good.items() if k != "signature"} | {"deadline": "someday"}
        record["signature"] = laptop.signer.sign(record | {"event": "approve", "task": t.id})
    else:
        record = made.get(broken, broken) if isinstance(broken, str) else broken
    got = laptop.verify_approval(t.id, t.kind, t.params, t.body, record)
    assert got and reason in got, (broken, got)


@pytest.mark.parametrize("event", sorted(ASSERTED))
def test_an_assertion_verifies_only_for_the_state_it_asserts(keys, event: str) -> None:  # noqa: ANN001
    laptop, mallory, _r = keys
    t = task()
    record = laptop.assertion(t, event, "laptop", AT)
    state = ASSERTED[event]
    assert record["state"] == state and laptop.verify_assertion(t.id, state, record) is None
    other = next(s for s in ASSERTED.values() if s != state)
    assert laptop.verify_assertion(t.id, other, record) is not None
    assert laptop.verify_assertion("b" * 32, state, record) is not None  # moved onto another task
    relabelled = dict(record, state=other, event=next(e for e, s in ASSERTED.items() if s == other))
    assert laptop.verify_assertion(t.id, other, relabelled) is not None  # the signature covers event and state
    mismatched = dict(record, event=next(e for e in ASSERTED if ASSERTED[e] != state))
    assert "says" in (laptop.verify_assertion(t.id, state, mismatched) or "")
    forged = mallory.assertion(t, event, "laptop", AT) | {"host": "laptop"}
    assert laptop.verify_assertion(t.id, state, forged) is not None
    assert laptop.verify_assertion(t.id, state, None) is not None


def test_a_host_without_a_key_signs_nothing(keys) -> None:  # noqa: ANN001
    _l, _m, ring = keys
    cloud = Trust(ring)
    with pytest.raises(KeyMissing):
        cloud.approval(task(), "ann", AT)
    with pytest.raises(KeyMissing):
        cloud.assertion(task(), "complete", "cloud", AT)


def test_the_content_digest_is_canonical_and_covers_each_part() -> None:
    a = content_digest("a" * 32, "email.reply", {"to": "x", "subject": "y"}, "b")
    assert a == content_digest("a" * 32, "email.reply", {"subject": "y", "to": "x"}, "b")  # key order
    assert len({a, content_digest("b" * 32, "email.reply", {"to": "x", "subject": "y"}, "b"),
                content_digest("a" * 32, "x.reply", {"to": "x", "subject": "y"}, "b"),
                content_digest("a" * 32, "email.reply", {"to": "x"}, "b"),
                content_digest("a" * 32, "email.reply", {"to": "x", "subject": "y"}, "b ")}) == 5


def test_an_approval_of_a_newer_presentation_than_the_task_is_refused_too(keys) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    t = task(epoch=3)
    record = laptop.approval(t, "ann", AT)
    older = task(epoch=2)
    assert "presentation 3" in laptop.verify_approval(older.id, older.kind, older.params, older.body, record, epoch=2)


@pytest.mark.parametrize("signed_state", ["failed", "claimed"])
def test_a_signed_record_whose_state_and_event_disagree_is_refused(keys, signed_state: str) -> None:  # noqa: ANN001
    """Even signed by a trusted host: a "complete" that says "failed" (or "claimed") proves no "done"."""
    laptop, _m, _r = keys
    t = task()
    record = {"event": "complete", "state": signed_state, "by": "laptop", "host": "laptop",
              "at": "2026-11-26T09:00:00.000000+00:00", "epoch": 2}
    record["signature"] = laptop.signer.sign(record | {"task": t.id})
    assert "says" in (laptop.verify_assertion(t.id, "done", record) or "")


@pytest.mark.parametrize("epoch", [0, None])
def test_a_task_at_presentation_zero_is_signed_and_checked_at_zero(keys, epoch) -> None:  # noqa: ANN001
    laptop, _m, _r = keys
    t = task(epoch=epoch)
    t.approval = laptop.approval(t, "ann", AT)
    assert t.approval["epoch"] == 0 and laptop.assertion(t, "claim", "laptop", AT)["epoch"] == 0
    assert verify_task(laptop, t) is None


def test_the_content_digest_is_a_wire_format_fixed_across_versions() -> None:
    """Every host computes it (the local host signs it, the others verify): a change in how it is
    computed (key order, separators, escaping of non-ASCII text) would make hosts of two versions
    refuse each other's approvals. Pinned to the value this version computes."""
    assert content_digest("a" * 32, "email.reply", {"to": "zoë@example.com", "subject": "Grüße"},
                          "Schöne Grüße, Zoë\n") == "1a48d72f2201cffb72c9662f15185f64f14eac2aaa833a3bc1e42488177debbd"
