"""Real-world mail shapes (tests/data/mail/): parsed right, and none of them can break a reply or
stop a tick (docs/channels.md)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import fte_cli
from hosts import HostRun, drop_mail

from fte.io.channels.mail import UnsafeMail, build_reply, parse_mail

CORPUS = Path(__file__).parent / "data" / "mail"


def parsed(name: str):
    return parse_mail((CORPUS / name).read_bytes())


@pytest.mark.parametrize("name,sender,name_shown,subject,text", [
    ("multipart-alternative.eml", "ann@example.com", "Ann", "Both parts", "Plain version"),
    ("html-only.eml", "bo@example.com", "Bo", "Only HTML", "Hello there"),
    ("forwarded.eml", "cy@example.com", "Cy", "Fwd: Invoice", "See below."),
    ("latin1.eml", "juergen@example.de", "Jürgen", "Grüße", "Schöne Grüße"),
    ("raw-utf8-headers.eml", "chloe@example.fr", "Chloé Dupont", "Café order", "Un café, s'il vous plaît."),
    ("folded-subject.eml", "di@example.com", "Di", "Blank line folded", "Body"),
])
def test_shapes_parse(name: str, sender: str, name_shown: str, subject: str, text: str) -> None:
    mail = parsed(name)
    assert (mail.sender, mail.sender_name, mail.subject) == (sender, name_shown, subject)
    assert text in mail.text


def test_an_encoded_crlf_never_reaches_a_header() -> None:
    mail = parsed("encoded-crlf.eml")
    assert "\r" not in mail.subject and "\n" not in mail.subject and "\n" not in mail.message_id
    reply = build_reply(task_id="t", sender="me@example.com", params=mail.reply_params(), body="ok",
                        message_id="<k@x>", date=datetime(2026, 11, 27, tzinfo=timezone.utc))
    sent = email.message_from_bytes(reply.as_bytes(), policy=email.policy.default)
    assert sent["Bcc"] is None and sent["To"] == "dana1@example.com"


def test_an_encoded_word_in_the_display_name_cannot_change_the_address() -> None:
    mail = parsed("encoded-word-from.eml")
    assert mail.sender == "attacker@evil.example"  # the address is the one outside the encoded word
    assert "boss@example.com" in mail.sender_name


def test_a_missing_message_id_gets_a_stable_one() -> None:
    assert parsed("no-message-id.eml").message_id == parsed("no-message-id.eml").message_id != ""


@pytest.mark.parametrize("params,reason", [
    ({"to": "", "subject": "Re: x"}, "no recipient"),
    ({"to": "ann@example.com", "subject": "Re: x\r\nBcc: victim@example.org"}, "line break"),
    ({"to": "ann@example.com\nBcc: v@x", "subject": "Re: x"}, "line break"),
])
def test_a_reply_that_cannot_be_sent_safely_is_refused_before_sending(params: dict, reason: str) -> None:
    with pytest.raises(UnsafeMail, match=reason):
        build_reply(task_id="t", sender="me@example.com", params=params, body="x", message_id="<k@x>",
                    date=datetime(2026, 11, 27, tzinfo=timezone.utc))


def test_poisoned_mails_fail_alone_and_the_rest_are_sent(home_dir: Path) -> None:
    """A mail with an encoded CR/LF crashed the executing tick on every tick while 20 others waited
    in `claimed`; a mail with no From was presented with an empty recipient."""
    inbox = home_dir / "inbox" / "new"
    for i in range(20):
        drop_mail(home_dir, i)
    for name in ("encoded-crlf.eml", "no-from.eml"):
        (inbox / f"1764147600.{name}.test").write_bytes((CORPUS / name).read_bytes())
    run = HostRun(home_dir)
    toml = home_dir / "fte.toml"
    toml.write_text(toml.read_text().replace('"email.reply" = 10\n', '"email.reply" = 1000\n'))
    run.close()
    run = HostRun(home_dir)
    run.tick()
    no_from = {t.title: t for t in run.home.store.tasks()}["No sender here"]
    assert no_from.state == "pending" and "no usable sender address" in no_from.body  # it asks the person
    for task in run.home.store.tasks(state="pending"):
        refused = task.id == no_from.id  # it cannot be approved: there is no one to send it to
        r = fte_cli("approve", task.id, "--home", str(home_dir), code=2 if refused else 0)
        assert not refused or "has no recipient" in r.output, r.output
    run.tick()
    states = {t.title: t for t in run.home.store.tasks()}
    assert sum(t.state == "done" for t in states.values()) == 21  # the 20, and the CR/LF one, made safe
    assert states["No sender here"].state == "pending" and not run.home.store.executions(no_from.id)
    outbox = list((home_dir / "outbox" / "new").iterdir())
    assert len(outbox) == 21
    for f in outbox:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        assert msg["Bcc"] is None
    run.close()


def test_a_mail_with_no_sender_asks_the_person_and_a_move_cannot_approve_it(home_dir: Path) -> None:
    inbox = home_dir / "inbox" / "new"
    (inbox / "1764147600.no-from.test").write_bytes((CORPUS / "no-from.eml").read_bytes())
    run = HostRun(home_dir)
    run.tick()
    [task] = run.home.store.tasks(state="pending")
    note = run.home.vault.path(task.note_path)
    moved = run.home.vault.root / "Approved" / note.name
    note.rename(moved)
    run.tick()
    assert run.home.store.get(task.id).state == "pending"
    assert any("has no recipient" in str(i.detail) for i in run.home.store.incidents("refused-change"))
    # The refused move is undone: one note, back in Pending_Approval/ (not a copy there and the
    # person's note left in Approved/, which then read as a duplicate of its own task).
    assert not moved.exists() and note.exists()
    assert not run.home.store.incidents("duplicate-id") and not run.home.store.incidents("note-deleted")
    run.tick()
    assert not moved.exists() and note.exists() and not run.home.store.incidents("duplicate-id")
    # The person adds the address they found in the mail, and approves: now it can be sent.
    note = run.home.vault.path(run.home.store.get(task.id).note_path)
    text = note.read_text()
    assert "\nto: ''\n" in text
    note.write_text(text.replace("\nto: ''\n", "\nto: dana@example.com\n"))
    run.tick()
    assert run.home.store.get(task.id).params["to"] == "dana@example.com"
    assert fte_cli("approve", task.id, "--home", str(home_dir)).exit_code == 0
    run.tick()
    assert run.home.store.get(task.id).state == "done"
    [sent] = (home_dir / "outbox" / "new").iterdir()
    assert email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)["To"] == "dana@example.com"
    run.close()
