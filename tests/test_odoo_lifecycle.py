"""Accounting in the lifecycle: tasks from MCP and from the drafter, approved, executed once in Odoo."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import TEST_EPOCH, fte_cli
from fakes.odoo_server import FakeOdoo
from hosts import HostRun

from fte.host.home import open_home
from fte.models.tables import Task
from fte.odoo.client import OdooClient
from fte.usecases.accounting import Accounting


def configure(home: Path, fake: FakeOdoo, transport: str = "auto") -> None:
    toml = home / "fte.toml"
    toml.write_text(toml.read_text() + f'\n[odoo]\nurl = "{fake.url}"\ndb = "{fake.db}"\nlogin = "{fake.login}"\n'
                                       f'transport = "{transport}"\n')
    (home / ".env").write_text(f"FTE_ODOO_API_KEY={fake.api_key}\n")


@pytest.fixture
def odoo_home(home_dir: Path):
    with FakeOdoo() as fake:
        configure(home_dir, fake)
        yield home_dir, fake


def test_read_tools_answer_and_write_tools_only_make_tasks(odoo_home) -> None:
    home, fake = odoo_home
    tools = Accounting(home)
    assert [a["code"] for a in tools.get_accounts(account_type="income")] == ["400000"]
    before = [c for c in fake.calls if c[2] in ("create", "write", "action_post")]
    out = tools.create_invoice("Maria Lopez", [{"description": "Logo", "quantity": 1, "price_unit": 1200}],
                               partner_email="maria@lopez.example", create_partner=True)
    assert out["state"] == "detected" and "Nothing was written to Odoo" in out["message"]
    assert [c for c in fake.calls if c[2] in ("create", "write", "action_post")] == before
    with pytest.raises(Exception, match="not balanced"):
        tools.log_transaction([{"account": "600000", "debit": 5}, {"account": "101401", "credit": 4}])
    with open_home(home) as h:
        [task] = h.store.tasks()
        assert task.kind == "odoo.invoice" and task.params["lines"][0]["price_unit"] == 1200


def test_an_approved_invoice_is_written_once(odoo_home) -> None:
    home, fake = odoo_home
    tid = Accounting(home).create_invoice("Maria Lopez", [{"description": "Logo", "quantity": 2, "price_unit": 600}],
                                     create_partner=True)["task_id"]
    run = HostRun(home)
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "pending" and task.note_path.startswith("Pending_Approval/odoo/")
    assert "total 1200.00" in task.body
    assert fake.records["account.move"] == {}
    fte_cli("approve", tid, "--home", str(home))
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "done", task.last_error
    [move] = fake.records["account.move"].values()
    assert move["ref"] == f"fte:{tid}" and move["state"] == "posted" and move["amount_total"] == 1200.0
    assert move["move_type"] == "out_invoice"  # a customer invoice, not a vendor bill
    # The same task executed again (a retry after a lost answer) finds its ref and writes nothing.
    executor = run.runner.executions.executors["odoo.invoice"]
    again = executor.perform(task, executor.key_for(task), TEST_EPOCH)
    assert again.external_id.startswith(f"account.move:{move['id']}") and len(fake.records["account.move"]) == 1
    run.close()


def test_a_failed_payment_is_never_retried_automatically(odoo_home) -> None:
    home, fake = odoo_home
    client = OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, backoff=0)
    from fte.odoo import accounting

    inv = accounting.create_invoice(client, "fte:x", partner="A", lines=[{"price_unit": 100}])
    tid = Accounting(home).register_payment(inv.name, amount=100)["task_id"]
    run = HostRun(home)
    run.tick()
    fte_cli("approve", tid, "--home", str(home))
    fake.fail_next = [503] * 20  # the proxy in front of Odoo fails for a while
    run.tick()
    fake.fail_next = []
    run.tick()
    run.tick()
    task = run.home.store.get(tid)
    assert task.state == "failed"
    assert [e.outcome for e in run.home.store.executions(tid)] == ["unknown"]
    assert fake.records["account.payment"] == {}
    plan = json.loads(fte_cli("replay", tid, "--dry-run", "--json", "--home", str(home)).output)
    assert plan[0]["target"] == "pending"  # a payment needs a fresh approval
    run.close()


@pytest.mark.parametrize("point, state, payments", [("after-claim-push", "done", 1), ("before-call", "failed", 0),
                                                  ("after-call", "done", 1)])
def test_a_payment_cut_short_by_a_crash_is_paid_at_most_once(odoo_home, point: str, state: str, payments: int) -> None:
    """A real daemon killed (SIGKILL) after the payment's claim was pushed (no attempt row: Odoo was
    never asked), after its attempt row (Odoo not asked yet), or after Odoo registered it (the
    attempt not finished). The next daemon: the claim with no attempt is paid; the attempt Odoo took
    is found by its memo and is done; an attempt not found is **not** paid again — a payment is
    never retried on its own (docs/execution.md): it fails for a person, who approves it afresh."""
    import os
    import subprocess

    home, fake = odoo_home
    client = OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, backoff=0)
    from fte.odoo import accounting

    inv = accounting.create_invoice(client, "fte:x", partner="A", lines=[{"price_unit": 100}])
    tid = Accounting(home).register_payment(inv.name, amount=100)["task_id"]
    daemon = [sys.executable, "-m", "fte", "daemon", "--once", "--home", str(home)]
    assert subprocess.run(daemon, capture_output=True, text=True).returncode == 0
    fte_cli("approve", tid, "--home", str(home))
    crashed = subprocess.run(daemon, env={**os.environ, "FTE_CRASHPOINT": point}, capture_output=True, text=True)
    assert crashed.returncode == -9, crashed.stderr
    with open_home(home) as h:
        assert h.store.get(tid).state == "claimed"
    again = subprocess.run(daemon, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    with open_home(home) as h:
        task = h.store.get(tid)
        assert task.state == state, task.last_error
    memos = [p.get("memo", p.get("communication")) for p in fake.records["account.payment"].values()]
    assert memos == [f"fte:{tid}"] * payments
    if state == "failed":
        assert "needs a person" in task.last_error
        plan = json.loads(fte_cli("replay", tid, "--dry-run", "--json", "--home", str(home)).output)
        assert plan[0]["target"] == "pending"  # a fresh approval, never a silent second try


def test_an_approved_bill_is_a_vendor_bill_and_a_payment_of_no_invoice_is_refused(odoo_home) -> None:
    from fte.io.channels.contract import ExecutionError
    from fte.io.channels.odoo import OdooExecutor

    _home, fake = odoo_home
    executor = OdooExecutor(OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, backoff=0))
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    bill = Task(id="b" * 32, kind="odoo.bill", params={"partner": "Paper Co", "lines": [
        {"description": "Paper", "quantity": 1, "price_unit": 80}]})
    done = executor.perform(bill, executor.key_for(bill), now)
    [move] = [m for m in fake.records["account.move"].values() if m["ref"] == f"fte:{'b' * 32}"]
    assert move["move_type"] == "in_invoice" and done.external_id.startswith(f"account.move:{move['id']}")
    pay = Task(id="p" * 32, kind="odoo.payment", params={"invoice": "INV/2026/40404", "amount": 10})
    with pytest.raises(ExecutionError, match="Odoo refused it: no invoice 'INV/2026/40404'") as info:
        executor.perform(pay, executor.key_for(pay), now)
    assert not info.value.transient and fake.records["account.payment"] == {}


def test_odoo_check_and_reads_on_the_command_line(odoo_home) -> None:
    home, _fake = odoo_home
    r = fte_cli("odoo", "check", "--json", "--home", str(home))
    info = json.loads(r.output)
    assert info["version"] == "19.0" and info["transport"] == "json2" and info["rights"]["account.move"] == "read"
    r = fte_cli("odoo", "accounts", "--code", "4", "--json", "--home", str(home))
    assert [a["code"] for a in json.loads(r.output)] == ["400000", "450000"]
    r = fte_cli("odoo", "pnl", "--from", "2026-01-01", "--to", "2026-12-31", "--home", str(home))
    assert json.loads(r.output)["profit"] == 0


def test_odoo_check_names_the_company_and_refuses_one_the_login_cannot_access(odoo_home) -> None:
    home, fake = odoo_home
    info = json.loads(fte_cli("odoo", "check", "--json", "--home", str(home)).output)
    assert info["company"] == {"id": 1, "name": "YourCompany", "currency": "USD"}
    r = fte_cli("odoo", "balance", "999000", "--home", str(home), code=2)
    assert r.exit_code == 2 and "no account with code '999000'" in r.output  # not a balance of 0
    toml = home / "fte.toml"
    toml.write_text(toml.read_text().replace("[odoo]\n", '[odoo]\ncompany = "My EU Company"\n'))
    info = json.loads(fte_cli("odoo", "check", "--json", "--home", str(home)).output)
    assert info["company"] == {"id": 2, "name": "My EU Company", "currency": "EUR"}
    toml.write_text(toml.read_text().replace('company = "My EU Company"', 'company = "Globex"'))
    r = fte_cli("odoo", "check", "--home", str(home), code=2)
    assert r.exit_code == 2 and "cannot access company 'Globex'" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_fte_mcp_over_stdio(odoo_home, tmp_path: Path) -> None:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    home, fake = odoo_home
    stderr = tmp_path / "mcp-stderr.txt"

    async def talk() -> tuple[list[str], str, str]:
        params = StdioServerParameters(command=sys.executable, args=["-m", "fte", "mcp", "--home", str(home)])
        with stderr.open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    names = sorted(t.name for t in (await session.list_tools()).tools)
                    accounts = await session.call_tool("get_accounts", {"account_type": "income"})
                    created = await session.call_tool("create_bill", {"partner": "Paper Ltd", "create_partner": True, "lines": [
                        {"description": "Paper", "quantity": 1, "price_unit": 40}]})
                    return names, accounts.content[0].text, created.content[0].text

    names, accounts, created = asyncio.run(talk())
    assert stderr.read_text() == ""  # MCP clients show a server's stderr as noise: nothing on success
    assert names == sorted(["get_accounts", "get_invoices", "get_balance", "get_profit_loss", "create_invoice",
                            "create_bill", "log_transaction", "register_payment"])
    assert "400000" in accounts
    assert "Nothing was written to Odoo" in created
    assert fake.records["account.move"] == {}
    with open_home(home) as h:
        assert [t.kind for t in h.store.tasks()] == ["odoo.bill"]


def test_an_invoice_request_in_a_mail_becomes_an_invoice_task(home_dir: Path) -> None:
    from fakes.openai_server import FakeOpenAI
    from hosts import drop_mail
    from test_openai_drafter import use_openai

    with FakeOpenAI() as ai:
        use_openai(home_dir, ai.base_url)
        drop_mail(home_dir, 1, subject="Invoice please")
        ai.reply({"action": "invoice_request", "subject": "", "body": "Dear Ann, I will send the invoice.", "reason": "asks"})
        run = HostRun(home_dir)
        run.tick()
        run.tick()
        kinds = sorted((t.kind, t.state) for t in run.home.store.tasks())
        assert kinds == [("email.reply", "pending"), ("odoo.invoice", "pending")]
        inv = next(t for t in run.home.store.tasks() if t.kind == "odoo.invoice")
        assert inv.params["partner_email"] == "ann@example.com" and inv.params["lines"][0]["price_unit"] == 0
        assert inv.body.startswith("Create and post a customer invoice for Ann Example")
        assert len(ai.requests) == 1  # the invoice task is summarised, not sent to the model
        run.close()


def test_the_briefing_takes_revenue_and_profit_from_odoo(odoo_home) -> None:
    home, fake = odoo_home
    from datetime import timedelta

    from fte.clock import utcnow
    from fte.odoo import accounting

    client = OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, backoff=0)
    today = (utcnow() - timedelta(days=1)).date().isoformat()  # within the week the briefing looks back on
    accounting.create_invoice(client, "fte:a", partner="A", lines=[{"price_unit": 900}], invoice_date=today)
    accounting.create_bill(client, "fte:b", partner="B", lines=[{"price_unit": 250}], invoice_date=today)
    fake.post_entry(2, today, [("121000", 900.0, 0), ("400000", 0, 900.0)])  # the other company: not counted
    r = fte_cli("report", "--home", str(home))
    assert r.exit_code == 0
    [briefing] = (home / "vault" / "Briefings").glob("*_Monday_Briefing.md")
    text = briefing.read_text()
    assert "| 900.00 | 250.00 | 650.00 |" in text and "not configured" not in text
    assert "for YourCompany" in text and "in USD" in text
    fake.fail_next = [503] * 10
    data = json.loads(fte_cli("report", "--json", "--home", str(home)).output)
    assert "not reachable" in data["odoo"]["error"] or "503" in data["odoo"]["error"]


@pytest.mark.parametrize("held", ["no executor here", "its limit reached"])
def test_a_kind_held_back_does_not_hold_back_the_tasks_after_it(odoo_home, held: str) -> None:
    """An approved invoice comes first in the claim round, but this host has no Odoo executor (or
    its hourly limit is reached): it waits approved, and the reply approved after it is sent."""
    from hosts import drop_mail

    from fte.daemon import Runner

    home, _fake = odoo_home
    if held == "its limit reached":
        toml = home / "fte.toml"
        toml.write_text(toml.read_text().replace('"odoo.payment" = 3\n', '"odoo.payment" = 3\n"odoo.invoice" = 0\n', 1))
    invoice = Accounting(home).create_invoice("Maria Lopez", [{"description": "Logo", "quantity": 1, "price_unit": 600}],
                                         create_partner=True)["task_id"]
    drop_mail(home, 1)
    run = HostRun(home)
    if held == "no executor here":
        run.runner = Runner(run.home, executors={"email.reply": run.runner.executions.executors["email.reply"]})
    run.tick()
    [reply] = [t.id for t in run.home.store.tasks(state="pending") if t.kind == "email.reply"]
    for tid in (invoice, reply):
        fte_cli("approve", tid, "--home", str(home))
    run.tick()
    assert run.home.store.get(invoice).state == "approved" and run.home.store.get(reply).state == "done"
    run.close()


# -- the executor's answers, one by one (written from a mutation run's survivors) -------------------

def executor_for(fake: FakeOdoo):  # noqa: ANN201
    from fte.io.channels.odoo import OdooExecutor

    return OdooExecutor(OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, backoff=0, retries=0))


NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)


def test_an_approved_entry_and_payment_are_written_as_such(odoo_home) -> None:
    _home, fake = odoo_home
    ex = executor_for(fake)
    entry = Task(id="e" * 32, kind="odoo.entry", params={"date": "2026-11-26", "lines": [
        {"account": "600000", "debit": 50, "label": "Paper"}, {"account": "101401", "credit": 50, "label": "Bank"}]})
    ex.perform(entry, ex.key_for(entry), NOW)
    [move] = [m for m in fake.records["account.move"].values() if m["ref"] == f"fte:{'e' * 32}"]
    assert move["move_type"] == "entry" and move["state"] == "posted"
    assert len([x for x in fake.records["account.move.line"].values() if x["move_id"] == move["id"]]) == 2
    from fte.odoo import accounting

    inv = accounting.create_invoice(ex.client, "fte:inv", partner="A", lines=[{"price_unit": 100}])
    pay = Task(id="p" * 32, kind="odoo.payment", params={"invoice": inv.name, "amount": 100})
    done = ex.perform(pay, ex.key_for(pay), NOW)
    assert done.external_id.startswith("account.payment:") and ex.lookup(ex.key_for(pay)) == done.external_id.split()[0]


def test_what_odoo_cannot_take_is_refused_before_any_call(odoo_home) -> None:
    from fte.io.channels.contract import ExecutionError

    _home, fake = odoo_home
    ex = executor_for(fake)
    before = len(fake.calls)
    entry = Task(id="e" * 32, kind="odoo.entry", params={"lines": [{"account": "600000", "debit": 50},
                                                                   {"account": "101401", "credit": 40}]})
    with pytest.raises(ExecutionError, match="not sent to Odoo") as info:
        ex.perform(entry, ex.key_for(entry), NOW)
    assert not info.value.transient and len(fake.calls) == before


def test_odoo_down_is_transient_a_lost_answer_is_unknown_and_a_bad_key_is_permanent(odoo_home) -> None:
    from fte.io.channels.contract import ExecutionError, OutcomeUnknown

    _home, fake = odoo_home
    ex = executor_for(fake)
    bill = Task(id="b" * 32, kind="odoo.bill", params={"partner": "Paper Co", "lines": [
        {"description": "Paper", "quantity": 1, "price_unit": 80}]})
    fake.fail_next = [503] * 10
    with pytest.raises(ExecutionError) as down:
        ex.perform(bill, ex.key_for(bill), NOW)
    with pytest.raises(ExecutionError) as looked:
        ex.lookup(ex.key_for(bill))
    assert down.value.transient and looked.value.transient and not isinstance(down.value, OutcomeUnknown)
    fake.fail_next = []
    fake.drop_after_next_write = True
    with pytest.raises(OutcomeUnknown):  # the first write (the new partner) done, its answer lost
        ex.perform(bill, ex.key_for(bill), NOW)
    ex.perform(bill, ex.key_for(bill), NOW)  # what a retry after the lookup does: the bill, once
    assert [m["ref"] for m in fake.records["account.move"].values()].count(f"fte:{'b' * 32}") == 1
    assert [p["name"] for p in fake.records["res.partner"].values()].count("Paper Co") == 1
    stranger = executor_for(fake)
    stranger.client.api_key = "wrong"
    with pytest.raises(ExecutionError) as refused:
        stranger.perform(Task(id="c" * 32, kind="odoo.bill", params=bill.params), "fte:" + "c" * 32, NOW)
    assert not refused.value.transient
