"""Mail in an IMAP folder (any provider: Fastmail, Posteo, a company's Dovecot or Exchange): the source.

Read through ``imapclient`` (its ``IDLE`` support and UID commands: imapclient.readthedocs.io,
"IDLE"; RFC 3501 for UIDs and ``UIDVALIDITY``, RFC 2177 for ``IDLE``). The source never changes the
server: the folder is selected read-only (``EXAMINE``) and bodies are fetched with ``BODY.PEEK[]``,
so nothing is marked read, moved or deleted. Replies go out through the email executor (SMTP
usually), threaded by the ``In-Reply-To``/``References`` a task carries from the mail.

The cursor is ``<UIDVALIDITY>:<last UID read>``: a new poll asks for the UIDs after it. When the
server's ``UIDVALIDITY`` changed (the folder was rebuilt: its UIDs mean other messages now), the
folder is read again from the start and what is already a task is recognised by its Message-ID —
nothing is lost and nothing is made twice.

:meth:`ImapSource.watch` keeps one more connection in ``IDLE`` on the folder and wakes the daemon
as soon as the server says a message arrived (within a second or two); a server without ``IDLE`` is
asked for the folder's ``UIDNEXT`` every ``poll_every`` seconds instead. Either way the daemon's
own tick still polls, so a watch that fails loses nothing: it only waits for the next tick.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fte.errors import Unreachable
from fte.io.channels.contract import Polled
from fte.io.channels.mail import IncomingMail, parse_mail

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
#: UIDs fetched in one command (a folder of 100,000 mails is read in pieces).
BATCH = 200
#: RFC 2177: re-issue IDLE before 29 minutes, or a server may drop the connection as idle.
IDLE_RENEW = 25 * 60


@dataclass(frozen=True)
class ImapAccount:
    """Where and as whom: ``security`` is ``ssl`` (port 993), ``starttls`` (143) or ``none``
    (loopback and tests only)."""

    host: str
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    ca_file: str = ""
    timeout: float = 30.0

    def connect(self) -> Any:
        """A logged-in ``IMAPClient``; :class:`~fte.errors.Unreachable` when the server cannot be
        reached or refuses the login (the source waits and tries at the next tick)."""
        import imapclient

        context = ssl.create_default_context(cafile=self.ca_file or None) if self.security != "none" else None
        try:
            client = imapclient.IMAPClient(self.host, port=self.port, ssl=self.security == "ssl",
                                           ssl_context=context, timeout=self.timeout)
            if self.security == "starttls":
                client.starttls(context)
            client.login(self.username, self.password)
        except (OSError, imapclient.exceptions.IMAPClientError) as exc:
            raise Unreachable(f"IMAP {self.host}:{self.port}: {exc}") from exc
        return client


class ImapSource:
    name = "imap"

    def __init__(self, account: ImapAccount, poll_every: float = 60.0) -> None:
        self.account = account
        self.poll_every = poll_every
        self.cursor_name = f"imap:{account.username}@{account.host}/{account.folder}"

    def poll(self, cursor: str | None) -> Polled[IncomingMail]:
        """The messages after ``cursor`` in UID order (oldest first), read without marking them."""
        import imapclient

        client = self.account.connect()
        try:
            selected = client.select_folder(self.account.folder, readonly=True)
            validity = int(selected[b"UIDVALIDITY"])
            since, notices = 1, []
            if cursor:
                old_validity, _, last = cursor.partition(":")
                if old_validity == str(validity) and last.isdigit():
                    since = int(last) + 1
                else:
                    notices.append(f"IMAP folder {self.account.folder}: UIDVALIDITY changed ({old_validity} → "
                                   f"{validity}); read again from the start, known mails recognised by Message-ID")
            # "N:*" always answers the folder's last message, even below N: keep only what is new.
            uids = sorted(u for u in client.search(["UID", f"{since}:*"]) if u >= since)
            items: list[IncomingMail] = []
            skipped: list[tuple[str, str]] = []
            newest = since - 1
            for start in range(0, len(uids), BATCH):
                chunk = uids[start:start + BATCH]
                sizes = client.fetch(chunk, ["RFC822.SIZE"])
                small = [u for u in chunk if int(sizes.get(u, {}).get(b"RFC822.SIZE", 0)) <= MAX_MESSAGE_BYTES]
                skipped += [(f"uid {u}", "larger than 25 MiB") for u in chunk if u not in small]
                bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
                for uid in chunk:
                    newest = max(newest, uid)
                    data = bodies.get(uid, {}).get(b"BODY[]")
                    if data is None:
                        continue
                    try:
                        items.append(parse_mail(bytes(data)))
                    except Exception as exc:  # noqa: BLE001 — a malformed message must not stop the others
                        skipped.append((f"uid {uid}", f"unreadable: {exc}"[:300]))
            return Polled(items, f"{validity}:{max(newest, 0)}", skipped, notices)
        except imapclient.exceptions.IMAPClientError as exc:
            raise Unreachable(f"IMAP {self.account.host}: {exc}") from exc
        except OSError as exc:
            raise Unreachable(f"IMAP {self.account.host}: {exc}") from exc
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001, S110 — the connection may already be gone; nothing to keep
                pass

    def watch(self, wake: threading.Event) -> Callable[[], None]:
        """Wake the daemon when a message arrives (``IDLE``; or ``UIDNEXT`` looked at every
        ``poll_every`` seconds when the server has no ``IDLE``). Runs in a thread until the
        returned function is called; never raises — an error waits and connects again."""
        stop = threading.Event()
        thread = threading.Thread(target=self._watch, args=(wake, stop), name="imap-idle", daemon=True)
        thread.start()

        def stopped() -> None:
            stop.set()
            thread.join(timeout=self.account.timeout + 2)

        return stopped

    def _watch(self, wake: threading.Event, stop: threading.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            try:
                client = self.account.connect()
            except Unreachable:
                stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            try:
                backoff = 1.0
                if b"IDLE" in client.capabilities():
                    self._idle(client, wake, stop)
                else:
                    self._look(client, wake, stop)
            except Exception:  # noqa: BLE001 — a dropped connection, a server restart: connect again
                stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
            finally:
                try:
                    client.logout()
                except Exception:  # noqa: BLE001, S110 — already gone
                    pass

    def _idle(self, client: Any, wake: threading.Event, stop: threading.Event) -> None:
        client.select_folder(self.account.folder, readonly=True)
        while not stop.is_set():
            client.idle()
            waited = 0.0
            try:
                while not stop.is_set() and waited < IDLE_RENEW:
                    # Short waits, so a stop is seen within a second.
                    responses = client.idle_check(timeout=1)
                    waited += 1
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        wake.set()
            finally:
                client.idle_done()

    def _look(self, client: Any, wake: threading.Event, stop: threading.Event) -> None:
        last = None
        while not stop.is_set():
            status = client.folder_status(self.account.folder, [b"UIDNEXT"])
            current = status.get(b"UIDNEXT")
            if last is not None and current != last:
                wake.set()
            last = current
            stop.wait(self.poll_every)
