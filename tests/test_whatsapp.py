"""WhatsApp through Twilio: the webhook checks X-Twilio-Signature; sends go through twilio's client."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses
from conftest import fte_cli
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from fte.io.channels.contract import ExecutionError
from fte.io.channels.whatsapp import WhatsAppSender, WhatsAppSource, make_server
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


def twilio_list(messages: list[dict]):
    """GET Messages.json as Twilio filters it: ``To``, ``From`` and ``DateSent>`` (a message still
    queued or sending has no ``date_sent``, so a date filter never returns it — Twilio's "Read
    multiple Message resources": "DateSent>" compares the sent date)."""
    def reply(request):  # noqa: ANN001, ANN202
        query = urllib.parse.parse_qs(urllib.parse.urlparse(request.url).query)
        found = [m for m in messages if m["to"] == query.get("To", [m["to"]])[0]
                 and m["from"] == query.get("From", [m["from"]])[0]]
        if "DateSent>" in query:
            found = [m for m in found if m["date_sent"] is not None]
        return 200, {}, json.dumps(page(found))
    return reply


@responses.activate
def test_the_lookup_finds_a_message_still_queued() -> None:
    """After a crash between Twilio's 201 and the record, the message is often still queued: the
    lookup must find it, or the retry sends it twice."""
    queued = message_json("SM" + "3" * 32, "See you at 10.")
    responses.add_callback(responses.GET, MESSAGES, callback=twilio_list([queued]))
    sender = WhatsAppSender(Client(SID, TOKEN), "+14155238886")
    task = Task(id="f" * 32, kind="whatsapp.reply", body="See you at 10.", params={"to": "whatsapp:+4915112345678"})
    assert sender.lookup(sender.key_for(task)) == "SM" + "3" * 32


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

    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.io.channels.whatsapp import spool_message

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
        fte_cli("approve", task.id, "--home", str(home_dir))
        runner.tick()
        assert h.store.get(task.id).state == "done"
        sent = urllib.parse.parse_qs(responses.calls[-1].request.body)
        assert sent["To"] == ["whatsapp:+4915112345678"]


# -- the webhook under hostile and busy use --------------------------------------------------------

def raw_request(server, head: bytes, timeout: float = 3.0) -> bytes:
    """Send ``head`` (and nothing more) and return what the server answers before it closes."""
    import socket

    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return answer
            answer += chunk


@pytest.mark.parametrize("length,status", [("-1", b"400"), ("abc", b"400"), ("99999999999", b"413"), (None, b"411")])
def test_a_bad_content_length_is_answered_before_any_body_is_read(webhook, length: str | None, status: bytes) -> None:
    """`Content-Length: -1` made the server read until the client stopped (before the signature
    check); a non-numeric one dropped the connection without an answer."""
    server, spool = webhook
    header = b"" if length is None else b"Content-Length: " + length.encode() + b"\r\n"
    answer = raw_request(server, b"POST /whatsapp HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n")
    assert answer.split(b" ", 2)[1] == status, answer
    assert WhatsAppSource(spool).poll(None).items == []


def test_idle_and_slow_connections_are_closed(tmp_path: Path) -> None:
    import socket
    import time

    server = make_server(tmp_path / "spool", TOKEN, PUBLIC, port=0, read_timeout=0.3)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as sock:
            sock.sendall(b"POST /whatsapp HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a little")
            assert sock.recv(4096) == b""  # closed by the server, not by our 5 s timeout
        assert time.monotonic() - started < 3
    finally:
        server.shutdown()
        server.server_close()


def test_connections_over_the_bound_get_503_without_a_thread(tmp_path: Path) -> None:
    import socket

    server = make_server(tmp_path / "spool", TOKEN, PUBLIC, port=0, max_connections=3, read_timeout=5)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    idle = [socket.create_connection(("127.0.0.1", server.server_address[1])) for _ in range(3)]
    try:
        import time

        time.sleep(0.3)  # the three are accepted and hold their threads
        assert raw_request(server, b"POST /whatsapp HTTP/1.1\r\nContent-Length: 0\r\n\r\n").startswith(b"HTTP/1.1 503")
    finally:
        for sock in idle:
            sock.close()
    import time

    time.sleep(0.3)
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC, FORM)
    assert post(server, FORM, signature) == 200  # the slots came back
    server.shutdown()
    server.server_close()


