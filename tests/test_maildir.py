"""The Maildir channel (fte/io/channels/maildir.py) at its edges, on real folders: the size limit,
what is skipped and said, the cursor at equal file times, and delivery by key. The shared source
and executor contracts (tests/test_channels.py) cover the common promises."""

from __future__ import annotations

import ast
import os
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from fte.io.channels.contract import ExecutionError
from fte.io.channels.maildir import (
    MAX_MESSAGE_BYTES,
    MaildirOutbox,
    MaildirSource,
    maildir_name,
)
from fte.models.tables import Task

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
T0 = 1_764_147_600_000_000_000


def mail(n: int, sender: str = "Ann <ann@example.com>", body: str = "hello") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "me@example.com", f"Q{n}"
    msg["Message-ID"] = f"<m{n}@example.com>"
    msg.set_content(body)
    return bytes(msg)


def drop(inbox: Path, name: str, data: bytes, ns: int, sub: str = "new") -> Path:
    (inbox / sub).mkdir(parents=True, exist_ok=True)
    path = inbox / sub / name
    path.write_bytes(data)
    os.utime(path, ns=(ns, ns))
    return path


def test_the_limit_is_25_mib_and_a_larger_file_is_skipped_unread(tmp_path: Path) -> None:
    assert MAX_MESSAGE_BYTES == 25 * 1024 * 1024
    inbox = tmp_path / "inbox"
    big = drop(inbox, "2.big", mail(2), T0 + 2)
    with open(big, "r+b") as fh:  # a sparse file: its size, not its bytes, is what the limit reads
        fh.truncate(MAX_MESSAGE_BYTES + 1)
    os.utime(big, ns=(T0 + 2, T0 + 2))
    at_limit = mail(3, body="x" * 200_000)
    drop(inbox, "3.large", at_limit, T0 + 3)
    polled = MaildirSource(inbox).poll(None)
    assert [m.message_id for m in polled.items] == ["<m3@example.com>"]
    assert polled.skipped == [("2.big", "larger than 25 MiB")]
    assert polled.notices == ["'2.big' not read: larger than 25 MiB"]
    assert polled.cursor == str(T0 + 3)


