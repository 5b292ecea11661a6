"""The MCP write tools under hostile and concurrent use: nothing unusable becomes a task, a refusal
says why, a poisoned task fails alone, a repeated call is the first task, and many processes
share the home with a daemon (docs/odoo.md, "Commands")."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import fte_cli
from fakes.odoo_server import FakeOdoo
from hosts import HostRun, git
from test_odoo_lifecycle import configure

from fte.errors import BadInput
from fte.host.home import open_home
from fte.io.channels.contract import Performed
from fte.io.vault.notes import TEMP_PREFIX
from fte.usecases.accounting import Accounting

LINE = {"description": "Logo", "quantity": 1, "price_unit": 100}


@pytest.fixture
def odoo_home(home_dir: Path):
    with FakeOdoo() as fake:
        configure(home_dir, fake)
        yield home_dir, fake


def tasks(home: Path) -> list:
    with open_home(home, repair=False) as h:
        return h.store.tasks()


BAD_CALLS = [
    ("no lines", "create_invoice", {"partner": "Acme Corporation", "lines": []}, "between 1 and 100 lines"),
    ("NaN price", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": float("nan")}]},
     "finite"),
    ("a price as text", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": "100"}]},
     "must be a number, not '100'"),
    ("create_partner as text", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE],
                                                  "create_partner": "yes"}, "create_partner must be true or false"),
    ("negative price", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": -500}]},
     "0 or more"),
    ("infinite quantity", "create_bill", {"partner": "Acme Corporation", "lines": [LINE | {"quantity": 1e309}]},
     "finite"),
    ("too many decimals", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": 1.005}]},
     "decimals"),
    ("a total of 0", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": 0}]},
     "total is 0"),
    ("not a date", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE], "invoice_date": "9999-99-99"},
     "not a real date"),
    ("far future", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE], "invoice_date": "2999-01-01"},
     "years from today"),
    ("due before issued", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE],
                                             "invoice_date": "2026-11-20", "due_date": "2026-11-01"}, "before"),
    ("unknown account", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"account": "777777"}]},
     "no account with code '777777'"),
    ("unknown partner", "create_invoice", {"partner": "Nobody Known", "lines": [LINE]}, "no partner 'Nobody Known'"),
    ("3 MB name", "create_invoice", {"partner": "x" * 3_000_000, "lines": [LINE], "create_partner": True},
     "longer than 256"),
    ("a name that fakes lines", "create_invoice", {"partner": "Acme\n---\nstate: approved", "lines": [LINE],
                                                   "create_partner": True}, "control"),
    ("a right-to-left override", "create_bill", {"partner": "Acme \u202eCorp", "lines": [LINE],
                                                 "create_partner": True}, "text-direction"),
    ("unbalanced entry", "log_transaction", {"lines": [{"account": "600000", "debit": 5},
                                                       {"account": "101401", "credit": 4}]}, "not balanced"),
    ("entry on an unknown account", "log_transaction", {"lines": [{"account": "600000", "debit": 5},
                                                                  {"account": "999998", "credit": 5}]}, "999998"),
    ("negative payment", "register_payment", {"invoice": "INV/2026/00001", "amount": -100}, "more than 0"),
    ("infinite payment", "register_payment", {"invoice": "INV/2026/00001", "amount": float("inf")}, "finite"),
]


@pytest.mark.parametrize("tool,args,reason", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_unusable_input_is_refused_before_a_task_exists(odoo_home, tool: str, args: dict, reason: str) -> None:
    home, fake = odoo_home
    head = git(home / "vault", "rev-parse", "HEAD")
    with pytest.raises(BadInput, match=reason):
        getattr(Accounting(home), tool)(**args)
    assert tasks(home) == []
    assert git(home / "vault", "rev-parse", "HEAD") == head  # nothing committed either
    assert not [c for c in fake.calls if c[2] in ("create", "write")]


def test_names_and_descriptions_render_as_plain_text_in_the_note(odoo_home) -> None:
    home, _fake = odoo_home
    out = Accounting(home).create_invoice("[[Evil]] <!-- hidden --> %%gone%% ==mark== $x$", create_partner=True,
                                     lines=[{"description": "*bold* `code` <b>x</b> | cell", "quantity": 1,
                                             "price_unit": 10}])
    body = tasks(home)[0].body
    unescaped = re.sub(r"\\.", "", body)  # what is left once every escaped character is taken out
    assert not [c for c in "[]<>%=$*`|!" if c in unescaped], body
    assert r"\[\[Evil\]\]" in body and r"\<\!\-\- hidden \-\-\>" in body
    note = (home / "vault" / out["note"]).read_text()
    assert "<!-- hidden" not in note.split("---", 2)[2]  # the body part of the note


def test_a_repeated_call_is_the_first_task(odoo_home) -> None:
    home, fake = odoo_home
    tools = Accounting(home)
    first = tools.create_invoice("Acme Corporation", [LINE])
    for _ in range(30):
        again = tools.create_invoice("Acme Corporation", [LINE])
        assert again["task_id"] == first["task_id"] and again["duplicate"]
    keyed = tools.create_invoice("Acme Corporation", [LINE], idempotency_key="order-77")
    assert keyed["task_id"] != first["task_id"] and not keyed["duplicate"]
    retry = tools.create_invoice("Acme Corporation", [LINE | {"quantity": 2}], idempotency_key="order-77")
    assert retry["task_id"] == keyed["task_id"] and retry["duplicate"]
    assert len(tasks(home)) == 2
    commits = git(home / "vault", "log", "--oneline").count("via mcp")
    assert commits == 2  # a duplicate commits nothing


def test_a_poisoned_approved_task_fails_alone(odoo_home) -> None:
    """A task made before these checks (or edited by hand in its note) holding NaN: it fails with
    its reason before anything reaches Odoo, and the other approved task is performed."""
    home, fake = odoo_home
    run = HostRun(home)
    good = Accounting(home).create_invoice("Acme Corporation", [LINE])["task_id"]
    bad, _ = run.home.lifecycle.detect(kind="odoo.invoice", source="mcp", source_ref="old-version", title="Poisoned",
                                       params={"partner": "Poison Ltd", "lines": [LINE | {"price_unit": float("nan")}]},
                                       body="old", via="cli", actor="mcp")
    run.tick()
    for tid in (bad.id, good):
        r = fte_cli("approve", tid, "--home", str(home))
        assert r.exit_code == 0, r.output
    run.tick()
    assert run.home.store.get(good).state == "done"
    row = run.home.store.get(bad.id)
    assert row.state == "failed" and "not sent to Odoo" in row.last_error and "finite" in row.last_error
    assert [p["name"] for p in fake.records["res.partner"].values()] == ["Acme Corporation"]
    run.close()


class Broken:
    """An executor with a bug (not an ExecutionError): the contract's worst case."""

    kinds = ("email.reply",)

    def key_for(self, task) -> str:
        return f"k:{task.id}"

    def perform(self, task, key: str, now: datetime) -> Performed:
        if "boom" in task.title:
            raise RuntimeError("a bug in the executor")
        return Performed(external_id=key)

    def lookup(self, key: str) -> str | None:
        return None