def test_a_burst_of_valid_messages_is_all_accepted(webhook) -> None:
    """200 signed messages at once: the backlog was 5 and 150 of them were reset."""
    from concurrent.futures import ThreadPoolExecutor

    server, spool = webhook
    forms = [dict(FORM, MessageSid=f"SM{i:032d}") for i in range(200)]
    validator = RequestValidator(TOKEN)
    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(lambda f: post(server, f, validator.compute_signature(PUBLIC, f)), forms))
    assert statuses == [200] * 200
    assert len(WhatsAppSource(spool).poll(None).items) == 200


def test_the_spool_is_emptied_once_messages_are_tasks(home_dir: Path) -> None:
    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.io.channels.whatsapp import spool_message

    for i in range(5):
        spool_message(home_dir / "whatsapp", dict(FORM, MessageSid=f"SM{i:032d}"))
    with open_home(home_dir) as h:
        runner = Runner(h, sources=[WhatsAppSource(home_dir / "whatsapp")], executors={})
        runner.tick()
        assert len(h.store.tasks()) == 5
        assert list((home_dir / "whatsapp" / "new").iterdir()) == []  # each tick reads only what is new
        spool_message(home_dir / "whatsapp", FORM | {"MessageSid": f"SM{0:032d}"})  # Twilio retried one
        runner.tick()
        assert len(h.store.tasks()) == 5 and list((home_dir / "whatsapp" / "new").iterdir()) == []


def test_serve_is_refused_on_a_cloud_home_and_when_the_source_is_off(tmp_path: Path) -> None:

    from fte.host.home import init_home

    cloud, local = tmp_path / "cloud", tmp_path / "local"
    init_home(cloud, role="cloud", agent="cloud")
    init_home(local, role="local", agent="laptop")
    for home, says in ((cloud, "runs on a local host"), (local, "[sources.whatsapp] enabled = true")):
        (home / ".env").write_text(f"FTE_TWILIO_AUTH_TOKEN={TOKEN}\n")
        r = fte_cli("whatsapp", "serve", "--port", "0", "--public-url", PUBLIC, "--home", str(home), code=2)
        assert r.exit_code == 2 and says in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1


# -- written from a mutation run's survivors (docs/RELIABILITY.md) ----------------------------------

def test_a_spool_file_that_is_not_a_message_is_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    from fte.io.channels.whatsapp import spool_message

    spool = tmp_path / "spool"
    spool_message(spool, FORM)
    for name, data in (("AAA-broken.json", b"{not json"), ("AAB-list.json", b"[1, 2]"),
                       ("AAC-nosid.json", b'{"From": "x"}')):
        (spool / "new" / name).write_bytes(data)
    (spool / "new" / "AAD-folder.json").mkdir()
    polled = WhatsAppSource(spool).poll(None)
    assert [m.sid for m in polled.items] == [FORM["MessageSid"]]
    assert [name for name, _why in polled.skipped] == ["AAA-broken.json", "AAB-list.json", "AAC-nosid.json",
                                                       "AAD-folder.json"]
    assert (spool / "new" / "AAA-broken.json").exists()  # left for a person


def test_the_key_is_a_wire_format_and_a_malformed_key_is_not_found() -> None:
    """Keys are stored with each attempt and looked up after an upgrade: their shape is fixed."""
    import hashlib

    sender = WhatsAppSender(Client(SID, TOKEN), "+14155238886")
    task = Task(id="d" * 32, kind="whatsapp.reply", body="  We are open 10-16.\n", params={"to": "whatsapp:+4915112345678"})
    digest = hashlib.sha256(b"We are open 10-16.").hexdigest()[:16]
    assert sender.key_for(task) == f"wa:whatsapp:+4915112345678:{digest}"
    with responses.RequestsMock():  # nothing is asked of Twilio for a key it could not have made
        assert sender.lookup("wa:junk") is None and sender.lookup("sms:+1:abc") is None


