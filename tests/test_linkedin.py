"""LinkedIn posts through httpx with a MockTransport that answers as the REST Posts API does."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from conftest import fte_cli
from fakes.linkedin import AUTHOR, PAGE, FakeLinkedIn

from fte.io.channels.contract import ExecutionError, OutcomeUnknown
from fte.io.channels.linkedin import LinkedInPoster
from fte.models.tables import Task

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)


def poster(fake: FakeLinkedIn, token: str = "li-token") -> LinkedInPoster:
    return LinkedInPoster(token, AUTHOR, "202511", transport=httpx.MockTransport(fake))


def post_task(text: str = "We are hiring a bookkeeper!") -> Task:
    return Task(id="a" * 32, kind="linkedin.post", body=text, params={})


def test_a_post_is_published_with_the_versioned_headers() -> None:
    fake = FakeLinkedIn()
    p = poster(fake)
    task = post_task()
    done = p.perform(task, p.key_for(task), NOW)
    assert done.external_id == "urn:li:share:7000"
    req = fake.requests[0]
    assert req.headers["LinkedIn-Version"] == "202511" and req.headers["X-Restli-Protocol-Version"] == "2.0.0"
    body = json.loads(req.content)
    assert body["author"] == AUTHOR and body["commentary"] == "We are hiring a bookkeeper!"
    assert body["lifecycleState"] == "PUBLISHED" and body["distribution"]["feedDistribution"] == "MAIN_FEED"
    assert p.lookup(p.key_for(task)) == "urn:li:share:7000"
    # A second attempt (after a crash) does not make a second post.
    assert p.perform(task, p.key_for(task), NOW).external_id == "urn:li:share:7000"
    assert len(fake.posts) == 1


def test_errors() -> None:
    fake = FakeLinkedIn()
    with pytest.raises(ExecutionError, match="expired or was revoked") as bad_token:
        poster(fake, token="old").perform(post_task(), "k", NOW)
    assert not bad_token.value.transient
    fake.fail_with = [503]
    with pytest.raises(ExecutionError) as busy:
        poster(fake).perform(post_task(), "k", NOW)
    assert busy.value.transient and fake.posts == []
    with pytest.raises(ExecutionError, match="1-3000"):
        poster(fake).perform(post_task("x" * 3001), "k", NOW)


def test_without_the_read_permission_the_lookup_says_unknown_not_absent() -> None:
    """The lookup needs r_member_social, which most apps never get: LinkedIn answers 403. "Not
    found" would post twice after a crash; the outcome is unknown and a person decides."""
    fake = FakeLinkedIn()
    fake.can_read = False
    p = poster(fake)
    task = post_task()
    p.perform(task, p.key_for(task), NOW)
    with pytest.raises(OutcomeUnknown, match="r_member_social"):
        p.lookup(p.key_for(task))


def test_a_post_written_on_the_local_host_is_approved_and_published(tmp_path) -> None:

    from hosts import bare_remote, make_host

    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.io.channels.maildir import MaildirOutbox

    remote = bare_remote(tmp_path / "remote.git")
    make_host(tmp_path, "cloud", "cloud", remote)
    local = make_host(tmp_path, "local", "local", remote)
    r = fte_cli("post", "linkedin", "We are hiring a bookkeeper!", "--json", "--home", str(local))
    tid = json.loads(r.output)["id"]
    fake = FakeLinkedIn()
    with open_home(local) as h:
        runner = Runner(h, executors={"linkedin.post": poster(fake),
                                      "email.reply": MaildirOutbox(local / "outbox")})
        runner.tick()
        assert h.store.get(tid).state == "pending"  # drafted on the local host: its own source
        fte_cli("approve", tid, "--home", str(local))
        runner.tick()
        task = h.store.get(tid)
        assert task.state == "done" and [p["commentary"] for p in fake.posts] == ["We are hiring a bookkeeper!"]
        assert h.store.timeline(tid)[-1].detail["external_id"] == "urn:li:share:7000"


# -- comments on the page's posts ---------------------------------------------------------------------

def page_with_comments() -> FakeLinkedIn:
    fake = FakeLinkedIn()
    fake.posts += [{"id": "urn:li:share:7000", "author": PAGE, "commentary": "We are hiring!"},
                   {"id": "urn:li:share:7001", "author": PAGE, "commentary": "New shop open."},
                   {"id": "urn:li:share:7002", "author": AUTHOR, "commentary": "Someone else's post"}]
    fake.comment("urn:li:share:7000", "urn:li:person:ann", "Is the job remote?")
    fake.comment("urn:li:share:7001", "urn:li:person:bob", "Where is it?")
    fake.comment("urn:li:share:7001", PAGE, "Main street 1.")  # the page's own: never a task
    return fake


