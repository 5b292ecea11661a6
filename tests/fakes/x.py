"""X API v2 as ``responses`` callbacks with state: POST /2/tweets and GET /2/users/:id/tweets
(X API v2 reference shapes; a duplicate text answered 403 "duplicate content")."""

from __future__ import annotations

import json

import responses

API = "https://api.twitter.com/2"


class FakeX:
    """POST /2/tweets and GET /2/users/:id/tweets with state (X API v2 shapes); a second post of
    the same text is answered 403 "duplicate content", as X does."""

    def __init__(self) -> None:
        self.tweets: list[dict] = []
        self.posts = 0

    def create(self, request):  # noqa: ANN001, ANN201
        self.posts += 1
        text = json.loads(request.body)["text"]
        if any(t["text"] == text for t in self.tweets):
            return 403, {}, json.dumps({"detail": "You are not allowed to create a Tweet with duplicate content.",
                                        "type": "about:blank", "title": "Forbidden", "status": 403})
        tweet = {"id": str(9000 + len(self.tweets)), "text": text, "edit_history_tweet_ids": [],
                 "created_at": "2026-11-26T09:00:00.000Z"}
        self.tweets.append(tweet)
        return 201, {}, json.dumps({"data": {"id": tweet["id"], "text": text, "edit_history_tweet_ids": [tweet["id"]]}})

    def timeline(self, request):  # noqa: ANN001, ANN201
        assert "start_time=" in request.url  # the lookup reads a window, not the whole history
        data = list(reversed(self.tweets))
        return 200, {}, json.dumps({"data": data, "meta": {"result_count": len(data)}} if data
                                   else {"meta": {"result_count": 0}})

    def serve(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, f"{API}/tweets", callback=self.create)
        mock.add_callback(responses.GET, f"{API}/users/42/tweets", callback=self.timeline)