def test_a_long_message_sid_is_spooled_and_forgotten_under_the_same_name(tmp_path: Path) -> None:
    from fte.io.channels.whatsapp import spool_message

    spool = tmp_path / "spool"
    sid = "SM" + "a" * 70 + "/../x"
    path = spool_message(spool, dict(FORM, MessageSid=sid))
    assert path.parent == spool / "new" and len(path.stem) == 64
    WhatsAppSource(spool).forget([sid])
    assert list((spool / "new").iterdir()) == []


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(webhook) -> None:
    from fte.io.channels.whatsapp import MAX_BODY

    server, spool = webhook
    validator = RequestValidator(TOKEN)
    for extra, status in ((0, 200), (1, 413)):
        form = dict(FORM, Body="")
        form["Body"] = "x" * (MAX_BODY + extra - len(urllib.parse.urlencode(form)))
        assert len(urllib.parse.urlencode(form)) == MAX_BODY + extra
        assert post(server, form, validator.compute_signature(PUBLIC, form)) == status
    assert MAX_BODY == 64 * 1024


def test_a_refusal_says_the_connection_is_closed(webhook) -> None:
    """Refused before the body is read: the unread body must not be taken for a next request."""
    server, _spool = webhook
    refused = raw_request(server, b"POST /whatsapp HTTP/1.1\r\nHost: x\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 411") and b"\r\nConnection: close\r\n" in refused


def test_a_client_gone_mid_answer_is_not_printed_and_a_bug_is(tmp_path: Path, capsys) -> None:
    server = make_server(tmp_path / "spool", TOKEN, PUBLIC, port=0)
    try:
        for error in (ConnectionResetError(104, "Connection reset by peer"), ValueError("a bug")):
            server.handle_error(error)
        printed = capsys.readouterr().err
        assert "ValueError: a bug" in printed and "ConnectionResetError" not in printed
    finally:
        server.server_close()


@pytest.mark.parametrize("attacker", ["127.0.0.1", "127.0.0.2"], ids=["same-address", "own-address"])
def test_genuine_requests_are_served_while_300_slow_clients_trickle(tmp_path: Path, attacker: str) -> None:
    """300 connections sending a header byte every 0.2 s (as the attack did, faster) beside signed
    requests: with a thread per connection, 256 trickling clients held every slot and each genuine
    request got 503 while they went on. Each one also dies at the request deadline, however it trickles.
    From an address of its own (127.0.0.2) the attacker gets only its share of slots (the rest 503 at
    once); from the genuine clients' own address (a proxy in front) the slots are many enough."""
    import socket
    import time

    per_client = 300 if attacker == "127.0.0.1" else 64
    server = make_server(tmp_path / "spool", TOKEN, PUBLIC, port=0, read_timeout=3.0, max_per_client=per_client + 20)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    slow = [socket.create_connection(("127.0.0.1", port), source_address=(attacker, 0)) for _ in range(300)]
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            for sock in slow:
                try:
                    sock.send(b"X")
                except OSError:
                    pass
            stop.wait(0.2)

    threading.Thread(target=trickle, daemon=True).start()
    validator = RequestValidator(TOKEN)
    try:
        started = time.monotonic()
        for i in range(20):
            form = dict(FORM, MessageSid=f"SM{i:032d}")
            assert post(server, form, validator.compute_signature(PUBLIC, form)) == 200
        assert time.monotonic() - started < 3.0  # all served while the 300 were still trickling
        assert len(WhatsAppSource(tmp_path / "spool").poll(None).items) == 20
        time.sleep(3.5)  # past the deadline: every trickling connection is closed by the server
        refused = 0
        for sock in slow:
            sock.settimeout(2)
            try:
                answer = sock.recv(200)
                if answer.startswith(b"HTTP/1.1 503"):  # over the address's share: turned away at once
                    refused += 1
                    answer = sock.recv(200) if b"\r\n\r\n" not in answer else b""
                assert answer == b"" or answer.startswith(b"too many"), answer
            except ConnectionResetError:
                pass
        assert refused == max(0, 300 - (per_client + 20))
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        server.shutdown()
        server.server_close()


