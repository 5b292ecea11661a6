"""Gmail through google-api-python-client: the source (cloud), the sender (local), and the OAuth token.

**Source.** Incremental sync with ``users.history.list`` from the stored ``historyId``; when Gmail
answers 404 (the id is outside the history window: about a week, or a mailbox reset — Gmail's
"Synchronize clients" guide) one bounded full sync (``messages.list`` with the query, at most
``max_full_sync`` messages) takes its place, and the dedupe on the Gmail message id (the task's
``source_ref``) keeps it from doubling anything. A message deleted between the listing and its
``messages.get`` (404) is skipped with that reason. The new ``historyId`` is returned as the cursor,
which the daemon commits in the same transaction as the tasks. Mail we sent ourselves (label
``SENT``, or from our own address) and no-reply senders are skipped.

**Sender.** ``messages.send`` with the reply as ``raw`` (base64url RFC 5322) and the ``threadId``,
carrying the deterministic ``Message-ID``, ``X-FTE-Task``, ``In-Reply-To`` and ``References``. The
lookup searches Sent for ``rfc822msgid:<key>``.

**Errors** (docs/channels.md, "Outcomes"). ``HttpError`` 429, 5xx, and a 403 whose reason is a
quota (``rateLimitExceeded``, ``userRateLimitExceeded``, ``dailyLimitExceeded``, ``quotaExceeded``:
Gmail's "Resolve errors" guide) are transient (state kept, retried later); 401 and any other 403
mean the token is wrong or lacks a scope (``fte auth gmail`` again); anything else is reported as is.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fte.errors import AuthError, Unreachable
from fte.io.channels.contract import ExecutionError, Performed, Polled
from fte.io.channels.mail import (
    IncomingMail,
    build_reply,
    message_id_for,
    parse_mail,
    sender_domain,
)
from fte.models.tables import Task

READ_SCOPES = ["https://www.googleapis.com/auth/gmail.readonly"]
# Sending needs gmail.send; the lookup before a retry searches Sent, which needs read access.
SEND_SCOPES = ["https://www.googleapis.com/auth/gmail.send", "https://www.googleapis.com/auth/gmail.readonly"]


class GmailAuthError(AuthError):
    """The token is missing, revoked, or lacks a scope: run ``fte auth gmail``."""


def _status(exc: Exception) -> int | None:
    resp = getattr(exc, "resp", None)
    try:
        return int(getattr(resp, "status", None))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


#: Reasons of a 403 that are quotas, not permissions: wait and try again.
QUOTA_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"})


def _quota(exc: Exception) -> bool:
    """Whether a Gmail error body names a quota (``error.errors[].reason``)."""
    try:
        data = json.loads(getattr(exc, "content", b"") or b"{}")
        reasons = {e.get("reason") for e in data["error"].get("errors", []) if isinstance(e, dict)}
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return bool(reasons & QUOTA_REASONS)


def _transient(exc: Exception) -> bool:
    status = _status(exc)
    return status == 429 or (status is not None and status >= 500) or (status == 403 and _quota(exc))


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "_get_reason", lambda: str(exc))()
    return f"{_status(exc)} {reason}"


class _HistoryExpired(Exception):
    """history.list answered 404: the stored historyId is too old."""


class _Gone(Exception):
    """messages.get answered 404: the message was deleted after the history listed it."""


@dataclass(frozen=True)
class GmailItem:
    gmail_id: str
    thread_id: str
    mail: IncomingMail

    def task_fields(self, source: str) -> dict[str, Any]:
        """An ``email.reply`` task keyed by the Gmail id, threaded in Gmail's thread."""
        return self.mail.task_fields(source, thread_id=self.thread_id) | {"ref": self.gmail_id}


