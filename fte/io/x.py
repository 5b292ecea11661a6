"""X (Twitter) through tweepy's ``Client`` (API v2): mentions as a source, replies as an executor.

**Source** (cloud): ``GET /2/users/:id/mentions`` since the stored ``since_id`` (bearer token, read
only). A 429 (``tweepy.TooManyRequests``) does not sleep the daemon (``wait_on_rate_limit`` stays off):
the reset time from ``x-rate-limit-reset`` is stored in the cursor and the source is skipped until
then. More mentions than one page (100) are read page by page through ``meta.next_token``, newest
first, down to ``since_id``; ``since_id`` moves to the newest mention only once every page of the
sweep was read. A sweep longer than :data:`MAX_PAGES` pages, or cut by a 429, goes on at the next
poll from the stored ``next_token`` (``resume``), so no mention is ever skipped (the tasks' dedupe
on the tweet id absorbs a page read twice). The cursor is JSON ``{"since_id", "resume", "newest",
"wait_until"}`` (X API v2, "Pagination": ``pagination_token``, ``meta.next_token``, ``meta.newest_id``).

**Executor** (local): ``POST /2/tweets`` with ``in_reply_to_tweet_id`` (OAuth 1.0a user context).
X has no idempotency key, so the key is the tweet replied to, and the lookup reads this account's
recent tweets for a reply to it (``referenced_tweets`` of type ``replied_to``).

Secrets: ``FTE_X_BEARER_TOKEN`` (cloud); ``FTE_X_CONSUMER_KEY``, ``FTE_X_CONSUMER_SECRET``,
``FTE_X_ACCESS_TOKEN``, ``FTE_X_ACCESS_SECRET`` (local).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from fte.errors import FteError, Unreachable
from fte.io.executors import ExecutionError, Performed
from fte.models.tables import Task

MAX_TWEET = 280
#: Pages of 100 mentions read in one poll; a longer sweep goes on at the next poll.
MAX_PAGES = 5


@dataclass(frozen=True)
class Mention:
    tweet_id: str
    author: str
    author_id: str
    text: str
    conversation_id: str


@dataclass(frozen=True)
class XPolled:
    items: list[Mention]
    cursor: str
    skipped: list[str] = field(default_factory=list)


class XSource:
    name = "x"
    cursor_name = "x:mentions"

    def __init__(self, client: Any, user_id: str, clock: Callable[[], float] = time.time,
                 max_pages: int = MAX_PAGES) -> None:
        self.client = client
        self.user_id = user_id
        self.clock = clock
        self.max_pages = max_pages

    def poll(self, cursor: str | None) -> XPolled:
        import tweepy

        state = json.loads(cursor) if cursor else {}
        if state.get("wait_until") and self.clock() < float(state["wait_until"]):
            return XPolled([], json.dumps(state), ["rate limited until the reset"])
        since, token, newest = state.get("since_id"), state.get("resume"), state.get("newest")
        params: dict[str, Any] = {"expansions": ["author_id"], "tweet_fields": ["conversation_id", "author_id"],
                                  "user_fields": ["username"], "max_results": 100}
        if since:
            params["since_id"] = since
        items: list[Mention] = []

        def sweep(**extra: Any) -> str:  # the cursor of a sweep still under way
            return json.dumps({k: v for k, v in {"since_id": since, "resume": token, "newest": newest, **extra}.items()
                               if v})

        for _page in range(self.max_pages):
            try:
                resp = self.client.get_users_mentions(self.user_id, **params,
                                                      **({"pagination_token": token} if token else {}))
            except tweepy.TooManyRequests as exc:
                reset = exc.response.headers.get("x-rate-limit-reset") if exc.response is not None else None
                wait_until = float(reset) if reset else self.clock() + 900
                return XPolled(list(reversed(items)), sweep(wait_until=wait_until), ["rate limited (429)"])
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                raise FteError(f"X refused the token: {exc}") from exc
            except tweepy.TwitterServerError as exc:
                raise Unreachable(f"X is failing: {exc}") from exc
            except tweepy.errors.TweepyException as exc:
                raise Unreachable(f"X not reachable: {exc}") from exc
            users = {u.id: u.username for u in (resp.includes or {}).get("users", [])}
            items += [Mention(str(t.id), users.get(t.author_id, str(t.author_id)), str(t.author_id), t.text,
                              str(t.conversation_id or t.id)) for t in (resp.data or [])]
            meta = resp.meta or {}
            newest = newest or meta.get("newest_id")  # the first page of the sweep holds the newest
            token = meta.get("next_token")
            if not token:  # the sweep reached since_id: it is done
                done = newest or since
                return XPolled(list(reversed(items)), json.dumps({"since_id": done} if done else {}))
        return XPolled(list(reversed(items)), sweep(), [f"more than {self.max_pages * 100} mentions: the rest next time"])


class XReplier:
    kinds = ("x.reply",)

    def __init__(self, client: Any, user_id: str) -> None:
        self.client = client
        self.user_id = user_id

    def key_for(self, task: Task) -> str:
        return f"x-reply-to:{(task.params or {}).get('in_reply_to_tweet_id', '')}"

    def lookup(self, key: str) -> str | None:
        import tweepy

        target = key.split(":", 1)[1]
        try:
            resp = self.client.get_users_tweets(self.user_id, tweet_fields=["referenced_tweets"], max_results=100,
                                                user_auth=True)
        except tweepy.errors.TweepyException as exc:
            raise ExecutionError(f"X lookup failed: {exc}", transient=True) from exc
        for tweet in resp.data or []:
            for ref in tweet.referenced_tweets or []:
                if ref.type == "replied_to" and str(ref.id) == target:
                    return str(tweet.id)
        return None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        import tweepy

        target = str((task.params or {}).get("in_reply_to_tweet_id", ""))
        text = task.body.strip()
        if not target:
            raise ExecutionError("the reply names no tweet (in_reply_to_tweet_id)")
        if not text or len(text) > MAX_TWEET:
            raise ExecutionError(f"a post must be 1-{MAX_TWEET} characters, this is {len(text)}")
        try:
            resp = self.client.create_tweet(text=text, in_reply_to_tweet_id=target, user_auth=True)
        except (tweepy.TooManyRequests, tweepy.TwitterServerError) as exc:
            raise ExecutionError(f"X is busy or failing: {exc}", transient=True) from exc
        except tweepy.errors.TweepyException as exc:
            raise ExecutionError(f"X refused the reply: {exc}") from exc
        return Performed(external_id=str(resp.data["id"]))