def test_an_executor_bug_fails_its_task_and_the_tick_goes_on(home_dir: Path) -> None:
    from hosts import drop_mail

    drop_mail(home_dir, 1, subject="boom")
    drop_mail(home_dir, 2, subject="fine")
    run = HostRun(home_dir)
    run.runner.executions.executors["email.reply"] = Broken()
    run.tick()
    for task in run.home.store.tasks(state="pending"):
        assert fte_cli("approve", task.id, "--home", str(home_dir)).exit_code == 0
    run.tick()
    by_title = {t.title: t for t in run.home.store.tasks()}
    boom = next(t for title, t in by_title.items() if "boom" in title)
    fine = next(t for title, t in by_title.items() if "fine" in title)
    assert fine.state == "done"
    assert boom.state == "failed" and "RuntimeError: a bug in the executor" in boom.last_error
    assert [e.outcome for e in run.home.store.executions(boom.id)] == ["unknown"]  # it may have happened
    run.close()


CALLER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from fte.usecases.accounting import Accounting
    out = Accounting(Path(sys.argv[1])).create_invoice(sys.argv[2], [{"description": "Work", "quantity": 1,
                                                                  "price_unit": 10}], create_partner=True)
    print(json.dumps(out))
""")


def test_many_processes_and_a_daemon_share_the_home(odoo_home, tmp_path: Path) -> None:
    """Twenty `fte mcp`-like processes at once, while the daemon ticks: every call succeeds and
    reports its task, no process deletes another's files, and every task's note is committed."""
    home, _fake = odoo_home
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    run = HostRun(home)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = [subprocess.Popen([sys.executable, str(script), str(home), f"Client {i}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(20)]
    while any(p.poll() is None for p in procs):
        run.tick()  # the daemon works (and repairs) while the calls are made
    answers = []
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, err
        answers.append(json.loads(out))
    run.tick()
    ids = {a["task_id"] for a in answers}
    assert len(ids) == 20 and ids == {t.id for t in run.home.store.tasks()}
    tracked = git(home / "vault", "ls-files")
    for a in answers:
        assert run.home.store.get(a["task_id"]).note_path in tracked
    run.close()


def test_a_sweep_leaves_a_live_process_temp_file_alone(home_dir: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = home_dir / "vault" / "Pending_Approval"
        live = folder / f"{TEMP_PREFIX}{sleeper.pid}-0"
        dead = folder / f"{TEMP_PREFIX}999999999-0"
        live.write_text("being written")
        dead.write_text("left by a crash")
        with open_home(home_dir):
            pass
        assert live.exists() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_opening_a_home_does_not_rewrite_git_config(home_dir: Path) -> None:
    """Every `fte mcp` call opens the home; a config write takes .git/config.lock, which
    concurrent calls collided on."""
    config = home_dir / "vault" / ".git" / "config"
    with open_home(home_dir):
        pass
    before = config.stat().st_mtime_ns
    time.sleep(0.01)
    with open_home(home_dir):
        pass
    assert config.stat().st_mtime_ns == before


def over_mcp(home: Path, conversation):  # noqa: ANN001, ANN201
    """``conversation(session)`` with `fte mcp` on stdio, through the SDK's own client."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def talk():  # noqa: ANN202
        params = StdioServerParameters(command=sys.executable, args=["-m", "fte", "mcp", "--home", str(home)])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await conversation(session)

    return asyncio.run(talk())