class GmailSource:
    name = "gmail"

    def __init__(self, service: Any, query: str = "in:inbox", label: str = "INBOX", max_full_sync: int = 100) -> None:
        self.service = service
        self.query = query
        self.label = label
        self.max_full_sync = max_full_sync
        self._own: str | None = None

    def _call(self, request: Any, history: bool = False, message: bool = False) -> Any:
        from googleapiclient.errors import HttpError

        try:
            return request.execute()
        except HttpError as exc:
            status = _status(exc)
            if history and status == 404:
                raise _HistoryExpired() from exc
            if message and status == 404:
                raise _Gone() from exc
            if _transient(exc):
                raise Unreachable(f"Gmail is busy, over a quota, or failing ({_reason(exc)}); will retry") from exc
            if status in (401, 403):
                raise GmailAuthError(f"Gmail refused the token ({_reason(exc)}); run: fte auth gmail") from exc
            raise
        except OSError as exc:
            raise Unreachable(f"Gmail not reachable: {exc}") from exc

    def poll(self, cursor: str | None) -> Polled[GmailItem]:
        users = self.service.users()
        profile = self._call(users.getProfile(userId="me"))
        self._own = str(profile.get("emailAddress", "")).lower()
        if cursor:
            try:
                ids, new_cursor = self._history(cursor)
                return self._fetch(ids, new_cursor, full=False)
            except _HistoryExpired:
                pass
        # First run, or the history id expired (404): one bounded full sync.
        baseline = str(profile["historyId"])
        listed = self._call(users.messages().list(userId="me", q=self.query, maxResults=self.max_full_sync))
        ids = [m["id"] for m in listed.get("messages", [])][: self.max_full_sync]
        return self._fetch(ids, baseline, full=True)

    def _history(self, start: str) -> tuple[list[str], str]:
        users = self.service.users()
        ids: list[str] = []
        token = None
        cursor = start
        while True:
            kwargs: dict[str, Any] = {"userId": "me", "startHistoryId": start, "historyTypes": ["messageAdded"]}
            if self.label:
                kwargs["labelId"] = self.label
            if token:
                kwargs["pageToken"] = token
            page = self._call(users.history().list(**kwargs), history=True)
            for h in page.get("history", []):
                for added in h.get("messagesAdded", []):
                    mid = added["message"]["id"]
                    if mid not in ids:
                        ids.append(mid)
            cursor = str(page.get("historyId", cursor))
            token = page.get("nextPageToken")
            if not token:
                return ids, cursor

    def _fetch(self, ids: list[str], cursor: str, full: bool) -> Polled[GmailItem]:
        items: list[GmailItem] = []
        skipped: list[tuple[str, str]] = []
        for mid in ids:
            try:
                msg = self._call(self.service.users().messages().get(userId="me", id=mid, format="raw"),
                                 message=True)
            except _Gone:
                # Deleted between the listing and now: nothing to answer, and failing the poll
                # would list it again at every tick (the cursor would never move past it).
                skipped.append((mid, "deleted before it was read"))
                continue
            labels = set(msg.get("labelIds", []))
            try:
                raw = base64.urlsafe_b64decode(msg["raw"] + "=" * (-len(msg["raw"]) % 4))
                mail = parse_mail(raw)
            except Exception as exc:  # noqa: BLE001 — one message we cannot read must not stop the others:
                # failing the poll would list it again at every tick, and nothing after it would be read.
                skipped.append((mid, f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"))
                continue
            if "SENT" in labels or (self._own and mail.sender == self._own):
                skipped.append((mid, "our own mail"))
                continue
            if mail.is_no_reply:
                skipped.append((mid, "no-reply sender"))
                continue
            items.append(GmailItem(mid, msg.get("threadId", ""), mail))
        notices = [f"read the newest {len(ids)} messages (a first run, or Gmail's history of the last cursor "
                   f"expired: up to [sources.gmail] max_full_sync = {self.max_full_sync})"] if full else []
        notices += [f"message {mid} not read: {why}" for mid, why in skipped if why.startswith("unreadable")]
        return Polled(items, cursor, skipped, notices)


class GmailSender:
    """Sends approved replies with Gmail; ``lookup`` searches Sent for the key."""

    kinds = ("email.reply",)

    def __init__(self, service: Any, sender: str) -> None:
        self.service = service
        self.sender = sender
        self.domain = sender_domain(sender)

    def key_for(self, task: Task) -> str:
        return message_id_for(task.id, self.domain)

    def _execute(self, request: Any, what: str) -> Any:
        from googleapiclient.errors import HttpError

        try:
            return request.execute()
        except HttpError as exc:
            if _transient(exc):
                raise ExecutionError(f"Gmail {what}: busy, over a quota, or failing ({_reason(exc)})",
                                     transient=True) from exc
            if _status(exc) in (401, 403):
                raise ExecutionError(f"Gmail refused the token for {what} ({_reason(exc)}); run: fte auth gmail") from exc
            raise ExecutionError(f"Gmail {what} failed: {_reason(exc)}") from exc
        except OSError as exc:
            raise ExecutionError(f"Gmail not reachable for {what}: {exc}", transient=True) from exc

    def lookup(self, key: str) -> str | None:
        found = self._execute(self.service.users().messages().list(userId="me", q=f"in:sent rfc822msgid:{key}"), "lookup")
        messages = found.get("messages", [])
        return messages[0]["id"] if messages else None

    def perform(self, task: Task, key: str, now: datetime) -> Performed:
        params = task.params or {}
        if not params.get("to"):
            raise ExecutionError("the reply has no recipient ('to' is empty)")
        found = self.lookup(key)  # a second attempt with the same key sends nothing
        if found:
            return Performed(external_id=found)
        msg = build_reply(task_id=task.id, sender=self.sender, params=params, body=task.body, message_id=key, date=now)
        body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(msg.as_bytes()).decode("ascii")}
        if params.get("thread_id"):
            body["threadId"] = str(params["thread_id"])
        sent = self._execute(self.service.users().messages().send(userId="me", body=body), "send")
        return Performed(external_id=str(sent.get("id", key)))


def scopes_for(purpose: str) -> list[str]:
    """The scopes a token for ``purpose`` (``read`` on cloud, ``send`` on local) is asked for and used with."""
    return READ_SCOPES if purpose == "read" else SEND_SCOPES


def token_path(home: Path, purpose: str) -> Path:
    return home / f"gmail-{purpose}.json"


def load_service(home: Path, purpose: str) -> Any:
    """A Gmail service from the stored token (``read`` on cloud, ``send`` on local)."""
    from google.auth.exceptions import RefreshError, TransportError
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    path = token_path(home, purpose)
    scopes = scopes_for(purpose)
    if not path.exists():
        raise GmailAuthError(f"no Gmail token at {path}; run: fte auth gmail --purpose {purpose}")
    creds = Credentials.from_authorized_user_file(str(path), scopes)
    if not creds.valid and creds.refresh_token:
        try:
            creds.refresh(Request())
        except RefreshError as exc:
            # invalid_grant (revoked, expired, password changed): only a new consent helps.
            raise GmailAuthError(f"the Gmail token could not be refreshed ({exc}); run: fte auth gmail") from exc
        except TransportError as exc:
            raise Unreachable(f"Google's token endpoint not reachable to refresh the Gmail token: {exc}") from exc
        save_token(path, creds.to_json())
    return build("gmail", "v1", credentials=creds, cache_discovery=False, static_discovery=True)


def save_token(path: Path, data: str) -> None:
    """Write a token with mode 0600 (atomically: never a moment with wider permissions)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    os.replace(tmp, path)


def authorize(home: Path, client_secrets: Path, purpose: str, open_browser: bool = True) -> Path:
    """The installed-app OAuth flow (a local redirect on 127.0.0.1); the token is stored mode 0600."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    scopes = scopes_for(purpose)
    flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes)
    creds = flow.run_local_server(host="127.0.0.1", port=0, open_browser=open_browser)
    path = token_path(home, purpose)
    save_token(path, creds.to_json())
    return path
