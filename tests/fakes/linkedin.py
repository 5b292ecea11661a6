"""LinkedIn's REST API as an ``httpx.MockTransport`` handler. Posts API: create answers 201 with the
URN in ``x-restli-id``; a duplicate commentary 422; the author finder needs a read permission, else
403 ACCESS_DENIED. Comments API (Community Management): ``GET /rest/socialActions/{urn}/comments``
answers ``{"paging", "elements": [{"actor", "commentUrn", "created": {"time"}, "message": {"text"},
"object", …}]}``; ``POST`` the same path creates one (201, the comment's URN in ``x-restli-id``)."""

from __future__ import annotations

import json

import httpx

AUTHOR = "urn:li:person:8675309"
PAGE = "urn:li:organization:2414183"


class FakeLinkedIn:
    """Keeps posts; refuses a duplicate commentary with 422 like LinkedIn; can be told to fail."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.requests: list[httpx.Request] = []
        self.fail_with: list[int] = []
        self.can_read = True  # the app holds r_member_social (most apps do not)
        #: object URN (a post or a comment) → the comments on it, oldest first
        self.comments: dict[str, list[dict]] = {}
        self.clock_ms = 1_764_147_600_000
        #: Answer a created comment without the ``x-restli-id`` header (its URN only in the body).
        self.omit_restli_id = False

    def comment(self, on: str, actor: str, text: str, post: str | None = None) -> dict:
        """Someone comments on ``on`` (a post, or a comment: then ``post`` is the post)."""
        self.clock_ms += 1000
        number = sum(len(v) for v in self.comments.values()) + 1
        activity = (post or on).replace("urn:li:share:", "urn:li:activity:")
        made = {"actor": actor, "agent": actor, "commentUrn": f"urn:li:comment:({activity},{number})",
                "id": str(number), "object": post or on, "message": {"attributes": [], "text": text},
                "created": {"actor": actor, "time": self.clock_ms}, "lastModified": {"actor": actor, "time": self.clock_ms}}
        if post:
            made["parentComment"] = on
        self.comments.setdefault(on, []).append(made)
        return made

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != "Bearer li-token":
            return httpx.Response(401, json={"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                                             "message": "Invalid access token"})
        if self.fail_with:
            status = self.fail_with.pop(0)
            return httpx.Response(status, json={"status": status, "message": "Internal Server Error"})
        if request.method == "POST" and request.url.path == "/rest/posts":
            body = json.loads(request.content)
            for post in self.posts:
                if post["commentary"] == body["commentary"]:
                    return httpx.Response(422, json={"status": 422, "code": "DUPLICATE_POST",
                                                     "message": f"Content is a duplicate of {post['id']}"})
            post = dict(body, id=f"urn:li:share:{7000 + len(self.posts)}")
            self.posts.append(post)
            return httpx.Response(201, headers={"x-restli-id": post["id"]})
        if request.url.path.startswith("/rest/socialActions/") and request.url.path.endswith("/comments"):
            target = request.url.path[len("/rest/socialActions/"):-len("/comments")]
            if request.method == "GET":
                if not self.can_read:
                    return httpx.Response(403, json={"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                                                     "message": "Not enough permissions to access: socialActions"})
                found = self.comments.get(target, [])
                return httpx.Response(200, json={"paging": {"start": 0, "count": 50, "total": len(found)},
                                                 "elements": list(found)})
            body = json.loads(request.content)
            made = self.comment(target, body["actor"], body["message"]["text"], post=body["object"])
            assert body.get("parentComment") == target
            return httpx.Response(201, headers={} if self.omit_restli_id else {"x-restli-id": made["commentUrn"]},
                                  json=made)
        if request.method == "GET" and request.url.path == "/rest/posts" and not self.can_read:
            return httpx.Response(403, json={"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                                             "message": "Not enough permissions to access: posts.FINDER-author.20251101"})
        if request.method == "GET" and request.url.path == "/rest/posts":
            assert request.url.params["q"] == "author"
            mine = [p for p in reversed(self.posts) if p["author"] == request.url.params["author"]]
            return httpx.Response(200, json={"paging": {"start": 0, "count": 50}, "elements": mine})
        return httpx.Response(404, json={"status": 404, "message": "Not found"})