def test_a_refusal_reaches_the_mcp_client_with_its_reason(odoo_home) -> None:
    home, _fake = odoo_home

    async def conversation(session):  # noqa: ANN001, ANN202
        schema = next(t for t in (await session.list_tools()).tools if t.name == "create_invoice").input_schema
        refused = await session.call_tool("create_invoice", {"partner": "Acme Corporation", "lines": [
            {"description": "x", "quantity": 1, "price_unit": -500}]})
        return schema, refused

    schema, refused = over_mcp(home, conversation)
    assert refused.is_error and "line 1 price_unit must be 0 or more" in refused.content[0].text
    line = json.dumps(schema)
    assert "price_unit" in line and "description" in line  # the lines are typed, not "any object"
    assert tasks(home) == []


def test_the_daemon_looks_at_the_work_tree_under_the_host_lock(home_dir: Path) -> None:
    """Found by bench/servers.py: the daemon's `git status` (which writes the refreshed index,
    taking .git/index.lock) ran outside the host lock, and an `fte mcp` call's commit failed on
    index.lock now and then. It waits for the lock now."""
    import threading

    with open_home(home_dir) as h:
        order: list[str] = []
        held = threading.Event()

        def holder() -> None:
            with h.git.lock.hold():
                held.set()
                time.sleep(0.3)
                order.append("released")

        thread = threading.Thread(target=holder)
        thread.start()
        held.wait()
        h.git.working_changes()
        order.append("status")
        thread.join()
        assert order == ["released", "status"]


def test_a_name_at_the_limit_is_taken(odoo_home) -> None:
    home, _fake = odoo_home
    out = Accounting(home).create_invoice("A" * 256, [LINE], create_partner=True)
    assert out["state"] == "detected" and tasks(home)[0].params["partner"] == "A" * 256


# -- strict tool schemas: what a client sends is what the tool declares -----------------------------

