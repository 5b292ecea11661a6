"""Gmail API responses as Gmail sends them, for googleapiclient's ``HttpMockSequence``.

Shapes from the Gmail API reference (users.getProfile, users.messages.list/get/send,
users.history.list) and Google's JSON error format
``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}``.
"""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from typing import Any

from googleapiclient.discovery import build
from googleapiclient.http import HttpMockSequence


def ok(body: dict[str, Any]) -> tuple[dict[str, str], str]:
    return {"status": "200", "content-type": "application/json; charset=UTF-8"}, json.dumps(body)


def error(code: int, message: str, reason: str, status: str, domain: str = "global") -> tuple[dict[str, str], str]:
    body = {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}], "status": status}}
    return {"status": str(code), "content-type": "application/json; charset=UTF-8"}, json.dumps(body)


NOT_FOUND = error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
RATE_LIMITED = error(429, "Resource has been exhausted (e.g. check quota).", "rateLimitExceeded", "RESOURCE_EXHAUSTED")
BACKEND_ERROR = error(503, "The service is currently unavailable.", "backendError", "UNAVAILABLE")
INTERNAL_ERROR = error(500, "Internal error encountered.", "backendError", "INTERNAL")
# A 403 from something in between (a proxy, a captive portal): not Google's JSON at all.
PROXY_FORBIDDEN = ({"status": "403", "content-type": "text/html; charset=UTF-8"}, "<html><body>Forbidden</body></html>")
# 403 for quotas (Gmail's "Resolve errors" guide: "403: User-rate limit exceeded", "403: Rate limit
# exceeded", "403: Daily limit exceeded"), in the usageLimits domain; and a 403 that is about the token.
USER_RATE_LIMITED = error(403, "User-rate limit exceeded", "userRateLimitExceeded", "PERMISSION_DENIED", "usageLimits")
RATE_LIMITED_403 = error(403, "Rate Limit Exceeded", "rateLimitExceeded", "PERMISSION_DENIED", "usageLimits")
DAILY_LIMIT = error(403, "Daily Limit Exceeded", "dailyLimitExceeded", "PERMISSION_DENIED", "usageLimits")
NO_SCOPE = error(403, "Request had insufficient authentication scopes.", "insufficientPermissions",
                 "PERMISSION_DENIED")
UNAUTHENTICATED = error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                        "cookie or other valid authentication credential.", "authError", "UNAUTHENTICATED")


def profile(history_id: str = "1000", email: str = "me@example.com") -> tuple[dict[str, str], str]:
    return ok({"emailAddress": email, "messagesTotal": 10, "threadsTotal": 8, "historyId": history_id})


def raw_message(gmail_id: str, sender: str = "Ann <ann@example.com>", subject: str = "Invoice?",
                labels: tuple[str, ...] = ("INBOX", "UNREAD"), thread: str | None = None) -> tuple[dict[str, str], str]:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "me@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{gmail_id}@mail.example.com>"
    msg.set_content(f"Body of {gmail_id}\n")
    raw = base64.urlsafe_b64encode(bytes(msg)).decode().rstrip("=")
    return ok({"id": gmail_id, "threadId": thread or f"t{gmail_id}", "labelIds": list(labels),
               "snippet": f"Body of {gmail_id}", "historyId": "1001", "internalDate": "1764147600000",
               "sizeEstimate": len(raw), "raw": raw})


class DeadHttp:
    """An http object whose every connection is refused, as httplib2 raises it (an ``OSError``)."""

    def request(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")


#: Google's OAuth token endpoint, where google-auth refreshes an expired access token.
TOKEN_URI = "https://oauth2.googleapis.com/token"
#: What it answers for a revoked or expired refresh token (RFC 6749 §5.2 error body).
INVALID_GRANT = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def authorized_user(token: str, expiry: str) -> str:
    """A token file as google-auth-oauthlib writes it (``Credentials.to_json``)."""
    return json.dumps({"token": token, "refresh_token": "1//refresh", "token_uri": TOKEN_URI,
                       "client_id": "123.apps.googleusercontent.com", "client_secret": "client-secret",
                       "scopes": ["https://www.googleapis.com/auth/gmail.readonly"], "expiry": expiry})


def service(responses: list[tuple[dict[str, str], str]]) -> tuple[Any, HttpMockSequence]:
    http = HttpMockSequence(list(responses))
    return build("gmail", "v1", http=http, static_discovery=True, cache_discovery=False), http
