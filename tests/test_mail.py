"""Mail as plain values (fte/io/channels/mail.py), function by function: what a reply is made of,
which senders are never answered, how a body and its headers are read, and the exact headers a
reply carries. tests/test_mail_corpus.py holds the real-world shapes; these pin each rule."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from fte.io.channels.mail import (
    MAX_TEXT,
    IncomingMail,
    UnsafeMail,
    build_reply,
    message_id_for,
    parse_mail,
    sender_domain,
)

AT = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)


def incoming(subject: str = "Invoice", refs: tuple[str, ...] = (), name: str = "Ann Lee") -> IncomingMail:
    return IncomingMail(message_id="<m1@example.com>", sender="ann@example.com", sender_name=name,
                        to=("me@example.com",), subject=subject, date="Fri, 27 Nov 2026 10:00:00 +0000",
                        text="  Can you send the invoice?\n\n", references=refs)


# -- the reply's parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "reply"), [
    ("Invoice", "Re: Invoice"),
    ("Re: Invoice", "Re: Invoice"),
    ("RE: Invoice", "RE: Invoice"),
    ("re:Invoice", "re:Invoice"),
    ("Fwd: Invoice", "Re: Fwd: Invoice"),
    ("Regarding the invoice", "Re: Regarding the invoice"),
    ("", "Re:"),
])
def test_the_subject_is_answered_with_one_re(subject: str, reply: str) -> None:
    assert incoming(subject).reply_params()["subject"] == reply


def test_the_reply_threads_under_the_message_and_its_references() -> None:
    assert incoming().reply_params() == {"to": "ann@example.com", "subject": "Re: Invoice",
                                         "in_reply_to": "<m1@example.com>", "references": "<m1@example.com>"}
    refs = incoming(refs=("<r1@x>", "<r2@x>")).reply_params()["references"]
    assert refs == "<r1@x> <r2@x> <m1@example.com>"


def test_the_quoted_original_names_the_sender_as_the_mail_did() -> None:
    assert incoming().quoted_original() == ("From: Ann Lee <ann@example.com>\nDate: Fri, 27 Nov 2026 10:00:00 +0000\n"
                                            "Subject: Invoice\n\nCan you send the invoice?")
    assert incoming(name="").quoted_original().startswith("From: ann@example.com\nDate:")


def test_a_mail_becomes_an_email_reply_task_whose_extra_params_join_the_reply() -> None:
    fields = incoming().task_fields("gmail", thread_id="t9")
    assert fields == {"kind": "email.reply", "ref": "<m1@example.com>", "title": "Invoice",
                      "params": {"to": "ann@example.com", "subject": "Re: Invoice", "in_reply_to": "<m1@example.com>",
                                 "references": "<m1@example.com>", "thread_id": "t9"},
                      "original": incoming().quoted_original(), "actor": "gmail:ann@example.com"}
    assert incoming(subject="").task_fields("maildir")["title"] == "(no subject)"


@pytest.mark.parametrize(("sender", "never_answered"), [
    ("noreply@shop.example", True), ("no-reply@shop.example", True), ("no_reply@x.example", True),
    ("no.reply@x.example", True), ("NoReply@x.example", True), ("do-not-reply@x.example", True),
    ("donotreply@x.example", True), ("mailer-daemon@x.example", True), ("postmaster@x.example", True),
    ("bounces+123@x.example", True), ("ann@example.com", False), ("nora.reply@x.example", False),
    ("replies@x.example", False),
])
def test_automatic_senders_are_never_answered(sender: str, never_answered: bool) -> None:
    mail = IncomingMail("<m@x>", sender, "", (), "s", "", "")
    assert mail.is_no_reply is never_answered


# -- reading a mail --------------------------------------------------------------------------------


def raw(headers: str, body: bytes = b"Hello\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode("utf-8") + b"\r\n" + body


@pytest.mark.parametrize(("from_", "name", "address"), [
    ("Ann Lee <Ann@Example.COM>", "Ann Lee", "ann@example.com"),
    ("ann@example.com", "", "ann@example.com"),
    ("=?utf-8?q?Andr=C3=A9?= <andre@example.fr>", "André", "andre@example.fr"),
    ("Ann <not an address>", "Ann", ""),
    ("Ann <ann@@example.com>", "Ann", ""),
    ("", "", ""),
])
def test_the_sender_is_a_bare_lowercase_address_or_nothing(from_: str, name: str, address: str) -> None:
    mail = parse_mail(raw(f"From: {from_}\nSubject: s\nMessage-ID: <m@x>\n"))
    assert (mail.sender_name, mail.sender) == (name, address)


def test_headers_are_unfolded_decoded_and_stripped_of_control_characters() -> None:
    mail = parse_mail(raw("From: a@x.example\nSubject: =?utf-8?q?Caf=C3=A9?=\n  order\t\tfor\n Friday\n"
                          "Message-ID: <m@x>\nReferences: <r1@x>\n <r2@x>\nTo: Me <me@x.example>, you@y.example\n"))
    assert mail.subject == "Café order for Friday"
    assert mail.references == ("<r1@x>", "<r2@x>") and mail.to == ("me@x.example", "you@y.example")
    assert parse_mail(raw("From: a@x.example\nSubject: =?utf-8?q?a=0D=0Ab=07c?=\n")).subject == "a b c"


@pytest.mark.parametrize("word", ["=?x-unknown?q?Caf=E9?=", "=?utf-8?b?////?=", "=?us-ascii?q?caf=E9?=",
                                  "=?utf-8?b?A?=", "=?utf-8?b?Q?="])
def test_an_encoded_word_that_cannot_be_decoded_is_kept_as_written(word: str) -> None:
    """An unknown charset (LookupError), bytes its charset refuses (UnicodeDecodeError), base64
    that does not decode (the stdlib's HeaderParseError): the subject is the encoded word itself,
    and the mail is still read."""
    mail = parse_mail(raw(f"From: a@x.example\nSubject: Order {word}\nMessage-ID: <m@x>\n"))
    assert mail.subject == f"Order {word}" and mail.text == "Hello\n"


def test_an_encoded_word_whose_charset_name_holds_a_raw_byte_is_kept_as_written() -> None:
    """``=?ut\\x80f-8?q?hi?=``: the stdlib's CharsetError, which failed the whole mail (a Maildir
    skipped it as unreadable; the person never saw it)."""
    mail = parse_mail(b"From: a@x.example\r\nSubject: =?ut\x80f-8?q?hi?=\r\nMessage-ID: <m@x>\r\n\r\nHello\r\n")
    assert mail.subject == "=?ut\ufffdf-8?q?hi?=" and mail.text == "Hello\n" and mail.sender == "a@x.example"


def test_incoming_mail_is_a_plain_frozen_value() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        incoming().sender = "mallory@evil.example"  # type: ignore[misc]


def test_a_mail_without_to_has_no_recipients_and_one_without_a_message_id_gets_one_from_its_bytes() -> None:
    data = raw("From: a@x.example\nSubject: s\n")
    mail = parse_mail(data)
    assert mail.to == () and mail.references == ()
    assert mail.message_id == f"<sha256.{hashlib.sha256(data).hexdigest()[:32]}@fte.invalid>"
    assert parse_mail(data + b"more").message_id != mail.message_id


def multipart(*parts: tuple[str, str, str | None]) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "a@x.example", "s", "<m@x>"
    msg.set_content("placeholder")
    msg.make_mixed()
    msg.set_payload([])
    for subtype, text, disposition in parts:
        part = EmailMessage()
        part.set_content(text, subtype=subtype)
        if disposition:
            part["Content-Disposition"] = disposition
        msg.attach(part)
    return bytes(msg)


def test_the_body_is_the_first_plain_part_that_is_not_an_attachment() -> None:
    data = multipart(("plain", "notes.txt content\n", 'attachment; filename="notes.txt"'),
                     ("html", "<p>Hi <b>there</b></p>\n", None), ("plain", "Hi there\n", None),
                     ("plain", "second plain\n", None))
    assert parse_mail(data).text == "Hi there\n"


def test_without_a_plain_part_the_first_html_part_is_read_without_its_tags() -> None:
    data = multipart(("html", "<p>Hi <b>there</b></p>\n", None), ("html", "<p>other</p>\n", None))
    assert parse_mail(data).text == "Hi there\n"


def test_other_text_parts_are_neither_the_plain_nor_the_html_one() -> None:
    """``text/x-vcard`` sorts after ``text/plain`` and ``text/html``: only those two types are read."""
    data = multipart(("x-vcard", "BEGIN:VCARD\n", None), ("plain", "Hi there\n", None))
    assert parse_mail(data).text == "Hi there\n"
    assert parse_mail(multipart(("x-vcard", "BEGIN:VCARD\n", None))).text == ""
    assert parse_mail(multipart(("rfc822-headers", "X: y\n", None), ("html", "<p>Hi</p>\n", None))).text == "Hi\n"


def test_a_mail_with_no_text_part_has_an_empty_body() -> None:
    data = multipart(("plain", "only an attachment\n", "attachment"))
    assert parse_mail(data).text == ""


@pytest.mark.parametrize(("charset", "body", "text"), [
    ("iso-8859-1", "Grüße".encode("latin-1"), "Grüße"),
    ("x-unknown-charset", "Grüße".encode("utf-8"), "Grüße"),
    (None, "Grüße".encode("utf-8"), "Grüße"),
])
def test_the_body_is_decoded_with_its_charset_else_as_utf8(charset: str | None, body: bytes, text: str) -> None:
    ctype = f"text/plain; charset={charset}" if charset else "text/plain"
    mail = parse_mail(raw(f"From: a@x.example\nContent-Type: {ctype}\nContent-Transfer-Encoding: 8bit\n",
                          body + b"\r\nline two\r\n"))
    assert mail.text == f"{text}\nline two\n"


def test_the_body_is_cut_at_100_000_characters() -> None:
    assert MAX_TEXT == 100_000
    assert len(parse_mail(raw("From: a@x.example\n", b"x" * 100_010)).text) == 100_000
    assert len(parse_mail(raw("From: a@x.example\n", b"x" * 99_999)).text) == 99_999


# -- writing a reply -------------------------------------------------------------------------------


def reply(**params: str):  # noqa: ANN201
    base = {"to": "Ann Lee <ann@example.com>", "subject": "Re: Invoice", "in_reply_to": "<m1@example.com>",
            "references": "<r1@x> <m1@example.com>"}
    msg = build_reply(task_id="t" * 32, sender="Me <me@example.com>", params=base | params, body="Sure, attached.\n",
                      message_id="<fte.t@example.com>", date=AT)
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def test_a_reply_carries_exactly_its_headers() -> None:
    sent = reply()
    assert [(k, str(v)) for k, v in sent.items() if k not in ("MIME-Version", "Content-Type",
                                                                "Content-Transfer-Encoding")] == [
        ("From", "Me <me@example.com>"), ("To", "Ann Lee <ann@example.com>"), ("Subject", "Re: Invoice"),
        ("Date", "Sat, 28 Nov 2026 09:30:00 +0000"), ("Message-ID", "<fte.t@example.com>"),
        ("In-Reply-To", "<m1@example.com>"), ("References", "<r1@x> <m1@example.com>"), ("X-FTE-Task", "t" * 32)]
    assert sent.get_content() == "Sure, attached.\n" and sent.get_content_charset() == "utf-8"
    assert b"\nSubject: Re: Invoice\n" in sent.as_bytes()  # ASCII as written, not an encoded word


def test_a_reply_without_threading_has_no_threading_headers() -> None:
    sent = reply(in_reply_to="", references="")
    assert sent["In-Reply-To"] is None and sent["References"] is None


def test_non_ascii_headers_are_encoded_and_read_back_the_same() -> None:
    sent = reply(subject="Re: Grüße", to="Jürgen <juergen@example.de>")
    raw_bytes = sent.as_bytes()
    assert b"Gr\xc3\xbc" not in raw_bytes.split(b"\n\n", 1)[0]  # RFC 2047 in the header block, never raw
    assert str(sent["Subject"]) == "Re: Grüße" and sent["To"].addresses[0].display_name == "Jürgen"


@pytest.mark.parametrize("key", ["in_reply_to", "references"])
def test_threading_headers_with_a_line_break_are_refused(key: str) -> None:
    with pytest.raises(UnsafeMail, match=f"the reply's {key} holds a line break"):
        reply(**{key: "<m1@example.com>\r\nBcc: victim@example.org"})


def test_a_refusal_quotes_at_most_80_characters_of_the_value() -> None:
    value = "<m1@example.com>\n" + "x" * 200
    with pytest.raises(UnsafeMail) as info:
        reply(references=value)
    assert str(info.value).endswith(repr(value[:80]))


@pytest.mark.parametrize("to", ["", "ann", "Ann Lee", "<>"])
def test_a_reply_without_an_address_is_refused(to: str) -> None:
    with pytest.raises(UnsafeMail, match="no recipient address"):
        reply(to=to)


@pytest.mark.parametrize(("sender", "domain"), [
    ("Ann Lee <ann@example.com>", "example.com"), ("ann@example.com (Ann Lee)", "example.com"),
    ("ann@Example.COM", "Example.COM"), ("fte@localhost", "localhost"),
    ("no address here", "localhost"), ("ann@bad_domain!", "localhost"), ("", "localhost"),
    ("ann@" + "a" * 254, "localhost"), ("ann@" + "a" * 253, "a" * 253),
])
def test_the_sender_domain_names_the_message_ids(sender: str, domain: str) -> None:
    assert sender_domain(sender) == domain
    assert message_id_for("abc", sender_domain(sender)) == f"<fte.abc@{domain}>"