#: (what, tool, arguments, the words the refusal must hold): an unknown field, named; a JSON type
#: other than the declared one (pydantic's lax mode took each of these: it dropped the field, or
#: coerced "100" → 100.0, true → 1.0, "yes" → true)
STRICT_CALLS = [
    ("company at the top", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE], "company_id": 2},
     "company_id"),
    ("state at the top", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE], "state": "posted"},
     "state"),
    ("taxes on a line", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"tax_ids": [1]}]},
     "tax_ids"),
    ("journal on a bill", "create_bill", {"partner": "Acme Corporation", "lines": [LINE], "journal_id": 3},
     "journal_id"),
    ("partner on an entry line", "log_transaction", {"lines": [{"account": "600000", "debit": 5, "partner_id": 1},
                                                               {"account": "101401", "credit": 5}]}, "partner_id"),
    ("journal on a payment", "register_payment", {"invoice": "INV/2026/00001", "journal": "BNK1"}, "journal"),
    ("a price that is true", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": True}]},
     "price_unit"),
    ("a price that is text", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE | {"price_unit": "100"}]},
     "price_unit"),
    ("create_partner as text", "create_invoice", {"partner": "Acme Corporation", "lines": [LINE],
                                                  "create_partner": "yes"}, "create_partner"),
    ("an amount as text", "register_payment", {"invoice": "INV/2026/00001", "amount": "100"}, "amount"),
    ("a date as a number", "get_balance", {"code": "101401", "as_of": 20261130}, "as_of"),
    ("a filter the tool lacks", "get_invoices", {"customer": "Acme"}, "customer"),
]


def test_the_tools_refuse_unknown_fields_and_wrong_types_by_name(odoo_home) -> None:
    """Over the real protocol (the SDK's client, `fte mcp` on stdio): each call is an error naming
    the field, and none of them made a task or wrote to Odoo."""
    home, fake = odoo_home

    async def conversation(session):  # noqa: ANN001, ANN202
        listed = {t.name: t.input_schema for t in (await session.list_tools()).tools}
        answers = [await session.call_tool(tool, args) for _what, tool, args, _field in STRICT_CALLS]
        fine = await session.call_tool("create_invoice", {"partner": "Acme Corporation", "lines": [LINE]})
        return listed, answers, fine

    listed, answers, fine = over_mcp(home, conversation)
    for (what, _tool, _args, field), answer in zip(STRICT_CALLS, answers):
        assert answer.is_error, what
        assert field in answer.content[0].text, (what, answer.content[0].text)
    assert not fine.is_error, fine.content[0].text  # the same call, as declared, is taken
    assert len(tasks(home)) == 1
    assert not [c for c in fake.calls if c[2] in ("create", "write")]
    for name, schema in listed.items():  # the client is told: nothing but the declared fields
        assert schema["additionalProperties"] is False, name
    assert listed["create_invoice"]["$defs"]["InvoiceLine"]["additionalProperties"] is False


# -- cross-record checks: a payment is for an open invoice of the company --------------------------

def _invoice(fake: FakeOdoo, company: int = 1, price: float = 500, post: bool = True) -> str:
    """Set-up: an invoice in ``company`` through fte's own client, as Odoo answers it."""
    from fte.odoo import accounting as acc
    from fte.odoo.client import OdooClient

    client = OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, transport="json2", backoff=0,
                        company=company)
    try:
        written = acc.create_invoice(client, f"set-up {len(fake.records['account.move'])}", partner="Acme Corporation",
                                     lines=[{"description": "Work", "quantity": 1, "price_unit": price}], post=post)
        return written.name or f"set-up {len(fake.records['account.move']) - 1}"
    finally:
        client.close()


