"""X through tweepy, against the v2 API's wire shapes (``responses`` intercepts requests)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import responses
import tweepy
from conftest import fte_cli
from fakes.x import FakeX

from fte.io.channels.contract import ExecutionError
from fte.io.channels.x import XReplier, XSource
from fte.models.tables import Task

API = "https://api.twitter.com/2"
MENTIONS = f"{API}/users/42/mentions"


def mentions_page(ids: list[str], newest: str | None, next_token: str | None = None) -> dict:
    """One page of GET /2/users/:id/mentions (X API v2 reference; "Pagination": ``meta.next_token``)."""
    return {
        "data": [{"id": i, "text": f"@me question {i}", "author_id": "7", "conversation_id": i,
                  "edit_history_tweet_ids": [i]} for i in ids],
        "includes": {"users": [{"id": "7", "name": "Ann", "username": "ann"}]},
        "meta": {"result_count": len(ids), **({"newest_id": ids[0], "oldest_id": ids[-1]} if ids else {}),
                 **({"next_token": next_token} if next_token else {})},
    }


def ids(top: int, n: int) -> list[str]:
    return [str(top - k) for k in range(n)]  # newest first, as X answers


@responses.activate
def test_more_mentions_than_a_page_are_all_read_and_since_id_moves_last() -> None:
    responses.get(MENTIONS, json=mentions_page(ids(350, 100), "350", "p2"))
    responses.get(MENTIONS, json=mentions_page(ids(250, 100), "250", "p3"))
    responses.get(MENTIONS, json=mentions_page(ids(150, 50), "150"))
    polled = XSource(tweepy.Client(bearer_token="b"), "42").poll(json.dumps({"since_id": "100"}))
    assert [m.tweet_id for m in polled.items] == [str(i) for i in range(101, 351)]
    assert json.loads(polled.cursor) == {"since_id": "350"}
    urls = [c.request.url for c in responses.calls]
    assert all("since_id=100" in u for u in urls)
    assert "pagination_token=p2" in urls[1] and "pagination_token=p3" in urls[2]


@responses.activate
def test_a_sweep_cut_short_goes_on_next_time_and_skips_nothing() -> None:
    now = [1_764_000_000.0]
    responses.get(MENTIONS, json=mentions_page(ids(350, 100), "350", "p2"))
    responses.get(MENTIONS, status=429, json={"title": "Too Many Requests", "detail": "Too Many Requests",
                                              "type": "about:blank", "status": 429},
                  headers={"x-rate-limit-reset": str(int(now[0]) + 60)})
    responses.get(MENTIONS, json=mentions_page(ids(250, 100), "250", "p3"))
    responses.get(MENTIONS, json=mentions_page(ids(150, 50), "150"))
    src = XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: now[0], max_pages=1)
    first = src.poll(json.dumps({"since_id": "100"}))
    assert len(first.items) == 100 and json.loads(first.cursor) == {"since_id": "100", "resume": "p2", "newest": "350"}
    limited = src.poll(first.cursor)
    assert limited.items == [] and json.loads(limited.cursor)["resume"] == "p2"
    now[0] += 61
    second = src.poll(limited.cursor)
    assert [m.tweet_id for m in second.items] == [str(i) for i in range(151, 251)]
    third = src.poll(second.cursor)
    assert [m.tweet_id for m in third.items] == [str(i) for i in range(101, 151)]
    assert json.loads(third.cursor) == {"since_id": "350"}
    assert "pagination_token=p2" in responses.calls[2].request.url


@responses.activate
def test_mentions_since_the_cursor() -> None:
    responses.get(MENTIONS, json=mentions_page(["102", "101"], "102"))
    responses.get(MENTIONS, json={"meta": {"result_count": 0}})
    src = XSource(tweepy.Client(bearer_token="bearer-test"), "42")
    polled = src.poll(None)
    assert [m.tweet_id for m in polled.items] == ["101", "102"] and polled.items[0].author == "ann"
    assert json.loads(polled.cursor) == {"since_id": "102"}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer bearer-test"
    again = src.poll(polled.cursor)
    assert again.items == [] and json.loads(again.cursor) == {"since_id": "102"}
    assert "since_id=102" in responses.calls[1].request.url


@responses.activate
def test_a_429_waits_until_the_reset_without_sleeping() -> None:
    now = [1_764_000_000.0]
    responses.get(MENTIONS, status=429, json={"title": "Too Many Requests", "detail": "Too Many Requests",
                                              "type": "about:blank", "status": 429},
                  headers={"x-rate-limit-reset": str(int(now[0]) + 600), "x-rate-limit-remaining": "0"})
    responses.get(MENTIONS, json=mentions_page(["200"], "200"))
    src = XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: now[0])
    first = src.poll(json.dumps({"since_id": "150"}))
    assert first.items == [] and json.loads(first.cursor)["wait_until"] == now[0] + 600
    assert json.loads(first.cursor)["since_id"] == "150"
    skipped = src.poll(first.cursor)
    assert skipped.items == [] and len(responses.calls) == 1  # not even asked before the reset
    now[0] += 601
    later = src.poll(first.cursor)
    assert [m.tweet_id for m in later.items] == ["200"]


def reply_task(target: str = "101") -> Task:
    return Task(id="b" * 32, kind="x.reply", body="Thanks for asking!", params={"in_reply_to_tweet_id": target})


def user_client() -> tweepy.Client:
    return tweepy.Client(consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="as")


@responses.activate
def test_reply_and_lookup() -> None:
    responses.post(f"{API}/tweets", status=201, json={"data": {"id": "555", "text": "Thanks for asking!",
                                                               "edit_history_tweet_ids": ["555"]}})
    responses.get(f"{API}/users/42/tweets", json={"data": [{"id": "555", "text": "Thanks for asking!",
                                                            "referenced_tweets": [{"type": "replied_to", "id": "101"}],
                                                            "edit_history_tweet_ids": ["555"]}],
                                                  "meta": {"result_count": 1}})
    replier = XReplier(user_client(), "42")
    task = reply_task()
    key = replier.key_for(task)
    assert replier.perform(task, key, datetime(2026, 11, 26, tzinfo=timezone.utc)).external_id == "555"
    body = json.loads(responses.calls[0].request.body)
    assert body == {"text": "Thanks for asking!", "reply": {"in_reply_to_tweet_id": "101"}}
    assert responses.calls[0].request.headers["Authorization"].startswith("OAuth ")
    assert replier.lookup(key) == "555"
    assert replier.lookup("x-reply-to:999") is None


@responses.activate
def test_reply_errors() -> None:
    responses.post(f"{API}/tweets", status=503, json={"title": "Service Unavailable", "status": 503,
                                                      "detail": "Service Unavailable", "type": "about:blank"})
    responses.post(f"{API}/tweets", status=403, json={"title": "Forbidden", "status": 403, "type": "about:blank",
                                                      "detail": "You are not allowed to create a Tweet with duplicate content."})
    replier = XReplier(user_client(), "42")
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    with pytest.raises(ExecutionError) as first:
        replier.perform(reply_task(), "k", now)
    with pytest.raises(ExecutionError, match="reply as a duplicate") as second:
        replier.perform(reply_task(), "k", now)
    assert first.value.transient and not second.value.transient
    # Refused before anything is sent, counted as X counts (CJK weighs 2): 141 characters are 282.
    for body in ("x" * 281, "日" * 141):
        with pytest.raises(ExecutionError, match="1-280") as info:
            replier.perform(Task(id="c" * 32, kind="x.reply", body=body, params={"in_reply_to_tweet_id": "1"}), "k", now)
        assert not info.value.transient
    assert len(responses.calls) == 2


# -- posts (x.post) -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "length"), [
    ("a" * 280, 280),
    ("日" * 140, 280),                                   # CJK weighs 2 (twitter-text v3)
    ("see https://example.com/" + "x" * 200 + " now", 31),  # any link weighs 23 (its t.co link)
    ("👍🏽", 2), ("👨‍👩‍👧", 2), ("e\u0301", 1),           # an emoji sequence 2; NFC first
    # Each emoji weighs 2: two in a row are 4 (they were counted as one sequence, so 200 emoji
    # "weighed" 2 and a post X refuses was approved); a flag is two regional indicators, a keycap
    # a digit and U+20E3, a sun with its variation selector one emoji.
    ("😀" * 140, 280), ("😀😀", 4), ("👍🐀", 4), ("🇿🇦🇩🇪", 4), ("1️⃣", 2), ("x1️⃣y", 4), ("☀️", 2),
    ("\u2002", 1), ("\u2010", 1), ("\u201f", 1), ("\u2032", 1), ("\u2037", 1), ("\u200e", 2),
    ("\u2038", 2),  # the light ranges' edges (U+2000 and U+2001 become U+2002 and U+2003 in NFC)
    ("\u27bf\ufe0f", 2), ("👍🏽 hi", 5), ("1a\ufe0f", 4),  # an emoji range's last code point; after a modifier
])
def test_length_is_counted_as_x_counts_it(text: str, length: int) -> None:
    from fte.io.channels.x import weighted_length

    assert weighted_length(text) == length


def x_home(tmp_path):  # noqa: ANN001, ANN201
    from conftest import set_debounce

    from fte.host.home import init_home

    home = tmp_path / "home"
    init_home(home, role="all", agent="laptop")
    set_debounce(home, 0)
    (home / "fte.toml").write_text((home / "fte.toml").read_text() + '\n[executors.x]\nenabled = true\nuser_id = "42"\n')
    (home / ".env").write_text("FTE_X_CONSUMER_KEY=ck\nFTE_X_CONSUMER_SECRET=cs\nFTE_X_ACCESS_TOKEN=at\n"
                               "FTE_X_ACCESS_SECRET=as\n")
    return home


def test_a_post_too_long_for_x_is_refused_before_anything_is_queued(tmp_path) -> None:  # noqa: ANN001

    from fte.host.home import open_home

    home = x_home(tmp_path)
    result = fte_cli("post", "x", "日" * 141, "--home", str(home), code=2)
    assert result.exit_code == 2 and "282" in result.output
    with open_home(home) as h:
        assert h.store.tasks() == []


def test_an_x_post_is_approved_published_once_and_a_crash_after_the_call_does_not_post_twice(tmp_path) -> None:  # noqa: ANN001
    from hosts import HostRun

    from fte.support import crashpoints

    home = x_home(tmp_path)
    fake = FakeX()
    texts = ["We open a new shop on Monday! https://example.com/shop", "Closed on Friday for inventory."]
    ids = [json.loads(fte_cli("post", "x", t, "--json", "--home", str(home)).output)["id"]
           for t in texts]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.serve(mock)
        run = HostRun(home)
        run.tick()
        assert {run.home.store.get(i).state for i in ids} == {"pending"}
        assert run.home.store.get(ids[0]).expires_at is not None  # the kind's expiry, like any draft
        for i in ids:
            assert fte_cli("approve", i, "--home", str(home)).exit_code == 0

        class Crash(Exception):
            pass

        def die() -> None:
            raise Crash("after-call")  # the post is on X; its outcome never recorded

        remove = crashpoints.on("after-call", die)
        try:
            with pytest.raises(Crash):
                run.tick()
        finally:
            remove()
        run.close()
        assert fake.posts == 1
        run = HostRun(home)  # restart: the engine looks the key up before anything else
        run.tick()
        run.tick()
        states = {i: run.home.store.get(i).state for i in ids}
        assert states == {ids[0]: "done", ids[1]: "done"}, states
        assert [t["text"] for t in fake.tweets] == texts and fake.posts == 2  # each posted once
        [complete] = [t for t in run.home.store.timeline(ids[0]) if t.event == "complete"]
        assert complete.detail.get("note") == "found at the provider after a restart"
        run.close()


@responses.activate
def test_a_duplicate_post_is_a_permanent_failure_that_says_so() -> None:
    from fte.io.channels.x import XPoster

    fake = FakeX()
    fake.tweets.append({"id": "1", "text": "Hello", "edit_history_tweet_ids": []})
    fake.serve(responses.mock)
    poster = XPoster(user_client(), "42")
    task = Task(id="c" * 32, kind="x.post", body="Hello", params={})
    with pytest.raises(ExecutionError, match="duplicate") as info:
        poster.perform(task, poster.key_for(task), datetime(2026, 11, 26, tzinfo=timezone.utc))
    assert not info.value.transient


def test_a_post_of_141_emoji_is_refused_before_it_is_queued() -> None:
    from fte.errors import BadInput
    from fte.io.channels.x import check_post

    assert check_post("😀" * 140) == "😀" * 140
    with pytest.raises(BadInput, match="this one is 282"):
        check_post("😀" * 141)


@responses.activate
def test_a_429_without_a_reset_waits_a_quarter_of_an_hour_and_a_page_asks_for_100() -> None:
    now = 1_764_000_000.0
    responses.get(MENTIONS, status=429, json={"title": "Too Many Requests", "detail": "Too Many Requests",
                                              "type": "about:blank", "status": 429})
    polled = XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: now).poll(None)
    assert json.loads(polled.cursor)["wait_until"] == now + 900
    assert "max_results=100" in responses.calls[0].request.url


@responses.activate
def test_a_post_is_looked_up_among_the_last_two_days_and_a_failed_lookup_is_retried() -> None:
    from urllib.parse import parse_qs, urlparse

    from fte.io.channels.x import XPoster

    now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc).timestamp()
    responses.get(f"{API}/users/42/tweets", json={"data": [{"id": "9", "text": "Open on Sunday! https://t.co/abc",
                                                            "edit_history_tweet_ids": ["9"]}],
                                                  "meta": {"result_count": 1}})
    responses.get(f"{API}/users/42/tweets", status=503, json={"title": "Service Unavailable", "status": 503,
                                                              "detail": "Service Unavailable", "type": "about:blank"})
    poster = XPoster(user_client(), "42", clock=lambda: now)
    task = Task(id="p" * 32, kind="x.post", body="Open on Sunday! https://example.com/hours", params={})
    assert poster.lookup(poster.key_for(task)) == "9"  # the link compared as a link
    asked = parse_qs(urlparse(responses.calls[0].request.url).query)
    assert asked["start_time"] == ["2026-11-24T12:00:00Z"] and asked["max_results"] == ["100"]
    assert responses.calls[0].request.headers["Authorization"].startswith("OAuth ")  # as the account
    with pytest.raises(ExecutionError) as info:
        poster.lookup(poster.key_for(task))
    assert info.value.transient is True


@responses.activate
def test_a_quote_of_the_tweet_is_not_a_reply_to_it() -> None:
    responses.get(f"{API}/users/42/tweets", json={"data": [{"id": "556", "text": "Look at this",
                                                            "referenced_tweets": [{"type": "quoted", "id": "101"}],
                                                            "edit_history_tweet_ids": ["556"]}],
                                                  "meta": {"result_count": 1}})
    replier = XReplier(user_client(), "42")
    assert replier.lookup(replier.key_for(reply_task("101"))) is None


@responses.activate
def test_the_lookup_wants_a_reply_to_that_very_tweet() -> None:
    responses.get(f"{API}/users/42/tweets", json={"data": [
        {"id": "557", "text": "Thanks!", "referenced_tweets": [{"type": "replied_to", "id": "102"}],
         "edit_history_tweet_ids": ["557"]},
        {"id": "558", "text": "RT", "referenced_tweets": [{"type": "retweeted", "id": "101"}],
         "edit_history_tweet_ids": ["558"]}], "meta": {"result_count": 2}})
    replier = XReplier(user_client(), "42")
    assert replier.lookup(replier.key_for(reply_task("101"))) is None


@responses.activate
def test_the_source_asks_again_at_the_reset_second_and_says_when_a_sweep_is_long() -> None:
    now = 1_764_000_000.0
    responses.get(MENTIONS, json=mentions_page(ids(350, 100), "350", "p2"))
    src = XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: now, max_pages=1)
    polled = src.poll(json.dumps({"since_id": "100", "wait_until": now}))  # the reset is now
    assert len(polled.items) == 100 and polled.notices == ["more than 100 mentions: the rest next time"]


@pytest.mark.parametrize("status, said", [(503, "X is failing"), (502, "X is failing")])
@responses.activate
def test_mentions_that_fail_make_the_source_wait(status: int, said: str) -> None:
    from fte.errors import Unreachable

    responses.get(MENTIONS, status=status, json={"title": "Error", "detail": "Error", "type": "about:blank",
                                                 "status": status})
    with pytest.raises(Unreachable, match=said):
        XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: 0.0).poll(None)


# X's problem objects, as its API answers a path id it cannot use (docs.x.com, "Error troubleshooting").
INVALID_ID = {"errors": [{"parameters": {"id": ["4x2"]}, "message": "The `id` query parameter value [4x2] is not valid"}],
              "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
              "type": "https://api.twitter.com/2/problems/invalid-request"}
NO_SUCH_USER = {"errors": [{"value": "42", "detail": "Could not find user with id: [42].", "title": "Not Found Error",
                            "resource_type": "user", "parameter": "id", "resource_id": "42",
                            "type": "https://api.twitter.com/2/problems/resource-not-found"}]}


@pytest.mark.parametrize(("status", "body", "said"), [
    (400, INVALID_ID, "is not valid"),
    (404, {"title": "Not Found", "detail": "Not Found", "type": "about:blank", "status": 404}, "404 Not Found"),
    (200, NO_SUCH_USER, "Could not find user with id: \\[42\\]"),
])
@responses.activate
def test_mentions_of_an_account_x_cannot_find_say_to_check_the_user_id(status: int, body: dict, said: str) -> None:
    """Not "not reachable": asking again is refused again, so the person is told what to fix — and a
    200 that only carries X's not-found error is not read as "no new mentions" (the cursor stays)."""
    from fte.errors import FteError, Unreachable

    responses.get(MENTIONS, status=status, json=body)
    with pytest.raises(FteError, match=said) as info:
        XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: 0.0).poll(json.dumps({"since_id": "100"}))
    assert not isinstance(info.value, Unreachable)
    assert "check [sources.x] user_id" in str(info.value)


