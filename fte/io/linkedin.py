"""LinkedIn posts through the REST Posts API (``POST https://api.linkedin.com/rest/posts``), with httpx.

LinkedIn gives ordinary apps no inbox, so LinkedIn is posting only: a ``linkedin.post`` task (made
with ``fte post linkedin TEXT``) is approved like any other and then published by the local host.

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
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from fte.io.executors import ExecutionError, OutcomeUnknown, Performed
from fte.models.tables import Task

API = "https://api.linkedin.com/rest"
MAX_COMMENTARY = 3000


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


class LinkedInPoster:
    kinds = ("linkedin.post",)

    def __init__(self, token: str, author: str, version: str, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        if not author.startswith("urn:li:"):
            raise ValueError("author must be a URN such as urn:li:person:abc123 or urn:li:organization:123")
        self.author = author
        self.client = httpx.Client(base_url=API, transport=transport, timeout=timeout, headers={
            "Authorization": f"Bearer {token}", "LinkedIn-Version": version,
            "X-Restli-Protocol-Version": "2.0.0", "Content-Type": "application/json"})

    def key_for(self, task: Task) -> str:
        return f"li:{_digest(task.body)}"

    def _request(self, method: str, url: str, what: str, **kw: Any) -> httpx.Response:
        try:
            resp = self.client.request(method, url, **kw)
        except httpx.TimeoutException as exc:
            raise ExecutionError(f"LinkedIn {what} timed out: {exc}", transient=method == "GET") from exc
        except httpx.TransportError as exc:
            raise ExecutionError(f"LinkedIn not reachable for {what}: {exc}", transient=True) from exc
        return resp

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
