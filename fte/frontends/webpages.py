"""The HTML of ``fte web``: plain server-rendered pages, readable at 360 px, working without
JavaScript, loading nothing from anywhere but this host. Every value shown is escaped, and text
that came from outside (mail, notes) is shown through :func:`fte.support.plaintext.visible`
(control and bidi characters made visible), never as markup."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from fte.clock import parse_iso
from fte.io.channels.kinds import kind as kind_of
from fte.support.plaintext import visible

CSS = """\
:root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fafafa;--muted:#5b5b5b;--line:#d0d0d0;--ok:#0b6b2e;--no:#9b1c1c;--card:#fff}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#141414;--muted:#aaa;--line:#3a3a3a;--ok:#5fd08a;--no:#ff8a8a;--card:#1e1e1e}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
header a{color:inherit;text-decoration:none;font-weight:600}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.25rem;margin:.2rem 0 .8rem}
ul.tasks{list-style:none;margin:0;padding:0}
ul.tasks li{border:1px solid var(--line);border-radius:.5rem;background:var(--card);margin:0 0 .7rem}
ul.tasks a{display:block;padding:.7rem .8rem;color:inherit;text-decoration:none}
.meta{color:var(--muted);font-size:.875rem;overflow-wrap:anywhere}
.title{font-weight:600;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;margin:0}
section{border:1px solid var(--line);border-radius:.5rem;background:var(--card);padding:.8rem;margin:0 0 .9rem}
section h2{font-size:.95rem;margin:0 0 .4rem;color:var(--muted)}
dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
label{display:block;font-weight:600;margin:.4rem 0 .3rem}
textarea,input[type=text],input[type=password]{width:100%;font:inherit;padding:.55rem;border:1px solid var(--line);border-radius:.4rem;background:var(--bg);color:inherit}
textarea{min-height:12rem}
button{font:inherit;font-weight:600;padding:.7rem 1rem;border-radius:.4rem;border:1px solid var(--line);background:var(--card);color:inherit;min-height:2.75rem;width:100%;margin:.3rem 0}
button.ok{background:var(--ok);border-color:var(--ok);color:#fff}
button.no{color:var(--no);border-color:var(--no)}
.said{padding:.6rem .8rem;border-radius:.4rem;border:1px solid var(--line);margin:0 0 .9rem;background:var(--card)}
.said.warn{border-color:var(--no)}
.actions{display:grid;gap:.2rem}
@media (min-width:40rem){.actions{grid-template-columns:1fr 1fr}}
"""


def _page(title: str, body: str, signed_in: str | None = None, csrf: str | None = None) -> str:
    out = ('<form method="post" action="/logout"><input type="hidden" name="csrf" value="' + escape(csrf or "")
           + '"><button type="submit" aria-label="Sign out">Sign out</button></form>') if signed_in and csrf else ""
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            f"<title>{escape(title)} · fte</title><link rel=\"stylesheet\" href=\"/app.css\"></head><body>"
            f"<header><a href=\"/\">fte</a><span class=\"meta\">{escape(signed_in or '')}</span>{out}</header>"
            f"<main>{body}</main></body></html>")


def _text(value: Any) -> str:
    return escape(visible("" if value is None else str(value)))


def _block(value: str) -> str:
    return escape(visible(value, keep_newlines=True))


def deadline(expires: str | None, now: datetime) -> str:
    """How long a task still waits, in words."""
    if not expires:
        return "no deadline"
    left = (parse_iso(expires) - now).total_seconds()
    if left <= 0:
        return "past its deadline"
    hours = int(left // 3600)
    return f"expires in {hours} h" if hours else f"expires in {max(1, int(left // 60))} min"


def recipient(task: dict[str, Any]) -> str:
    declared = kind_of(task["kind"])
    name = declared.recipient if declared else None
    return str((task.get("params") or {}).get(name) or "") if name else ""


def login(message: str = "", next_path: str = "/") -> str:
    said = f'<p class="said warn" role="alert">{escape(message)}</p>' if message else ""
    return _page("Sign in", f"""<h1>Sign in</h1>{said}
<form method="post" action="/login">
<label for="token">Device token</label>
<input type="password" id="token" name="token" autocomplete="current-password" required>
<input type="hidden" name="next" value="{escape(next_path)}">
<button class="ok" type="submit">Sign in</button>
</form>
<p class="meta">A token is shown once by <code>fte web token add NAME</code> on this host.</p>""")


SAID = {
    "approved": "Approved: it goes out at the next tick.",
    "rejected": "Rejected.",
    "saved": "Saved as the draft. Look at it again, then decide.",
}


def waiting(tasks: list[dict[str, Any]], now: datetime, device: str, csrf: str | None, said: str = "") -> str:
    note = f'<p class="said" role="status">{escape(SAID[said])}</p>' if said in SAID else ""
    if not tasks:
        items = '<p>Nothing waits for you.</p>'
    else:
        rows = []
        for t in tasks:
            to = recipient(t)
            rows.append(f'<li><a href="/task/{escape(t["id"])}"><div class="title">{_text(t["title"])}</div>'
                        f'<div class="meta">{_text(t["kind"])}{" · " + _text(to) if to else ""} · '
                        f'{escape(deadline(t["expires"], now))}</div></a></li>')
        items = '<ul class="tasks">' + "".join(rows) + "</ul>"
    count = f"{len(tasks)} waiting" if tasks else "Waiting"
    return _page("Waiting", f"<h1>{count}</h1>{note}{items}", device, csrf)


def task(t: dict[str, Any], now: datetime, device: str, csrf: str | None, message: str = "",
         warn: bool = False) -> str:
    """One task: what would be sent (the draft), to whom, the original, the deadline; the forms.
    (HTML drops one newline right after ``<textarea>``: one is put there, so a draft's own first
    line, even an empty one, comes back as it was.)"""
    from fte.io.vault.notes import split_body

    said = (f'<p class="said{" warn" if warn else ""}" role="{"alert" if warn else "status"}">'
            f'{escape(message)}</p>') if message else ""
    params = {k: v for k, v in (t.get("params") or {}).items() if v not in (None, "", [], {})}
    rows = "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in params.items())
    original = t.get("original") or split_body(t["body"])[1]
    original_html = (f'<section aria-label="Original"><h2>Original</h2><pre>{_block(original)}</pre></section>'
                     if original else "")
    hidden = (f'<input type="hidden" name="csrf" value="{escape(csrf or "")}">'
              f'<input type="hidden" name="epoch" value="{int(t["epoch"])}">')
    decide = ""
    if t["state"] == "pending":
        decide = f"""<section aria-label="Decide"><h2>Decide</h2>
<form method="post" action="/task/{escape(t['id'])}" class="actions">{hidden}
<button class="ok" type="submit" name="action" value="approve">Approve and send</button>
<div><label for="reason">Reason for a rejection (optional)</label>
<input type="text" id="reason" name="reason" maxlength="500">
<button class="no" type="submit" name="action" value="reject">Reject</button></div>
</form></section>
<section aria-label="Edit"><h2>Edit the draft</h2>
<form method="post" action="/task/{escape(t['id'])}">{hidden}
<label for="body">Draft</label>
<textarea id="body" name="body" rows="12">\n{_block(t['body'])}</textarea>
<div class="actions"><button type="submit" name="action" value="save_approve" class="ok">Save and approve</button>
<button type="submit" name="action" value="save">Save only</button></div>
</form></section>"""
    else:
        said += f'<p class="said" role="status">This task is {escape(t["state"])}: nothing to decide.</p>'
    return _page(visible(t["title"] or "Task"), f"""<h1>{_text(t['title'])}</h1>{said}
<p class="meta">{_text(t['kind'])} · {escape(deadline(t.get('expires'), now))} · {escape(t['id'][:8])}</p>
<section aria-label="Details"><h2>Details</h2><dl>{rows or '<dt>—</dt><dd></dd>'}</dl></section>
<section aria-label="What is sent"><h2>What is sent</h2><pre id="draft">{_block(t['body'])}</pre></section>
{original_html}{decide}""", device, csrf)


def problem(status_text: str, message: str) -> str:
    return _page(status_text, f'<h1>{escape(status_text)}</h1><p class="said warn" role="alert">{escape(message)}</p>'
                 '<p><a href="/">Back to what waits</a></p>')