def comments_source(fake: FakeLinkedIn, clock=lambda: 1_764_147_600.0):  # noqa: ANN001, ANN201
    from fte.io.channels.linkedin import LinkedInCommentsSource

    return LinkedInCommentsSource("li-token", PAGE, "202511", transport=httpx.MockTransport(fake), clock=clock)


def test_new_comments_on_the_pages_posts_are_read_once_in_order() -> None:
    fake = page_with_comments()
    src = comments_source(fake)
    first = src.poll(None)
    assert [(c.post, c.text) for c in first.items] == [("urn:li:share:7000", "Is the job remote?"),
                                                       ("urn:li:share:7001", "Where is it?")]
    assert all(r.headers["LinkedIn-Version"] == "202511" for r in fake.requests)
    assert src.poll(first.cursor).items == []
    fake.comment("urn:li:share:7000", "urn:li:person:cy", "And the salary?")
    assert [c.text for c in src.poll(first.cursor).items] == ["And the salary?"]


def test_without_the_permission_the_source_says_so_once_and_stays_off_for_a_day() -> None:
    fake = page_with_comments()
    fake.can_read = False
    now = [1_764_147_600.0]
    src = comments_source(fake, clock=lambda: now[0])
    off = src.poll(None)
    assert off.items == [] and "r_organization_social" in off.notices[0]
    asked = len(fake.requests)
    again = src.poll(off.cursor)
    assert again.cursor == off.cursor and again.notices == [] and len(fake.requests) == asked  # not asked again
    fake.can_read = True
    now[0] += 24 * 3600 - 1
    assert src.poll(off.cursor).items == [] and len(fake.requests) == asked  # a second before the day is up
    now[0] += 1
    assert len(src.poll(off.cursor).items) == 2  # the day is up: asked again


def test_a_comment_is_answered_as_the_page_once_even_after_a_crash_after_the_call(home_dir) -> None:  # noqa: ANN001

    from fte.daemon import Runner
    from fte.host.home import open_home
    from fte.io.channels.linkedin import LinkedInCommenter
    from fte.io.channels.maildir import MaildirOutbox
    from fte.support import crashpoints

    fake = page_with_comments()

    def runner(h):  # noqa: ANN001, ANN202
        commenter = LinkedInCommenter("li-token", PAGE, "202511", transport=httpx.MockTransport(fake))
        return Runner(h, sources=[comments_source(fake)],
                      executors={"linkedin.comment": commenter, "email.reply": MaildirOutbox(home_dir / "outbox")})

    with open_home(home_dir) as h:
        runner(h).tick()
        waiting = {t.params["parent_comment"]: t for t in h.store.tasks(state="pending")}
    assert len(waiting) == 2
    ann = next(t for t in waiting.values() if t.params["commenter"] == "urn:li:person:ann")
    assert ann.kind == "linkedin.comment" and ann.params["post"] == "urn:li:share:7000"
    assert fte_cli("approve", ann.id, "--home", str(home_dir)).exit_code == 0

    class Crash(Exception):
        pass

    def die() -> None:
        raise Crash("after-call")

    remove = crashpoints.on("after-call", die)
    try:
        with open_home(home_dir) as h, pytest.raises(Crash):
            runner(h).tick()
    finally:
        remove()
    with open_home(home_dir) as h:
        r = runner(h)
        r.tick()
        r.tick()
        assert h.store.get(ann.id).state == "done"
    replies = fake.comments[ann.params["parent_comment"]]
    assert len(replies) == 1 and replies[0]["actor"] == PAGE and replies[0]["parentComment"] == ann.params["parent_comment"]
    assert replies[0]["message"]["text"].startswith("Thank you for your comment")


def test_a_reply_as_a_person_is_refused_and_not_built() -> None:
    from fte.errors import BadInput
    from fte.io.channels.linkedin import LinkedInCommenter

    with pytest.raises(BadInput, match="organization"):
        LinkedInCommenter("li-token", AUTHOR, "202511")


def test_a_post_that_timed_out_once_sent_is_unknown_not_refused() -> None:
    """The request went out and no answer came: LinkedIn may have published it."""
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer within 30 s", request=request)

    p = LinkedInPoster("li-token", AUTHOR, "202511", transport=httpx.MockTransport(slow))
    with pytest.raises(OutcomeUnknown):
        p.perform(post_task(), "k", NOW)
    with pytest.raises(ExecutionError) as read:
        p.lookup(p.key_for(post_task()))
    assert read.value.transient and not isinstance(read.value, OutcomeUnknown)


@pytest.mark.parametrize("status, transient", [(429, True), (500, True), (503, True), (400, False), (404, False)])
def test_a_lookup_refused_or_failing_says_whether_to_ask_again(status: int, transient: bool) -> None:
    fake = FakeLinkedIn()
    fake.fail_with = [status]
    p = poster(fake)
    with pytest.raises(ExecutionError) as info:
        p.lookup(p.key_for(post_task()))
    assert info.value.transient is transient and not isinstance(info.value, OutcomeUnknown)


