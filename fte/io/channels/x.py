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

**Executors** (local): ``POST /2/tweets`` (OAuth 1.0a user context). A reply (``x.reply``) carries
``in_reply_to_tweet_id``; X has no idempotency key, so its key is the tweet replied to, and the
lookup reads this account's recent tweets for a reply to it (``referenced_tweets`` of type
``replied_to``). A post (``x.post``, made with ``fte post x TEXT``) is keyed by a hash of its text,
and the lookup reads this account's tweets of the last :data:`LOOKUP_DAYS` days for the same text
(links compared as links: X rewrites every URL to a ``t.co`` one). X answers a second post of the
same text with 403 "duplicate content": a permanent failure that says so. The length is counted
as X counts it (:func:`weighted_length`) and refused before anything is queued.

Secrets: ``FTE_X_BEARER_TOKEN`` (cloud); ``FTE_X_CONSUMER_KEY``, ``FTE_X_CONSUMER_SECRET``,
``FTE_X_ACCESS_TOKEN``, ``FTE_X_ACCESS_SECRET`` (local).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from fte.errors import BadInput, FteError, Unreachable
from fte.io.channels.contract import ExecutionError, Performed, Polled
from fte.models.tables import Task

MAX_TWEET = 280
#: How far back the lookup of a post reads this account's tweets.
LOOKUP_DAYS = 2
_URL = re.compile(r"(?:https?://|www\.)[^\s]+", re.IGNORECASE)
#: twitter-text v3 (X's own counting library, config/v3.json): these code points weigh 1, every other 2;
#: a URL weighs 23 (the length of its t.co link), an emoji 2 whatever its code points.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_EMOJI = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1F1E6, 0x1F1FF))
#: Code points that continue the emoji before them without a weight of their own: variation
#: selectors, skin tones, tag characters (subdivision flags).
_MODIFIERS = {0xFE0F, 0xFE0E} | set(range(0x1F3FB, 0x1F400)) | set(range(0xE0020, 0xE0080))
_ZWJ = 0x200D
_KEYCAP = 0x20E3
_REGIONAL = (0x1F1E6, 0x1F1FF)


def _is_emoji(cp: int) -> bool:
    return any(a <= cp <= b for a, b in _EMOJI)


def weighted_length(text: str) -> int:
    """``text``'s length as X counts it against 280: NFC, a URL 23, an emoji 2 (one emoji: a
    sequence joined by ZWJ, with its modifiers, a flag of two regional indicators, a keycap), a
    character in the light ranges (Latin and most European scripts, general punctuation) 1, any
    other (CJK…) 2. Close to twitter-text v3; URLs are recognised by a scheme or ``www.``
    (twitter-text also links bare domains, which X counts as 23 too)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    for part_no, part in enumerate(_URL.split(text)):
        if part_no:
            total += 23
        total += _weigh(part)
    return total


def _weigh(part: str) -> int:
    total = 0
    in_emoji = joined = lone_regional = keycap_base = False
    for ch in part:
        cp = ord(ch)
        if cp in _MODIFIERS and (in_emoji or keycap_base):
            continue  # part of the emoji (or keycap) before it
        if cp == _ZWJ and in_emoji:
            joined = True  # the next emoji belongs to this one
            continue
        if cp == _KEYCAP and keycap_base:
            total += 1  # "1️⃣": the digit counted 1, the keycap makes it one emoji of 2
            keycap_base, in_emoji = False, True
            continue
        regional = _REGIONAL[0] <= cp <= _REGIONAL[1]
        if _is_emoji(cp):
            if in_emoji and (joined or (lone_regional and regional)):
                joined = lone_regional = False  # the second half of a ZWJ sequence or of a flag
                continue
            total += 2
            in_emoji, joined, lone_regional, keycap_base = True, False, regional, False
            continue
        total += 1 if any(a <= cp <= b for a, b in _LIGHT) else 2
        in_emoji = joined = lone_regional = False
        keycap_base = ch in "0123456789#*"
    return total


def check_post(text: str) -> str:
    """The post's text, stripped; BadInput (with the count) when X would refuse its length."""
    text = text.strip()
    n = weighted_length(text)
    if not text or n > MAX_TWEET:
        raise BadInput(f"a post on X is 1-{MAX_TWEET} characters as X counts them (a link 23, an emoji or a CJK "
                       f"character 2); this one is {n}")
    return text


