"""WhatsApp through Twilio: the webhook checks X-Twilio-Signature; sends go through twilio's client."""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from fte.io.executors import ExecutionError
from fte.io.whatsapp import WhatsAppSender, WhatsAppSource, make_server
from fte.models.tables import Task

TOKEN = "twilio-auth-token-test"
SID = "AC" + "0" * 32
PUBLIC = "https://fte.example.com/whatsapp"
FORM = {"MessageSid": "SM" + "1" * 32, "AccountSid": SID, "From": "whatsapp:+4915112345678",
        "To": "whatsapp:+14155238886", "Body": "Hello, are you open on Sunday?", "NumMedia": "0",
        "ProfileName": "Ann"}


@pytest.fixture
def webhook(tmp_path: Path):
    server = make_server(tmp_path / "spool", TOKEN, PUBLIC, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server, tmp_path / "spool"
    server.shutdown()
    server.server_close()


def post(server, fields: dict[str, str], signature: str | None) -> int:
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{server.server_address[1]}/whatsapp", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if signature is not None:
        req.add_header("X-Twilio-Signature", signature)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_signed_message_is_spooled_and_read_by_the_source(webhook) -> None:
    server, spool = webhook
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC, FORM)
    assert post(server, FORM, signature) == 200
    polled = WhatsAppSource(spool).poll(None)
    [msg] = polled.items
    assert msg.sid == FORM["MessageSid"] and msg.sender == "whatsapp:+4915112345678" and "Sunday" in msg.body


@pytest.mark.parametrize("signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU="])
def test_an_unsigned_or_forged_message_is_refused(webhook, signature) -> None:
    server, spool = webhook
    assert post(server, FORM, signature) == 403
    assert WhatsAppSource(spool).poll(None).items == []


def test_a_signature_for_other_fields_is_refused(webhook) -> None:
    server, spool = webhook
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC, FORM)
    assert post(server, dict(FORM, Body="Send me the money"), signature) == 403
    assert WhatsAppSource(spool).poll(None).items == []


MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"


def message_json(sid: str, body: str) -> dict:
    return {"sid": sid, "account_sid": SID, "from": "whatsapp:+14155238886", "to": "whatsapp:+4915112345678",
            "body": body, "status": "queued", "direction": "outbound-api", "num_segments": "1",
            "date_created": "Thu, 26 Nov 2026 09:00:00 +0000", "date_sent": None, "error_code": None,
            "error_message": None, "price": None, "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json"}


def page(messages: list[dict]) -> dict:
    return {"messages": messages, "end": max(len(messages) - 1, 0), "first_page_uri": "/x", "next_page_uri": None,
            "page": 0, "page_size": 50, "previous_page_uri": None, "start": 0, "uri": "/x"}


@responses.activate
def test_send_and_lookup_through_twilio() -> None:
    responses.post(MESSAGES, status=201, json=message_json("SM" + "2" * 32, "We are open 10-16."))
    responses.get(MESSAGES, json=page([message_json("SM" + "2" * 32, "We are open 10-16.")]))
    sender = WhatsAppSender(Client(SID, TOKEN), "+14155238886")
    task = Task(id="d" * 32, kind="whatsapp.reply", body="We are open 10-16.", params={"to": "whatsapp:+4915112345678"})
    key = sender.key_for(task)
    done = sender.perform(task, key, datetime(2026, 11, 26, tzinfo=timezone.utc))
    assert done.external_id == "SM" + "2" * 32
    sent = urllib.parse.parse_qs(responses.calls[0].request.body)
    assert sent["From"] == ["whatsapp:+14155238886"] and sent["To"] == ["whatsapp:+4915112345678"]
    assert sent["Body"] == ["We are open 10-16."]
    assert sender.lookup(key) == "SM" + "2" * 32
    other = Task(id="e" * 32, kind="whatsapp.reply", body="Something else", params={"to": "whatsapp:+4915112345678"})
    assert sender.lookup(sender.key_for(other)) is None


@responses.activate
def test_twilio_errors() -> None:
    responses.post(MESSAGES, status=429, json={"code": 20429, "message": "Too Many Requests", "more_info":
                                               "https://www.twilio.com/docs/errors/20429", "status": 429})
    responses.post(MESSAGES, status=400, json={"code": 21211, "message": "The 'To' number is not a valid phone number.",
                                               "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
    sender = WhatsAppSender(Client(SID, TOKEN), "+14155238886")
    task = Task(id="d" * 32, kind="whatsapp.reply", body="Hi", params={"to": "whatsapp:+1"})
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    flags = []
    for _ in range(2):
        with pytest.raises(ExecutionError) as info:
            sender.perform(task, sender.key_for(task), now)
        flags.append(info.value.transient)
    assert flags == [True, False]


@responses.activate
def test_a_whatsapp_message_is_answered_after_approval(home_dir: Path) -> None:
    from click.testing import CliRunner

    from fte.cli import cli
    from fte.daemon import Runner
    from fte.home import open_home
    from fte.io.whatsapp import spool_message

    spool_message(home_dir / "whatsapp", FORM)
    responses.post(MESSAGES, status=201, json=message_json("SM" + "3" * 32, "x"))
    with open_home(home_dir) as h:
        runner = Runner(h, sources=[WhatsAppSource(home_dir / "whatsapp")],
                        executors={"whatsapp.reply": WhatsAppSender(Client(SID, TOKEN), "+14155238886")})
        runner.tick()
        [task] = h.store.tasks(state="pending")
        assert task.kind == "whatsapp.reply" and task.params["to"] == "whatsapp:+4915112345678"
        assert "Sunday" in task.original
        runner.tick()
        assert len(h.store.tasks()) == 1  # the spooled message is not taken twice
        CliRunner().invoke(cli, ["approve", task.id, "--home", str(home_dir)], catch_exceptions=False)
        runner.tick()
        assert h.store.get(task.id).state == "done"
        sent = urllib.parse.parse_qs(responses.calls[-1].request.body)
        assert sent["To"] == ["whatsapp:+4915112345678"]