# -- written from a mutation run's survivors (docs/RELIABILITY.md) ----------------------------------

def commenter(fake: FakeLinkedIn):  # noqa: ANN201
    from fte.io.channels.linkedin import LinkedInCommenter

    return LinkedInCommenter("li-token", PAGE, "202511", transport=httpx.MockTransport(fake))


def reply_task(text: str = "Thank you!", parent: str | None = "urn:li:comment:(urn:li:activity:7000,1)") -> Task:
    params = {"post": "urn:li:share:7000", "commenter": "urn:li:person:ann"}
    if parent is not None:
        params["parent_comment"] = parent
    return Task(id="c" * 32, kind="linkedin.comment", body=text, params=params)


def test_the_lookup_finds_only_the_pages_own_reply_with_that_text() -> None:
    """Someone else answered the comment with the very words of our reply: that is not ours, and
    counting it would leave the person's comment unanswered."""
    fake = page_with_comments()
    [ann] = fake.comments["urn:li:share:7000"]
    fake.comment(ann["commentUrn"], "urn:li:person:bob", "Thank you!", post="urn:li:share:7000")
    c = commenter(fake)
    task = reply_task(parent=ann["commentUrn"])
    assert c.lookup(c.key_for(task)) is None
    made = c.perform(task, c.key_for(task), NOW)
    assert c.lookup(c.key_for(task)) == made.external_id


def test_a_post_lookup_matches_its_text_only() -> None:
    from fte.io.channels.linkedin import _digest

    fake = FakeLinkedIn()
    p = poster(fake)
    mine = post_task("Our shop opens on Monday.")
    others = [f"Another post number {n}" for n in range(30)]
    assert any(_digest(t) > _digest(mine.body) for t in others)  # some sort above ours, some below
    assert any(_digest(t) < _digest(mine.body) for t in others)
    for n, text in enumerate(others):
        fake.posts.append({"id": f"urn:li:share:{100 + n}", "author": AUTHOR, "commentary": text})
    assert p.lookup(p.key_for(mine)) is None


@pytest.mark.parametrize("status, transient", [(429, True), (500, True), (503, True), (400, False), (403, False)])
def test_a_refused_post_or_reply_says_whether_to_try_again(status: int, transient: bool) -> None:
    fake = FakeLinkedIn()
    fake.fail_with = [status, status]
    with pytest.raises(ExecutionError) as post:
        poster(fake).perform(post_task(), "k", NOW)
    with pytest.raises(ExecutionError) as reply:
        commenter(fake).perform(reply_task(), "k", NOW)
    assert post.value.transient is transient and reply.value.transient is transient
    assert "expired or was revoked" not in str(post.value)  # said for a 401 only


@pytest.mark.parametrize("status, transient", [(429, True), (500, True), (503, True), (400, False)])
def test_a_reply_lookup_refused_or_failing_says_whether_to_ask_again(status: int, transient: bool) -> None:
    fake = FakeLinkedIn()
    fake.fail_with = [status]
    c = commenter(fake)
    with pytest.raises(ExecutionError) as info:
        c.lookup(c.key_for(reply_task()))
    assert info.value.transient is transient


def test_a_reply_needs_its_comment_and_fits_linkedins_limit() -> None:
    from fte.io.channels.linkedin import MAX_COMMENT

    fake = page_with_comments()
    with pytest.raises(ExecutionError, match="names no LinkedIn post and comment"):
        commenter(fake).perform(reply_task(parent=None), "k", NOW)
    with pytest.raises(ExecutionError, match="1-1250"):
        commenter(fake).perform(reply_task("x" * (MAX_COMMENT + 1)), "k", NOW)
    assert fake.requests == []  # refused before anything was sent
    assert MAX_COMMENT == 1250  # LinkedIn's limit for a comment
    commenter(fake).perform(reply_task("x" * MAX_COMMENT, parent=fake.comments["urn:li:share:7000"][0]["commentUrn"]),
                            "k", NOW)


def test_older_comments_are_not_read_again_and_a_comment_named_by_urn_only_is_read() -> None:
    fake = page_with_comments()
    fake.comment("urn:li:share:7000", "urn:li:person:cy", "And the salary?")
    src = comments_source(fake)
    first = src.poll(None)
    assert len(first.items) == 3
    assert src.poll(first.cursor).items == []  # the older and the newest of each post alike
    late = fake.comment("urn:li:share:7000", "urn:li:person:di", "Part time too?")
    late["$URN"] = late.pop("commentUrn")  # the record's own URN under its other name
    assert [c.comment for c in src.poll(first.cursor).items] == [late["$URN"]]