#: Pages of 100 mentions read in one poll; a longer sweep goes on at the next poll.
MAX_PAGES = 5


@dataclass(frozen=True)
class Mention:
    tweet_id: str
    author: str
    author_id: str
    text: str
    conversation_id: str

    def task_fields(self, source: str) -> dict[str, Any]:
        """An ``x.reply`` task answering the mention."""
        return {"kind": "x.reply", "ref": self.tweet_id, "title": f"@{self.author}: {self.text[:80]}",
                "params": {"to": f"@{self.author}", "in_reply_to_tweet_id": self.tweet_id},
                "original": f"@{self.author} wrote:\n\n{self.text}", "actor": f"x:@{self.author}"}


class XSource:
    name = "x"
    cursor_name = "x:mentions"

    def __init__(self, client: Any, user_id: str, clock: Callable[[], float] = time.time,
                 max_pages: int = MAX_PAGES) -> None:
        self.client = client
        self.user_id = user_id
        self.clock = clock
        self.max_pages = max_pages

    def poll(self, cursor: str | None) -> Polled[Mention]:
        import tweepy

        state = json.loads(cursor) if cursor else {}
        if state.get("wait_until") and self.clock() < float(state["wait_until"]):
            return Polled([], json.dumps(state), notices=["rate limited until the reset"])
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
                return Polled(list(reversed(items)), sweep(wait_until=wait_until), notices=["rate limited (429)"])
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                raise FteError(f"X refused the token: {exc}") from exc
            except (tweepy.BadRequest, tweepy.NotFound) as exc:  # asking again would be refused again
                raise FteError(f"X refused to read the mentions of user {self.user_id} ({exc}); "
                               "check [sources.x] user_id (the account's numeric id)") from exc
            except tweepy.TwitterServerError as exc:
                raise Unreachable(f"X is failing: {exc}") from exc
            except tweepy.errors.TweepyException as exc:
                raise Unreachable(f"X not reachable: {exc}") from exc
            missing = _missing_user(resp)
            if missing:  # a 200 whose errors say the account does not exist: the poll would read nothing, forever
                raise FteError(f"X has no user {self.user_id} ({missing}); check [sources.x] user_id "
                               "(the account's numeric id)")
            users = {u.id: u.username for u in (resp.includes or {}).get("users", [])}
            items += [Mention(str(t.id), users.get(t.author_id, str(t.author_id)), str(t.author_id), t.text,
                              str(t.conversation_id or t.id)) for t in (resp.data or [])]
            meta = resp.meta or {}
            newest = newest or meta.get("newest_id")  # the first page of the sweep holds the newest
            token = meta.get("next_token")
            if not token:  # the sweep reached since_id: it is done
                done = newest or since
                return Polled(list(reversed(items)), json.dumps({"since_id": done} if done else {}))
        return Polled(list(reversed(items)), sweep(),
                      notices=[f"more than {self.max_pages * 100} mentions: the rest next time"])


def _missing_user(resp: Any) -> str | None:
    """X answers a timeline of an account that does not exist with a 200, no data, and an error of
    ``resource_type: user`` (``{"title": "Not Found Error", "detail": "Could not find user with id:
    [1]."}``, as the X API's problem objects are documented); what that error says, else None."""
    if resp.data:
        return None
    for error in resp.errors or []:
        if isinstance(error, dict) and error.get("resource_type") == "user":
            return str(error.get("detail") or error.get("title") or "not found")[:200]
    return None