def test_one_address_gets_its_share_of_connections_and_no_more(tmp_path: Path) -> None:
    import socket

    server = make_server(tmp_path / "spool", TOKEN, PUBLIC, port=0, read_timeout=5.0, max_per_client=4)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    held = [socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0)) for _ in range(4)]
    try:
        extra = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
        extra.settimeout(2)
        assert extra.recv(100).startswith(b"HTTP/1.1 503")
        extra.close()
        form = dict(FORM, MessageSid="SM" + "7" * 32)
        assert post(server, form, RequestValidator(TOKEN).compute_signature(PUBLIC, form)) == 200  # another address
        held.pop().close()  # a slot of 127.0.0.2 freed: it may connect again
        time.sleep(0.2)
        again = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
        again.settimeout(0.5)
        with pytest.raises(TimeoutError):
            again.recv(100)  # held open, waiting for its request: not refused
        again.close()
    finally:
        for sock in held:
            sock.close()
        server.shutdown()
        server.server_close()


def test_a_signed_message_without_a_sid_is_a_bad_request_and_spools_nothing(webhook) -> None:
    server, spool = webhook
    form = {k: v for k, v in FORM.items() if k != "MessageSid"}
    assert post(server, form, RequestValidator(TOKEN).compute_signature(PUBLIC, form)) == 400
    assert WhatsAppSource(spool).poll(None).items == []


def test_the_task_made_of_a_message_answers_its_sender() -> None:
    from fte.io.channels.whatsapp import WhatsAppMessage

    body = "Hello, are you open on Sunday? We would like to come by with the whole family, six of us."
    fields = WhatsAppMessage("SM1", "whatsapp:+4915112345678", "whatsapp:+14155238886", body).task_fields("whatsapp")
    assert fields == {"kind": "whatsapp.reply", "ref": "SM1", "params": {"to": "whatsapp:+4915112345678"},
                      "title": f"WhatsApp from whatsapp:+4915112345678: {body[:60]}",
                      "original": f"whatsapp:+4915112345678 wrote:\n\n{body}", "actor": "whatsapp:+4915112345678"}
    assert fields["title"].endswith("come by with")  # the first 60 characters of the text


def test_a_signed_message_with_empty_fields_is_accepted(webhook) -> None:
    """Twilio signs every parameter it sends, the empty ones too (a picture with no caption has
    ``Body=``): dropping blank values would refuse a genuine message."""
    server, spool = webhook
    form = dict(FORM, Body="", ProfileName="")
    assert post(server, form, RequestValidator(TOKEN).compute_signature(PUBLIC, form)) == 200
    [msg] = WhatsAppSource(spool).poll(None).items
    assert msg.body == ""


def test_a_body_shorter_than_its_length_is_a_bad_request(webhook) -> None:
    import socket

    server, spool = webhook
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as sock:
        sock.sendall(b"POST /whatsapp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nMessageSid=SM1")
        sock.shutdown(socket.SHUT_WR)  # the client says it has sent everything
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"400" and b"shorter" in answer
    assert WhatsAppSource(spool).poll(None).items == []


def test_forgetting_a_message_twice_is_harmless(tmp_path: Path) -> None:
    from fte.io.channels.whatsapp import spool_message

    spool_message(tmp_path, FORM)
    source = WhatsAppSource(tmp_path)
    source.forget([FORM["MessageSid"]])
    source.forget([FORM["MessageSid"]])  # a crash between the two, then the next tick
    assert source.poll(None).items == []


@pytest.mark.parametrize("status", [500, 503])
@responses.activate
def test_a_5xx_is_transient_and_a_lookup_that_fails_is_retried(status: int) -> None:
    error = {"code": 20500, "message": "Internal Server Error", "more_info": "https://www.twilio.com/docs/errors/20500",
             "status": status}
    responses.post(MESSAGES, status=status, json=error)
    responses.get(MESSAGES, status=status, json=error)
    sender = WhatsAppSender(Client(SID, TOKEN), "+14155238886")
    task = Task(id="d" * 32, kind="whatsapp.reply", body="Hi", params={"to": "whatsapp:+1"})
    with pytest.raises(ExecutionError) as sent:
        sender.perform(task, sender.key_for(task), datetime(2026, 11, 26, tzinfo=timezone.utc))
    with pytest.raises(ExecutionError) as looked:
        sender.lookup(sender.key_for(task))
    assert sent.value.transient is True and looked.value.transient is True
