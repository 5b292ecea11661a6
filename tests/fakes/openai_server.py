"""A local OpenAI-compatible server: ``POST /v1/chat/completions`` on 127.0.0.1, scripted replies.

It answers with the shapes the real API sends: a ``chat.completion`` object, and errors as
``{"error": {"message", "type", "param", "code"}}`` with their status (401 invalid_api_key, 429
rate_limit_exceeded, 500 server_error) — see the OpenAI API reference, "Error codes".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str, model: str = "gpt-test", finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        "system_fingerprint": "fp_test",
    }


def error(status: int, message: str, type_: str, code: str | None) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": type_, "param": None, "code": code}}


RATE_LIMITED = error(429, "Rate limit reached for gpt-test on requests per min.", "requests", "rate_limit_exceeded")
SERVER_ERROR = error(500, "The server had an error while processing your request.", "server_error", None)
BAD_KEY = error(401, "Incorrect API key provided: sk-wrong.", "invalid_request_error", "invalid_api_key")


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path != "/v1/chat/completions":
                    status, payload = 404, {"error": {"message": "Unknown path", "type": "invalid_request_error",
                                                      "param": None, "code": None}}
                elif fake.replies:
                    status, payload = fake.replies.pop(0)
                else:
                    status, payload = SERVER_ERROR
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after-ms", "5")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, answer: dict[str, Any]) -> None:
        self.replies.append((200, completion(json.dumps(answer))))

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