@responses.activate
def test_an_error_about_something_else_than_the_account_does_not_stop_the_mentions() -> None:
    """X attaches errors for expansions it could not fill (a deleted author): the mentions are still read."""
    page = mentions_page(["101"], "101")
    page["errors"] = [{"value": "7", "detail": "Could not find tweet with referenced_tweets.id: [7].",
                       "title": "Not Found Error", "resource_type": "tweet", "parameter": "referenced_tweets.id",
                       "resource_id": "7", "type": "https://api.twitter.com/2/problems/resource-not-found"}]
    responses.get(MENTIONS, json=page)
    polled = XSource(tweepy.Client(bearer_token="b"), "42", clock=lambda: 0.0).poll(None)
    assert [m.tweet_id for m in polled.items] == ["101"]


@responses.activate
def test_a_failed_reply_lookup_is_retried_and_post_keys_are_a_wire_format() -> None:
    import hashlib

    from fte.io.channels.x import XPoster

    responses.get(f"{API}/users/42/tweets", status=400, json={"title": "Invalid Request", "detail": "bad",
                                                              "type": "about:blank", "status": 400})
    replier = XReplier(user_client(), "42")
    with pytest.raises(ExecutionError) as info:
        replier.lookup(replier.key_for(reply_task("101")))
    assert info.value.transient is True
    post = Task(id="p" * 32, kind="x.post", body=" Open on Sunday! https://example.com/a ", params={})
    digest = hashlib.sha256(b"Open on Sunday! <url>").hexdigest()[:16]
    assert XPoster(user_client(), "42").key_for(post) == f"x-post:{digest}"
