"""LinkedIn through its REST API, with httpx: posts (``POST /rest/posts``), and the page's comments.

A ``linkedin.post`` task (made with ``fte post linkedin TEXT``) is approved like any other and then
published by the local host. With the Community Management API, the cloud also reads new comments
on the organization page's recent posts (:class:`LinkedInCommentsSource`) and drafts replies, which
the local host posts as the page once approved (:class:`LinkedInCommenter`); docs/channels.md says
which LinkedIn products and permissions that needs.

Headers: ``Authorization: Bearer <FTE_LINKEDIN_TOKEN>``, ``LinkedIn-Version: <YYYYMM>`` (the setting
``[executors.linkedin] version``: LinkedIn versions its API monthly and retires old versions),
``X-Restli-Protocol-Version: 2.0.0``. A created post answers 201 with its URN in ``x-restli-id``.
LinkedIn has no idempotency key: the key is a hash of the text, and the lookup lists the author's
recent posts (``GET /rest/posts?q=author&author=<urn>``) for the same commentary. That finder needs
``r_member_social`` for a person (a restricted permission most apps never get) or
``r_organization_social`` for a page: without it LinkedIn answers 403, and the lookup says the
outcome is **unknown** — a person looks at the page and decides (``fte replay --force`` to post
again) — rather than guessing "not posted" and posting twice. A second POST of the same text is
answered 422 "duplicate", which counts as done.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from fte.errors import BadInput, FteError, Unreachable
from fte.io.channels.contract import ExecutionError, OutcomeUnknown, Performed, Polled
from fte.models.tables import Task

API = "https://api.linkedin.com/rest"
MAX_COMMENTARY = 3000


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def _client(token: str, version: str, transport: httpx.BaseTransport | None, timeout: float) -> httpx.Client:
    """An httpx client with LinkedIn's versioned REST headers."""
    return httpx.Client(base_url=API, transport=transport, timeout=timeout, headers={
        "Authorization": f"Bearer {token}", "LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0",
        "Content-Type": "application/json"})


def _send(client: httpx.Client, method: str, url: str, what: str, **kw: Any) -> httpx.Response:
    """One request of an executor. A read that times out or a connection that fails is transient; a
    write that times out once sent may have happened: unknown (the lookup, or a person, decides)."""
    try:
        return client.request(method, url, **kw)
    except httpx.TimeoutException as exc:
        if method == "GET":
            raise ExecutionError(f"LinkedIn {what} timed out: {exc}", transient=True) from exc
        raise OutcomeUnknown(f"LinkedIn {what} timed out after the request was sent: {exc}") from exc
    except httpx.TransportError as exc:
        raise ExecutionError(f"LinkedIn not reachable for {what}: {exc}", transient=True) from exc