def test_a_notice_quotes_at_most_80_characters_of_a_file_name_made_visible(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    name = "1." + "n" * 70 + "\u202e" + "x" * 60  # a bidi override in a hostile name is shown, not obeyed
    big = drop(inbox, name, b"", T0 + 1)
    with open(big, "r+b") as fh:
        fh.truncate(MAX_MESSAGE_BYTES + 1)
    [notice] = MaildirSource(inbox).poll(None).notices
    shown = notice.removesuffix(" not read: larger than 25 MiB")
    quoted = ast.literal_eval(shown)  # the notice holds the name's repr
    assert "\u202e" not in quoted and len(quoted) == 80 and quoted.startswith("1." + "n" * 70)


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    data = mail(1)
    path = drop(inbox, "1.edge", data + b"x" * (MAX_MESSAGE_BYTES - len(data)), T0 + 1)
    assert path.stat().st_size == MAX_MESSAGE_BYTES
    assert [m.message_id for m in MaildirSource(inbox).poll(None).items] == ["<m1@example.com>"]


def test_new_and_cur_are_read_oldest_first_and_hidden_files_and_folders_are_not(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    drop(inbox, "3.c", mail(3), T0 + 3, sub="cur")
    drop(inbox, "1.a", mail(1), T0 + 1)
    drop(inbox, ".2.hidden", mail(2), T0 + 2)
    (inbox / "new" / "folder").mkdir()
    drop(inbox, "4.t", mail(4), T0 + 4, sub="tmp")  # tmp/ is a delivery under way: never read
    polled = MaildirSource(inbox).poll(None)
    assert [m.message_id for m in polled.items] == ["<m1@example.com>", "<m3@example.com>"]
    assert polled.skipped == [] and polled.cursor == str(T0 + 3)


def test_cur_is_read_when_new_is_missing(tmp_path: Path) -> None:
    """A mail client may leave only ``cur/`` (everything read): a missing ``new/`` stops nothing."""
    inbox = tmp_path / "inbox"
    drop(inbox, "1.seen", mail(1), T0 + 1, sub="cur")
    assert [m.message_id for m in MaildirSource(inbox).poll(None).items] == ["<m1@example.com>"]


def test_files_at_the_cursor_are_read_again_and_older_ones_are_not(tmp_path: Path) -> None:
    """Two messages in the same instant: the second lands after the poll; the dedupe on Message-ID
    drops the first's second reading."""
    inbox = tmp_path / "inbox"
    drop(inbox, "0.old", mail(0), T0 - 1)
    drop(inbox, "1.a", mail(1), T0)
    first = MaildirSource(inbox).poll(str(T0))
    assert [m.message_id for m in first.items] == ["<m1@example.com>"] and first.cursor == str(T0)
    drop(inbox, "2.b", mail(2), T0)
    again = MaildirSource(inbox).poll(first.cursor)
    assert [m.message_id for m in again.items] == ["<m1@example.com>", "<m2@example.com>"]


def test_an_empty_or_missing_maildir_keeps_a_cursor_of_zero_or_where_it_was(tmp_path: Path) -> None:
    src = MaildirSource(tmp_path / "absent")
    assert src.poll(None).cursor == "0" and src.poll(None).items == []
    assert src.poll(str(T0)).cursor == str(T0)


def test_a_no_reply_sender_is_skipped_without_a_notice(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    drop(inbox, "1.n", mail(1, sender="noreply@shop.example"), T0 + 1)
    drop(inbox, "2.ok", mail(2), T0 + 2)
    polled = MaildirSource(inbox).poll(None)
    assert [m.message_id for m in polled.items] == ["<m2@example.com>"]
    assert polled.skipped == [("1.n", "no-reply sender")] and polled.notices == []


def outbox_task(to: str = "ann@example.com") -> Task:
    return Task(id="d" * 32, kind="email.reply", body="Thanks!\n",
                params={"to": to, "subject": "Re: Q1", "in_reply_to": "<m1@example.com>"})


def test_a_reply_is_delivered_once_under_its_key_with_nothing_left_in_tmp(tmp_path: Path) -> None:
    box = MaildirOutbox(tmp_path / "out", sender="Me <me@example.com>")
    task = outbox_task()
    key = box.key_for(task)
    assert key == f"<fte.{task.id}@example.com>" and box.lookup(key) is None
    assert box.perform(task, key, NOW).external_id == key
    assert box.perform(task, key, NOW).external_id == key  # the second delivery finds the first
    delivered = list((tmp_path / "out" / "new").iterdir())
    assert [p.name for p in delivered] == [maildir_name(key)] and list((tmp_path / "out" / "tmp").iterdir()) == []
    msg = message_from_bytes(delivered[0].read_bytes())
    assert (msg["Message-ID"], msg["X-FTE-Task"], msg["To"]) == (key, task.id, "ann@example.com")
    assert box.lookup(key) == key


@pytest.mark.parametrize("to", ["", None])
def test_a_reply_without_a_recipient_is_refused_and_nothing_is_delivered(tmp_path: Path, to: str | None) -> None:
    box = MaildirOutbox(tmp_path / "out")
    task = outbox_task()
    task.params = {**task.params, "to": to}
    with pytest.raises(ExecutionError, match="no recipient"):
        box.perform(task, box.key_for(task), NOW)
    assert not (tmp_path / "out" / "new").exists()


def test_a_key_names_a_file_that_stays_in_its_folder() -> None:
    assert maildir_name("<fte.abc@example.com>") == "fte-fte.abc_example.com"
    assert maildir_name("<../../etc/passwd>") == "fte-.._.._etc_passwd"
    assert "/" not in maildir_name("<a/b\\c:d>") and ":" not in maildir_name("<a:2,S>")
