"""LinkedIn posts through httpx with a MockTransport that answers as the REST Posts API does."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest

from fte.io.executors import ExecutionError, OutcomeUnknown
from fte.io.linkedin import LinkedInPoster
from fte.models.tables import Task

from fakes.linkedin import AUTHOR, FakeLinkedIn

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
    from click.testing import CliRunner

    from fte.cli import cli
    from fte.daemon import Runner
    from fte.home import open_home
    from fte.io.executors import MaildirOutbox

    from hosts import bare_remote, make_host

    remote = bare_remote(tmp_path / "remote.git")
    make_host(tmp_path, "cloud", "cloud", remote)
    local = make_host(tmp_path, "local", "local", remote)
    r = CliRunner().invoke(cli, ["post", "linkedin", "We are hiring a bookkeeper!", "--json", "--home", str(local)])
    tid = json.loads(r.output)["id"]
    fake = FakeLinkedIn()
    with open_home(local) as h:
        runner = Runner(h, executors={"linkedin.post": poster(fake),
                                      "email.reply": MaildirOutbox(local / "outbox")})
        runner.tick()
        assert h.store.get(tid).state == "pending"  # drafted on the local host: its own source
        CliRunner().invoke(cli, ["approve", tid, "--home", str(local)], catch_exceptions=False)
        runner.tick()
        task = h.store.get(tid)
        assert task.state == "done" and [p["commentary"] for p in fake.posts] == ["We are hiring a bookkeeper!"]
        assert h.store.timeline(tid)[-1].detail["external_id"] == "urn:li:share:7000"