class LinkedInPoster:
    kinds = ("linkedin.post",)

    def __init__(self, token: str, author: str, version: str, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        if not author.startswith("urn:li:"):
            raise ValueError("author must be a URN such as urn:li:person:abc123 or urn:li:organization:123")
        self.author = author
        self.client = _client(token, version, transport, timeout)

    def key_for(self, task: Task) -> str:
        return f"li:{_digest(task.body)}"

    def _request(self, method: str, url: str, what: str, **kw: Any) -> httpx.Response:
        return _send(self.client, method, url, what, **kw)

    def lookup(self, key: str) -> str | None:
        digest = key.split(":", 1)[1]
        resp = self._request("GET", f"/posts?q=author&author={quote(self.author, safe='')}&count=50", "lookup")
        if resp.status_code == 403:
            scope = "r_organization_social" if ":organization:" in self.author else "r_member_social"
            raise OutcomeUnknown(f"LinkedIn does not let this app read {self.author}'s posts ({scope} is missing: "
                                 f"{_message(resp)}), so whether the post went out cannot be checked; look at the "
                                 "page, then reject the task or send it again with fte replay --force")
        if resp.status_code != 200:
            raise ExecutionError(f"LinkedIn lookup failed: {resp.status_code} {_message(resp)}",
                                 transient=resp.status_code == 429 or resp.status_code >= 500)
        for post in resp.json().get("elements", []):
            if _digest(str(post.get("commentary", ""))) == digest:
                return str(post.get("id"))
        return None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        text = task.body.strip()
        if not text or len(text) > MAX_COMMENTARY:
            raise ExecutionError(f"a post must be 1-{MAX_COMMENTARY} characters, this is {len(text)}")
        body = {
            "author": self.author, "commentary": text, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
        }
        resp = self._request("POST", "/posts", "post", json=body)
        if resp.status_code == 201:
            return Performed(external_id=resp.headers.get("x-restli-id", ""))
        message = _message(resp)
        if resp.status_code == 422 and "duplicate" in message.lower():
            urn = next((w.strip(".,") for w in message.split() if w.startswith("urn:li:")), "")
            if urn:
                return Performed(external_id=urn)  # it was already posted
        transient = resp.status_code == 429 or resp.status_code >= 500
        if resp.status_code == 401:
            message += " (the token expired or was revoked: make a new one, set FTE_LINKEDIN_TOKEN)"
        raise ExecutionError(f"LinkedIn refused the post ({resp.status_code}): {message}", transient=transient)


def _message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(data.get("message") or data)


# -- comments on the organization page's posts (Community Management API) ---------------------------

#: How many of the page's newest posts are watched for comments, and comments read per post.
WATCHED_POSTS = 10
COMMENTS_PER_POST = 50
#: After a 403 (the permission is missing) the source stays off this long, then tries once again.
OFF_FOR_SECONDS = 24 * 3600
MAX_COMMENT = 1250


def _path_urn(urn: str) -> str:
    """A URN inside a REST path, encoded as LinkedIn asks (``urn%3Ali%3Acomment%3A%28…%29``)."""
    return quote(urn, safe="")


@dataclass(frozen=True)
class LinkedInComment:
    """A comment someone left on one of the page's posts."""

    comment: str  # its URN (urn:li:comment:(urn:li:activity:…,id))
    post: str  # the post it is on
    actor: str  # who wrote it (urn:li:person:… or urn:li:organization:…)
    text: str
    created_ms: int

    def task_fields(self, source: str) -> dict[str, Any]:
        """What the daemon makes of it: a ``linkedin.comment`` reply task."""
        return {"kind": "linkedin.comment", "ref": self.comment, "title": f"LinkedIn comment: {self.text[:70]}",
                "params": {"post": self.post, "parent_comment": self.comment, "commenter": self.actor},
                "original": f"{self.actor} commented on {self.post}:\n\n{self.text}",
                "actor": f"linkedin:{self.actor}"}


class LinkedInCommentsSource:
    """New comments on the organization page's recent posts (cloud). Reads
    ``GET /rest/posts?q=author&author=<org>`` and ``GET /rest/socialActions/<post>/comments`` with
    ``r_organization_social``; the cursor is JSON ``{"seen": {post: newest comment time (ms)}}``, so a
    comment is taken once and a re-read absorbed by the dedupe on the comment's URN. Without the
    permission LinkedIn answers 403: the source says so once (in ``notices``) and stays off for a day
    (``{"off_until": …, "reason": …}``) instead of failing every tick."""

    name = "linkedin"
    cursor_name = "linkedin:comments"

    def __init__(self, token: str, organization: str, version: str, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        if not organization.startswith("urn:li:organization:"):
            raise BadInput(f"[sources.linkedin] organization must be urn:li:organization:<id>, not {organization!r}")
        self.organization = organization
        self.clock = clock
        self.client = _client(token, version, transport, timeout)

    def _get(self, url: str) -> httpx.Response:
        try:
            return self.client.get(url)
        except httpx.TransportError as exc:
            raise Unreachable(f"LinkedIn not reachable: {exc}") from exc

    def poll(self, cursor: str | None) -> Polled[LinkedInComment]:
        state = json.loads(cursor) if cursor else {}
        if state.get("off_until") and self.clock() < float(state["off_until"]):
            return Polled([], json.dumps(state))
        seen: dict[str, int] = dict(state.get("seen") or {})
        resp = self._get(f"/posts?q=author&author={_path_urn(self.organization)}&count={WATCHED_POSTS}")
        if resp.status_code == 403:
            reason = (f"LinkedIn refused to list {self.organization}'s posts (403: {_message(resp)}): the app needs "
                      "the Community Management API and r_organization_social (docs/channels.md); comments are "
                      "not read, tried again in a day")
            return Polled([], json.dumps({"seen": seen, "off_until": self.clock() + OFF_FOR_SECONDS,
                                          "reason": reason}), notices=[reason])
        self._check(resp, "list the page's posts")
        items: list[LinkedInComment] = []
        posts = [str(p.get("id")) for p in resp.json().get("elements", []) if p.get("id")]
        for post in posts:
            got = self._get(f"/socialActions/{_path_urn(post)}/comments?count={COMMENTS_PER_POST}")
            self._check(got, f"read the comments of {post}")
            newest = seen.get(post, 0)
            for c in got.json().get("elements", []):
                try:
                    created = int((c.get("created") or {}).get("time") or 0)
                except (TypeError, ValueError, AttributeError):
                    continue  # a comment without a readable time: not this poll's to judge, the rest is read
                actor = str(c.get("actor") or "")
                if created <= seen.get(post, 0) or actor == self.organization:
                    continue  # already taken, or the page's own reply
                urn = str(c.get("commentUrn") or c.get("$URN") or "")
                text = str((c.get("message") or {}).get("text") or "")
                if urn and text:
                    items.append(LinkedInComment(urn, post, actor, text, created))
                newest = max(newest, created)
            seen[post] = newest
        seen = {p: t for p, t in seen.items() if p in posts}  # posts no longer watched are forgotten
        items.sort(key=lambda c: c.created_ms)
        return Polled(items, json.dumps({"seen": seen}))

    @staticmethod
    def _check(resp: httpx.Response, what: str) -> None:
        if resp.status_code == 429 or resp.status_code >= 500:
            raise Unreachable(f"LinkedIn is busy or failing ({resp.status_code}) while trying to {what}")
        if resp.status_code != 200:
            raise FteError(f"LinkedIn refused to {what} ({resp.status_code}): {_message(resp)}")


class LinkedInCommenter:
    """``linkedin.comment``: the page's reply to a comment, posted as the organization (local), with
    ``w_organization_social``: ``POST /rest/socialActions/<parent comment>/comments`` with
    ``parentComment``. No idempotency key at LinkedIn: the key is the parent and a hash of the text,
    and the lookup reads the replies to the parent for the page's own with that text (a 403 there:
    unknown, a person decides)."""

    kinds = ("linkedin.comment",)

    def __init__(self, token: str, organization: str, version: str, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        if not organization.startswith("urn:li:organization:"):
            raise BadInput("a reply to a comment is made as the page: [executors.linkedin] author must be "
                           f"urn:li:organization:<id>, not {organization!r}")
        self.organization = organization
        self.client = _client(token, version, transport, timeout)

    def key_for(self, task: Task) -> str:
        return f"li-comment:{(task.params or {}).get('parent_comment', '')}|{_digest(task.body)}"

    def _request(self, method: str, url: str, what: str, **kw: Any) -> httpx.Response:
        return _send(self.client, method, url, what, **kw)

    def lookup(self, key: str) -> str | None:
        parent, digest = key.split(":", 1)[1].rsplit("|", 1)
        resp = self._request("GET", f"/socialActions/{_path_urn(parent)}/comments?count=100", "lookup")
        if resp.status_code == 403:
            raise OutcomeUnknown(f"LinkedIn does not let this app read the replies to {parent} "
                                 f"(r_organization_social: {_message(resp)}); look at the page and decide")
        if resp.status_code != 200:
            raise ExecutionError(f"LinkedIn lookup failed: {resp.status_code} {_message(resp)}",
                                 transient=resp.status_code == 429 or resp.status_code >= 500)
        for c in resp.json().get("elements", []):
            if c.get("actor") == self.organization and _digest(str((c.get("message") or {}).get("text", ""))) == digest:
                return str(c.get("commentUrn") or c.get("id"))
        return None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        params = task.params or {}
        post, parent = str(params.get("post", "")), str(params.get("parent_comment", ""))
        text = task.body.strip()
        if not post.startswith("urn:li:") or not parent.startswith("urn:li:comment:"):
            raise ExecutionError("the reply names no LinkedIn post and comment (post, parent_comment)")
        if not text or len(text) > MAX_COMMENT:
            raise ExecutionError(f"a comment must be 1-{MAX_COMMENT} characters, this is {len(text)}")
        body = {"actor": self.organization, "object": post, "parentComment": parent, "message": {"text": text}}
        resp = self._request("POST", f"/socialActions/{_path_urn(parent)}/comments", "reply", json=body)
        if resp.status_code == 201:
            made = resp.headers.get("x-restli-id") or str((resp.json() if resp.content else {}).get("commentUrn", ""))
            return Performed(external_id=made or key)
        transient = resp.status_code == 429 or resp.status_code >= 500
        raise ExecutionError(f"LinkedIn refused the reply ({resp.status_code}): {_message(resp)}", transient=transient)