class XReplier:
    kinds = ("x.reply",)

    def __init__(self, client: Any, user_id: str) -> None:
        self.client = client
        self.user_id = user_id

    def key_for(self, task: Task) -> str:
        return f"x-reply-to:{(task.params or {}).get('in_reply_to_tweet_id', '')}"

    def lookup(self, key: str) -> str | None:
        target = key.split(":", 1)[1]
        for tweet in _own_tweets(self.client, self.user_id, tweet_fields=["referenced_tweets"]):
            for ref in tweet.referenced_tweets or []:
                if ref.type == "replied_to" and str(ref.id) == target:
                    return str(tweet.id)
        return None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        target = str((task.params or {}).get("in_reply_to_tweet_id", ""))
        if not target:
            raise ExecutionError("the reply names no tweet (in_reply_to_tweet_id)")
        return _create_tweet(self.client, "reply", text=_checked(task.body), in_reply_to_tweet_id=target)


def _post_digest(text: str) -> str:
    """The hash a post is keyed and found by: its text with every link as ``<url>`` (X shows links
    as t.co ones)."""
    same = _URL.sub("<url>", unicodedata.normalize("NFC", text.strip()))
    return hashlib.sha256(same.encode("utf-8")).hexdigest()[:16]


class XPoster:
    """``x.post``: a post on the account's timeline (``fte post x TEXT``), published once approved."""

    kinds = ("x.post",)

    def __init__(self, client: Any, user_id: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.user_id = user_id
        self.clock = clock

    def key_for(self, task: Task) -> str:
        return f"x-post:{_post_digest(task.body)}"

    def lookup(self, key: str) -> str | None:
        digest = key.split(":", 1)[1]
        since = datetime.fromtimestamp(self.clock() - LOOKUP_DAYS * 86400, tz=timezone.utc)
        for tweet in _own_tweets(self.client, self.user_id, start_time=since, tweet_fields=["created_at"]):
            if _post_digest(tweet.text) == digest:
                return str(tweet.id)
        return None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        return _create_tweet(self.client, "post", text=_checked(task.body))


def _checked(body: str) -> str:
    """The text to publish, within X's limits (as twitter-text counts), or a permanent failure."""
    try:
        return check_post(body)
    except BadInput as exc:
        raise ExecutionError(str(exc)) from exc


def _create_tweet(client: Any, what: str, **kwargs: Any) -> Performed:
    """One ``create_tweet``, its answers classified (docs/channels.md, "Outcomes"): 429 and 5xx are
    transient; a 403 "duplicate content" says so; any other refusal is permanent. A connection lost
    after the request was sent is not caught here: the outcome is unknown, and the key is looked up."""
    import tweepy

    try:
        resp = client.create_tweet(user_auth=True, **kwargs)
    except (tweepy.TooManyRequests, tweepy.TwitterServerError) as exc:
        raise ExecutionError(f"X is busy or failing: {exc}", transient=True) from exc
    except tweepy.Forbidden as exc:
        if "duplicate" in str(exc).lower():
            raise ExecutionError(f"X refused the {what} as a duplicate of one already on the account (403): "
                                 "nothing new was posted") from exc
        raise ExecutionError(f"X refused the {what}: {exc}") from exc
    except tweepy.errors.TweepyException as exc:
        raise ExecutionError(f"X refused the {what}: {exc}") from exc
    return Performed(external_id=str(resp.data["id"]))


def _own_tweets(client: Any, user_id: str, **kwargs: Any) -> list[Any]:
    """The account's newest 100 tweets (for a lookup); a failure is transient (the lookup is tried again)."""
    import tweepy

    try:
        resp = client.get_users_tweets(user_id, max_results=100, user_auth=True, **kwargs)
    except tweepy.errors.TweepyException as exc:
        raise ExecutionError(f"X lookup failed: {exc}", transient=True) from exc
    return list(resp.data or [])
