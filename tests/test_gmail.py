"""Gmail source and sender through google-api-python-client, against Gmail's wire shapes."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlparse

import pytest
from fakes.gmail import (
    BACKEND_ERROR,
    DAILY_LIMIT,
    INTERNAL_ERROR,
    INVALID_GRANT,
    NO_SCOPE,
    NOT_FOUND,
    PROXY_FORBIDDEN,
    RATE_LIMITED,
    RATE_LIMITED_403,
    TOKEN_URI,
    UNAUTHENTICATED,
    USER_RATE_LIMITED,
    DeadHttp,
    authorized_user,
    ok,
    profile,
    raw_message,
    service,
)

from fte.errors import Unreachable
from fte.io.channels.contract import ExecutionError
from fte.io.channels.gmail import GmailAuthError, GmailSender, GmailSource
from fte.models.tables import Task


def history_added(*ids: str, history_id: str = "6000"):  # noqa: ANN201
    """``history.list``'s answer: one history record adding these messages (thread ``t`` + the id's digits)."""
    added = [{"message": {"id": mid, "threadId": "t" + mid.lstrip("m")}} for mid in ids]
    return ok({"history": [{"id": "5001", "messagesAdded": added}], "historyId": history_id})


def query(http, i: int) -> dict[str, list[str]]:
    return parse_qs(urlparse(http.request_sequence[i][0]).query)


def test_first_run_is_a_bounded_full_sync() -> None:
    svc, http = service([
        profile("5000"),
        ok({"messages": [{"id": "m1", "threadId": "t1"}, {"id": "m2", "threadId": "t2"}, {"id": "m3", "threadId": "t3"}],
            "resultSizeEstimate": 3}),
        raw_message("m1", thread="t1"),
        raw_message("m2", sender="me@example.com", labels=("SENT",)),  # our own sent mail
        raw_message("m3", sender="Shop <no-reply@shop.example>"),
    ])
    polled = GmailSource(svc, query="in:inbox -category:promotions", max_full_sync=50).poll(None)
    assert polled.cursor == "5000" and "read the newest 3 messages" in polled.notices[0]  # said to the person
    assert [i.gmail_id for i in polled.items] == ["m1"]
    assert polled.skipped == [("m2", "our own mail"), ("m3", "no-reply sender")]
    assert polled.items[0].thread_id == "t1" and polled.items[0].mail.sender == "ann@example.com"
    q = query(http, 1)
    assert q["q"] == ["in:inbox -category:promotions"] and q["maxResults"] == ["50"]


def test_incremental_sync_reads_history_since_the_cursor() -> None:
    svc, http = service([
        profile("6000"),
        ok({"history": [{"id": "5001", "messages": [{"id": "m9", "threadId": "t9"}],
                         "messagesAdded": [{"message": {"id": "m9", "threadId": "t9", "labelIds": ["INBOX"]}}]}],
            "nextPageToken": "p2", "historyId": "5500"}),
        ok({"history": [{"id": "5600", "messagesAdded": [{"message": {"id": "m10", "threadId": "t9", "labelIds": ["INBOX"]}}]}],
            "historyId": "6000"}),
        raw_message("m9", thread="t9"),
        raw_message("m10", thread="t9"),
    ])
    polled = GmailSource(svc).poll("5000")
    assert polled.notices == [] and polled.cursor == "6000"
    assert [i.gmail_id for i in polled.items] == ["m9", "m10"]
    first, second = query(http, 1), query(http, 2)
    assert first["startHistoryId"] == ["5000"] and first["historyTypes"] == ["messageAdded"] and first["labelId"] == ["INBOX"]
    assert second["pageToken"] == ["p2"]


def test_an_expired_history_id_falls_back_to_one_full_sync() -> None:
    svc, _http = service([
        profile("9000"),
        NOT_FOUND,
        ok({"messages": [{"id": "m1", "threadId": "t1"}], "resultSizeEstimate": 1}),
        raw_message("m1"),
    ])
    polled = GmailSource(svc).poll("123")
    assert polled.cursor == "9000" and [i.gmail_id for i in polled.items] == ["m1"]
    assert "history of the last cursor expired" in polled.notices[0]


@pytest.mark.parametrize("failure, error", [(RATE_LIMITED, Unreachable), (BACKEND_ERROR, Unreachable),
                                            (USER_RATE_LIMITED, Unreachable), (RATE_LIMITED_403, Unreachable),
                                            (DAILY_LIMIT, Unreachable), (NO_SCOPE, GmailAuthError),
                                            (UNAUTHENTICATED, GmailAuthError)])
def test_errors_map_to_our_tree(failure, error) -> None:
    svc, _http = service([profile("1"), failure])
    with pytest.raises(error):
        GmailSource(svc).poll("1")


def reply_task() -> Task:
    return Task(id="a" * 32, kind="email.reply", body="Thanks, Ann.\n",
                params={"to": "ann@example.com", "subject": "Re: Invoice?", "in_reply_to": "<m1@mail.example.com>",
                        "references": "<m1@mail.example.com>", "thread_id": "t1"})


def test_send_carries_thread_headers_and_key_and_lookup_finds_it() -> None:
    svc, http = service([
        ok({"resultSizeEstimate": 0}),  # the lookup before sending: not sent yet
        ok({"id": "s1", "threadId": "t1", "labelIds": ["SENT"]}),
        ok({"messages": [{"id": "s1", "threadId": "t1"}], "resultSizeEstimate": 1}),
        ok({"resultSizeEstimate": 0}),
        ok({"messages": [{"id": "s1", "threadId": "t1"}], "resultSizeEstimate": 1}),  # a second attempt
    ])
    sender = GmailSender(svc, "me@example.com")
    task = reply_task()
    key = sender.key_for(task)
    done = sender.perform(task, key, datetime(2026, 11, 26, tzinfo=timezone.utc))
    assert done.external_id == "s1"
    url, method, body, _headers = http.request_sequence[1]
    assert method == "POST" and url.startswith("https://gmail.googleapis.com/gmail/v1/users/me/messages/send")
    payload = json.loads(body)
    assert payload["threadId"] == "t1"
    sent = message_from_bytes(base64.urlsafe_b64decode(payload["raw"]), policy=policy.default)
    assert sent["Message-ID"] == key and sent["X-FTE-Task"] == task.id
    assert sent["In-Reply-To"] == "<m1@mail.example.com>" and sent["References"] == "<m1@mail.example.com>"
    assert sent["Subject"] == "Re: Invoice?"
    assert sender.lookup(key) == "s1"
    assert query(http, 2)["q"] == [f"in:sent rfc822msgid:{key}"]
    assert sender.lookup("<other@example.com>") is None
    assert sender.perform(task, key, datetime(2026, 11, 26, tzinfo=timezone.utc)).external_id == "s1"
    assert [m for _u, m, _b, _h in http.request_sequence].count("POST") == 1  # sent once


def test_send_errors_say_whether_a_retry_is_safe() -> None:
    empty = ok({"resultSizeEstimate": 0})
    failures = [RATE_LIMITED, UNAUTHENTICATED, BACKEND_ERROR, USER_RATE_LIMITED, DAILY_LIMIT, NO_SCOPE]
    svc, _ = service([r for failure in failures for r in (empty, failure)])
    sender = GmailSender(svc, "me@example.com")
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    outcomes = []
    for _ in failures:
        with pytest.raises(ExecutionError) as info:
            sender.perform(reply_task(), "<k@example.com>", now)
        outcomes.append((info.value.transient, "fte auth gmail" in str(info.value)))
    assert outcomes == [(True, False), (False, True), (True, False), (True, False), (True, False), (False, True)]


def test_the_daemon_takes_gmail_mail_in_and_threads_the_reply(home_dir) -> None:
    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.states.reconcile import approve

    svc, _ = service([profile("700"), ok({"messages": [{"id": "g1", "threadId": "t7"}]}), raw_message("g1", thread="t7"),
                      profile("701"), ok({"historyId": "701"}), profile("701"), ok({"historyId": "701"})])
    send_svc, send_http = service([ok({"resultSizeEstimate": 0}), ok({"id": "s9", "threadId": "t7", "labelIds": ["SENT"]})])
    with open_home(home_dir) as h:
        runner = Runner(h, sources=[GmailSource(svc)], executors={"email.reply": GmailSender(send_svc, "me@example.com")})
        runner.tick()
        [task] = h.store.tasks(state="pending")
        assert task.source == "gmail" and task.source_ref == "g1" and task.params["thread_id"] == "t7"
        assert h.store.cursor("gmail") == "700"
        runner.tick()  # incremental: history since 700, nothing new
        assert h.store.cursor("gmail") == "701" and len(h.store.tasks()) == 1
        approve(h.lifecycle, runner.trust, task, "ann", "cli")
        runner.tick()
        assert h.store.get(task.id).state == "done"
        payload = json.loads(send_http.request_sequence[1][2])
        assert payload["threadId"] == "t7"


def test_a_gmail_outage_skips_the_source_and_keeps_the_cursor(home_dir) -> None:
    from fte.daemon import Runner
    from fte.host.home import open_home

    svc, _ = service([profile("5"), RATE_LIMITED])
    with open_home(home_dir) as h:
        h.store.set_cursor("gmail", "4", h.lifecycle.clock())
        report = Runner(h, sources=[GmailSource(svc)]).tick()
        assert h.store.cursor("gmail") == "4" and any("busy" in e for e in report.events)


@pytest.mark.parametrize(("answer", "said"), [
    (ok({"id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "raw": "A"}), "unreadable: Error:"),  # not base64
    (ok({"id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "snippet": "hi"}), "unreadable: KeyError:"),  # no raw
])
def test_a_message_that_cannot_be_read_is_skipped_said_and_the_cursor_moves(answer, said: str) -> None:  # noqa: ANN001
    """One message fte cannot read (a reply not as documented) must not fail the poll: it would be
    listed again at every tick and no mail after it would ever be read."""
    svc, _http = service([
        profile("6000"),
        history_added("m1", "m2"),
        answer,
        raw_message("m2", thread="t2"),
    ])
    polled = GmailSource(svc).poll("5000")
    assert [i.gmail_id for i in polled.items] == ["m2"] and polled.cursor == "6000"
    [(mid, why)] = polled.skipped
    assert mid == "m1" and why.startswith(said)
    assert polled.notices == [f"message m1 not read: {why}"]


def test_a_mail_whose_charset_name_holds_a_nul_is_read_as_utf8() -> None:
    """Python refuses such a codec name with ValueError (not LookupError): the mail, not the poll, pays."""
    raw = (b"From: Ann <ann@example.com>\r\nTo: me@example.com\r\nSubject: Hi\r\nMessage-ID: <m1@x>\r\n"
           b"Content-Type: text/plain; charset=\"utf-8\x00evil\"\r\n\r\nCaf\xc3\xa9\r\n")
    svc, _http = service([
        profile("6000"),
        history_added("m1"),
        ok({"id": "m1", "threadId": "t1", "labelIds": ["INBOX"],
            "raw": base64.urlsafe_b64encode(raw).decode().rstrip("=")}),
    ])
    [item] = GmailSource(svc).poll("5000").items
    assert item.mail.text == "Café\n" and item.mail.sender == "ann@example.com"


def test_tokens_are_private_and_a_missing_one_is_a_clear_error(tmp_path) -> None:
    from fte.io.channels.gmail import load_service, save_token, token_path

    with pytest.raises(GmailAuthError, match="fte auth gmail"):
        load_service(tmp_path, "read")
    path = token_path(tmp_path, "read")
    save_token(path, '{"token": "x"}')
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_message_deleted_before_it_was_read_is_skipped_and_the_cursor_moves() -> None:
    """A 404 on messages.get: the history listed it, the person deleted it. Failing the poll would
    list it again at every tick, and nothing after it would ever be read."""
    svc, _http = service([
        profile("6000"),
        history_added("m1", "m2"),
        NOT_FOUND,
        raw_message("m2", thread="t2"),
    ])
    polled = GmailSource(svc).poll("5000")
    assert [i.gmail_id for i in polled.items] == ["m2"] and polled.cursor == "6000"
    assert polled.skipped == [("m1", "deleted before it was read")] and polled.notices == []


def test_mail_from_our_own_address_is_skipped_without_the_sent_label() -> None:
    svc, _http = service([profile("7"), ok({"messages": [{"id": "m1"}, {"id": "m2"}]}),
                          raw_message("m1", sender="Me <me@example.com>"), raw_message("m2")])
    polled = GmailSource(svc).poll(None)
    assert polled.skipped == [("m1", "our own mail")] and [i.gmail_id for i in polled.items] == ["m2"]


def test_raw_messages_of_every_length_are_decoded() -> None:
    """Gmail sends ``raw`` as base64url without padding; each length needs its own."""
    subjects = [f"Invoice {'x' * n}".strip() for n in range(12)]
    svc, _http = service([profile("7"), ok({"messages": [{"id": f"m{n}"} for n in range(12)]}),
                          *(raw_message(f"m{n}", subject=subject) for n, subject in enumerate(subjects))])
    polled = GmailSource(svc, max_full_sync=12).poll(None)
    assert [i.mail.subject for i in polled.items] == subjects


FORBIDDEN_ODD = [({"status": "403", "content-type": "application/json"}, body)
                 for body in ("", '{"error": "forbidden"}', '{"error": []}', '{"error": {"errors": "quota"}}')]


@pytest.mark.parametrize("failure, error", [(INTERNAL_ERROR, Unreachable), (PROXY_FORBIDDEN, GmailAuthError),
                                            *((odd, GmailAuthError) for odd in FORBIDDEN_ODD)])
def test_a_500_is_transient_and_a_403_that_is_not_googles_json_is_about_the_token(failure, error) -> None:
    svc, _http = service([profile("1"), failure])
    with pytest.raises(error):
        GmailSource(svc).poll("1")
    send_svc, _ = service([failure])
    with pytest.raises(ExecutionError) as info:
        GmailSender(send_svc, "me@example.com").perform(reply_task(), "<k@example.com>",
                                                         datetime(2026, 11, 26, tzinfo=timezone.utc))
    assert info.value.transient is (error is Unreachable)


def test_a_connection_refused_is_unreachable_and_a_send_may_be_retried() -> None:
    from googleapiclient.discovery import build

    svc = build("gmail", "v1", http=DeadHttp(), static_discovery=True, cache_discovery=False)
    with pytest.raises(Unreachable, match="not reachable"):
        GmailSource(svc).poll("1")
    with pytest.raises(ExecutionError) as info:
        GmailSender(svc, "me@example.com").perform(reply_task(), "<k@example.com>",
                                                    datetime(2026, 11, 26, tzinfo=timezone.utc))
    assert info.value.transient is True


@pytest.mark.parametrize("purpose, scopes", [("read", ["https://www.googleapis.com/auth/gmail.readonly"]),
                                             ("send", ["https://www.googleapis.com/auth/gmail.send",
                                                       "https://www.googleapis.com/auth/gmail.readonly"])])
def test_a_valid_token_is_used_as_it_is_with_the_purposes_scopes(tmp_path, purpose, scopes) -> None:
    import responses

    from fte.io.channels.gmail import load_service, save_token, token_path

    save_token(token_path(tmp_path, purpose), authorized_user("still-good", "2999-01-01T00:00:00Z"))
    with responses.RequestsMock():  # no call registered: a refresh attempt would fail the test
        svc = load_service(tmp_path, purpose)
    assert svc._http.credentials.token == "still-good" and svc._http.credentials.scopes == scopes


def test_an_expired_token_is_refreshed_and_stored_privately(tmp_path) -> None:
    import responses

    from fte.io.channels.gmail import load_service, save_token, token_path

    path = token_path(tmp_path, "read")
    save_token(path, authorized_user("expired", "2020-01-01T00:00:00Z"))
    with responses.RequestsMock() as wire:
        wire.post(TOKEN_URI, json={"access_token": "fresh", "expires_in": 3599, "token_type": "Bearer",
                                   "scope": "https://www.googleapis.com/auth/gmail.readonly"})
        svc = load_service(tmp_path, "read")
        assert b"grant_type=refresh_token" in wire.calls[0].request.body
    assert svc._http.credentials.token == "fresh"
    assert json.loads(path.read_text())["token"] == "fresh" and path.stat().st_mode & 0o777 == 0o600


def test_a_revoked_token_says_run_fte_auth_and_a_dead_network_is_unreachable(tmp_path) -> None:
    import requests
    import responses

    from fte.io.channels.gmail import load_service, save_token, token_path

    path = token_path(tmp_path, "send")
    save_token(path, authorized_user("expired", "2020-01-01T00:00:00Z"))
    with responses.RequestsMock() as wire:
        wire.post(TOKEN_URI, status=400, json=INVALID_GRANT)
        with pytest.raises(GmailAuthError, match="invalid_grant.*fte auth gmail"):
            load_service(tmp_path, "send")
    with responses.RequestsMock() as wire:
        wire.post(TOKEN_URI, body=requests.ConnectionError("Name or service not known"))
        with pytest.raises(Unreachable, match="token endpoint not reachable"):
            load_service(tmp_path, "send")
    assert json.loads(path.read_text())["token"] == "expired"  # nothing stored from a failed refresh


def test_a_reply_that_crashes_the_client_library_stops_only_that_source(home_dir) -> None:
    """googleapiclient itself raises TypeError on a 403 whose JSON is a list of numbers (its retry
    check indexes it): the Gmail source waits with its cursor unmoved, the Maildir mail still
    becomes a task in the same tick."""
    from hosts import drop_mail

    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.io.channels.registry import build_sources

    svc, _ = service([profile("5"), ({"status": "403", "content-type": "application/json"}, "[1]")])
    drop_mail(home_dir, 1)
    with open_home(home_dir) as h:
        h.store.set_cursor("gmail", "4", h.lifecycle.clock())
        report = Runner(h, sources=[GmailSource(svc), *build_sources(h.settings)]).tick()
        assert h.store.cursor("gmail") == "4" and [t.source for t in h.store.tasks()] == ["maildir"]
        assert any(e.startswith("gmail: failed (TypeError") for e in report.events)


def test_a_message_gmail_fails_to_give_is_not_skipped_the_poll_waits(home_dir) -> None:
    """Only a 404 means "deleted": a 503 on messages.get must not skip the message (it would be lost)."""
    svc, _http = service([
        profile("6000"),
        history_added("m1"),
        BACKEND_ERROR,
    ])
    with pytest.raises(Unreachable):
        GmailSource(svc).poll("5000")


@pytest.mark.parametrize("failure, error", [(UNAUTHENTICATED, GmailAuthError), (NO_SCOPE, GmailAuthError)])
def test_a_refused_message_get_is_about_the_token_not_a_deleted_message(failure, error) -> None:
    svc, _http = service([profile("7"), ok({"messages": [{"id": "m1"}]}), failure])
    with pytest.raises(error):
        GmailSource(svc).poll(None)


def test_mail_after_a_no_reply_sender_is_still_read() -> None:
    svc, _http = service([profile("7"), ok({"messages": [{"id": "m1"}, {"id": "m2"}]}),
                          raw_message("m1", sender="Shop <no-reply@shop.example>"), raw_message("m2")])
    polled = GmailSource(svc).poll(None)
    assert polled.skipped == [("m1", "no-reply sender")] and [i.gmail_id for i in polled.items] == ["m2"]
