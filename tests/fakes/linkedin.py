"""LinkedIn's REST Posts API as an ``httpx.MockTransport`` handler (Posts API reference: create
answers 201 with the URN in ``x-restli-id``; a duplicate commentary 422; the author finder needs a
read permission, else 403 ACCESS_DENIED)."""

from __future__ import annotations

import json

import httpx

AUTHOR = "urn:li:person:8675309"


class FakeLinkedIn:
    """Keeps posts; refuses a duplicate commentary with 422 like LinkedIn; can be told to fail."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.requests: list[httpx.Request] = []
        self.fail_with: list[int] = []
        self.can_read = True  # the app holds r_member_social (most apps do not)

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
        if request.method == "GET" and request.url.path == "/rest/posts" and not self.can_read:
            return httpx.Response(403, json={"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                                             "message": "Not enough permissions to access: posts.FINDER-author.20251101"})
        if request.method == "GET" and request.url.path == "/rest/posts":
            assert request.url.params["q"] == "author" and request.url.params["author"] == AUTHOR
            return httpx.Response(200, json={"paging": {"start": 0, "count": 50}, "elements": list(reversed(self.posts))})
        return httpx.Response(404, json={"status": 404, "message": "Not found"})