def test_a_payment_is_refused_unless_its_invoice_is_open_in_the_company(odoo_home) -> None:
    home, fake = odoo_home
    tools = Accounting(home)
    open_one = _invoice(fake, price=500)
    draft_ref = _invoice(fake, price=300, post=False)
    paid = _invoice(fake, price=200)
    fake.records["account.move"][max(fake.records["account.move"])].update(payment_state="paid", amount_residual=0)
    refusals = [({"invoice": "INV/2099/99999"}, "no invoice 'INV/2099/99999' in Odoo's company YourCompany"),
                ({"invoice": draft_ref}, "is draft, not posted"),
                ({"invoice": paid}, "already paid"),
                ({"invoice": open_one, "amount": 500.01}, "more than what is open on")]
    for args, reason in refusals:
        with pytest.raises(BadInput, match=re.escape(reason)):
            tools.register_payment(**args)
    assert tasks(home) == []
    out = tools.register_payment(open_one, amount=500)
    assert out["state"] == "detected" and len(tasks(home)) == 1


def test_the_other_companys_invoice_is_not_this_companys(odoo_home) -> None:
    """Company 2's only invoice has a name company 1 has not used yet: a payment on it is refused."""
    home, fake = odoo_home
    theirs = _invoice(fake, company=2, price=900)
    with pytest.raises(BadInput, match="no invoice"):
        Accounting(home).register_payment(theirs)
    assert tasks(home) == []


def test_the_executor_checks_the_invoice_again_before_paying(odoo_home) -> None:
    """Between approval and execution the invoice may be paid in Odoo, or an edited note may ask for
    more than is open: the payment is refused before the payment wizard is made."""
    from fte.odoo import accounting as acc
    from fte.odoo.client import OdooClient

    _home, fake = odoo_home
    name = _invoice(fake, price=400)
    client = OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, transport="json2", backoff=0)
    try:
        with pytest.raises(BadInput, match="more than what is open"):
            acc.register_payment(client, "fte:pay1", name, amount=400.5)
        assert not fake.records["account.payment.register"]
        assert acc.register_payment(client, "fte:pay1", name, amount=150).existed is False
        assert fake.records["account.move"][max(fake.records["account.move"])]["amount_residual"] == 250
        with pytest.raises(BadInput, match="more than what is open on .* \\(250.00 USD\\)"):
            acc.register_payment(client, "fte:pay2", name, amount=300)
    finally:
        client.close()


# -- read tools: a filter Odoo does not know is an error, not an empty answer ----------------------

READ_REFUSALS = [
    ("a reversed range", "get_invoices", {"date_from": "2026-12-01", "date_to": "2026-11-01"}, "before date_from"),
    ("a reversed period", "get_profit_loss", {"date_from": "2026-12-31", "date_to": "2026-01-01"}, "before date_from"),
    ("no such state", "get_invoices", {"state": "open"}, "state must be one of draft, posted, cancel"),
    ("no such payment state", "get_invoices", {"payment_state": "unpaid"}, "payment_state must be one of not_paid"),
    ("no such account type", "get_accounts", {"account_type": "revenue"}, "account_type must be one of"),
    ("a zero date", "get_balance", {"code": "101401", "as_of": "0000-00-00"}, "not a real date"),
    ("a zero date in a period", "get_profit_loss", {"date_from": "0000-00-00", "date_to": "2026-01-01"},
     "not a real date"),
    ("a code that is a pattern", "get_accounts", {"code": "4%"}, "account code"),
]


@pytest.mark.parametrize("tool,args,reason", [c[1:] for c in READ_REFUSALS], ids=[c[0] for c in READ_REFUSALS])
def test_read_tools_refuse_what_would_answer_nothing(odoo_home, tool: str, args: dict, reason: str) -> None:
    home, _fake = odoo_home
    with pytest.raises(BadInput, match=re.escape(reason)):
        getattr(Accounting(home), tool)(**args)


def test_read_tools_take_every_value_odoo_knows(odoo_home) -> None:
    """The allowed values come from Odoo (``fields_get``), so a value Odoo has is never refused."""
    home, fake = odoo_home
    from fakes.odoo_server import SELECTIONS

    tools = Accounting(home)
    for state in SELECTIONS[("account.move", "state")]:
        tools.get_invoices(state=state)
    for payment_state in SELECTIONS[("account.move", "payment_state")]:
        tools.get_invoices(payment_state=payment_state)
    assert [a["code"] for a in tools.get_accounts(account_type="off_balance")] == []
    assert tools.get_profit_loss("2026-01-01", "2026-01-01")["profit"] == 0