@pytest.mark.parametrize("status, error", [(429, "Unreachable"), (500, "Unreachable"), (503, "Unreachable"),
                                           (400, "FteError")])
def test_the_source_waits_on_a_busy_linkedin_and_reports_a_refusal(status: int, error: str) -> None:
    from fte.errors import FteError, Unreachable

    fake = page_with_comments()
    fake.fail_with = [status]
    with pytest.raises(FteError) as info:
        comments_source(fake).poll(None)
    assert isinstance(info.value, Unreachable) is (error == "Unreachable")


def test_keys_are_a_wire_format() -> None:
    """Keys are stored with each attempt and looked up after an upgrade: their shape is fixed."""
    import hashlib

    digest = hashlib.sha256(b"Thank you!").hexdigest()[:16]
    assert poster(FakeLinkedIn()).key_for(post_task(" Thank you!\n")) == f"li:{digest}"
    parent = "urn:li:comment:(urn:li:activity:7000,1)"
    assert commenter(FakeLinkedIn()).key_for(reply_task(parent=parent)) == f"li-comment:{parent}|{digest}"


def test_a_post_of_exactly_the_limit_is_published() -> None:
    from fte.io.channels.linkedin import MAX_COMMENTARY

    fake = FakeLinkedIn()
    assert poster(fake).perform(post_task("x" * MAX_COMMENTARY), "k", NOW).external_id == "urn:li:share:7000"
    assert MAX_COMMENTARY == 3000  # LinkedIn's limit for a post's commentary


def test_an_error_page_that_is_not_json_is_quoted_as_text() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")

    p = LinkedInPoster("li-token", AUTHOR, "202511", transport=httpx.MockTransport(gateway))
    with pytest.raises(ExecutionError, match="502 Bad Gateway") as info:
        p.perform(post_task(), "k", NOW)
    assert info.value.transient


def test_without_the_read_permission_the_reply_lookup_says_unknown() -> None:
    fake = page_with_comments()
    fake.can_read = False
    c = commenter(fake)
    with pytest.raises(OutcomeUnknown, match="look at the page"):
        c.lookup(c.key_for(reply_task()))


def test_the_reply_lookup_ignores_another_pages_words_and_the_pages_other_replies() -> None:
    from fte.io.channels.linkedin import _digest

    fake = page_with_comments()
    [ann] = fake.comments["urn:li:share:7000"]
    parent = ann["commentUrn"]
    fake.comment(parent, "urn:li:organization:1000", "Thank you!", post="urn:li:share:7000")  # another company
    others = [f"We will write to you, number {n}." for n in range(20)]
    assert any(_digest(t) > _digest("Thank you!") for t in others)
    for text in others:
        fake.comment(parent, PAGE, text, post="urn:li:share:7000")
    c = commenter(fake)
    assert c.lookup(c.key_for(reply_task(parent=parent))) is None


def test_a_comment_by_another_company_is_read_and_one_without_text_is_not() -> None:
    fake = page_with_comments()
    fake.comment("urn:li:share:7000", "urn:li:organization:1000", "Do you ship to Spain?")
    fake.comment("urn:li:share:7000", "urn:li:person:eve", "")  # a picture alone: nothing to answer
    texts = [c.text for c in comments_source(fake).poll(None).items]
    assert "Do you ship to Spain?" in texts and "" not in texts and len(texts) == 3


def test_a_reply_created_without_the_header_is_known_by_its_urn_in_the_body() -> None:
    fake = page_with_comments()
    fake.omit_restli_id = True
    parent = fake.comments["urn:li:share:7000"][0]["commentUrn"]
    made = commenter(fake).perform(reply_task(parent=parent), "k", NOW)
    assert made.external_id == fake.comments[parent][0]["commentUrn"]


def test_a_connection_refused_is_transient_and_the_posts_wire_fields() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    p = LinkedInPoster("li-token", AUTHOR, "202511", transport=httpx.MockTransport(refused))
    with pytest.raises(ExecutionError, match="not reachable") as info:
        p.perform(post_task(), "k", NOW)
    assert info.value.transient and not isinstance(info.value, OutcomeUnknown)
    fake = FakeLinkedIn()
    poster(fake).perform(post_task(), "k", NOW)
    assert json.loads(fake.requests[0].content)["isReshareDisabledByAuthor"] is False


def test_a_comment_with_an_unreadable_time_does_not_stop_the_others() -> None:
    fake = page_with_comments()
    odd = fake.comment("urn:li:share:7000", "urn:li:person:zed", "When?")
    odd["created"] = {"time": "soon"}
    polled = comments_source(fake).poll(None)
    assert sorted(c.text for c in polled.items) == ["Is the job remote?", "Where is it?"]
