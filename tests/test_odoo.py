"""The Odoo client and accounting operations against a fake Odoo that speaks both transports."""

from __future__ import annotations

import pytest
from fakes.odoo_server import FakeOdoo

from fte.errors import BadInput
from fte.odoo import accounting as acc
from fte.odoo.client import OdooAuthError, OdooClient, OdooNotFound, OdooUserError

COMBOS = [(19, "json2"), (19, "jsonrpc"), (18, "jsonrpc"), (17, "jsonrpc")]


def client_for(fake: FakeOdoo, transport: str, **kw) -> OdooClient:
    secret = {"api_key": fake.api_key} if transport == "json2" else {"password": fake.password}
    return OdooClient(fake.url, fake.db, fake.login, transport=transport, backoff=0, **(secret | kw))


@pytest.fixture(params=COMBOS, ids=[f"odoo{v}-{t}" for v, t in COMBOS])
def odoo(request):
    version, transport = request.param
    with FakeOdoo(version=version) as fake:
        yield fake, client_for(fake, transport)


def moves(fake: FakeOdoo, move_type: str) -> list[dict]:
    return [m for m in fake.records["account.move"].values() if m["move_type"] == move_type]


def test_invoice_is_created_posted_and_never_twice(odoo) -> None:
    fake, client = odoo
    lines = [{"description": "Logo design", "quantity": 1, "price_unit": 1200},
             {"description": "Revisions", "quantity": 3, "price_unit": 80}]
    first = acc.create_invoice(client, "fte:task1", partner="Maria Lopez", partner_email="maria@lopez.example",
                               lines=lines, invoice_date="2026-11-20", due_date="2026-12-20")
    assert first.name == "INV/2026/00001" and not first.existed
    [inv] = moves(fake, "out_invoice")
    assert inv["state"] == "posted" and inv["amount_total"] == 1440.0 and inv["ref"] == "fte:task1"
    partner = fake.records["res.partner"][inv["partner_id"]]
    assert partner["email"] == "maria@lopez.example" and partner["customer_rank"] == 1
    again = acc.create_invoice(client, "fte:task1", partner="Maria Lopez", lines=lines)
    assert again.existed and again.id == first.id and len(moves(fake, "out_invoice")) == 1
    # An existing partner is found by email, not duplicated.
    acc.create_invoice(client, "fte:task2", partner="Acme", partner_email="info@acme.example", lines=lines[:1])
    assert len(fake.records["res.partner"]) == 2


def test_bill_goes_to_payables(odoo) -> None:
    fake, client = odoo
    written = acc.create_bill(client, "fte:b1", partner="Paper Supplies Ltd", lines=[{"description": "Paper", "price_unit": 50}])
    assert written.name == "BILL/2026/00001" if "2026" in written.name else written.name.startswith("BILL/")
    [bill] = moves(fake, "in_invoice")
    assert fake.records["res.partner"][bill["partner_id"]]["supplier_rank"] == 1


def test_unbalanced_entry_is_refused_before_any_call(odoo) -> None:
    fake, client = odoo
    before = len(fake.calls)
    with pytest.raises(BadInput, match="not balanced"):
        acc.log_transaction(client, "fte:e1", [{"account": "600000", "debit": 100}, {"account": "101401", "credit": 90}])
    assert len(fake.calls) == before
    entry = acc.log_transaction(client, "fte:e2", [{"account": "600000", "debit": 100, "label": "Rent"},
                                                   {"account": "101401", "credit": 100}], entry_date="2026-11-02")
    assert entry.name.startswith("MISC/2026/")


def test_reports_add_up(odoo) -> None:
    fake, client = odoo
    acc.create_invoice(client, "fte:i1", partner="A", lines=[{"price_unit": 1000}], invoice_date="2026-11-05")
    acc.create_invoice(client, "fte:i2", partner="B", lines=[{"price_unit": 500}], invoice_date="2026-11-06")
    acc.create_bill(client, "fte:b1", partner="C", lines=[{"price_unit": 300}], invoice_date="2026-11-07")
    acc.log_transaction(client, "fte:e1", [{"account": "600000", "debit": 200}, {"account": "101401", "credit": 200}],
                        entry_date="2026-11-08")
    acc.create_invoice(client, "fte:draft", partner="D", lines=[{"price_unit": 999}], invoice_date="2026-11-09", post=False)
    pnl = acc.get_profit_loss(client, "2026-11-01", "2026-11-30")
    assert pnl == {"from": "2026-11-01", "to": "2026-11-30", "income": 1500.0, "expenses": 500.0, "profit": 1000.0,
                   "company": "YourCompany", "currency": "USD"}
    assert acc.get_balance(client, "121000", "2026-11-30")["balance"] == 1500.0  # receivables, posted only
    assert acc.get_balance(client, "121000", "2026-11-05")["balance"] == 1000.0
    unpaid = acc.get_invoices(client, state="posted", payment_state="not_paid")
    assert sorted(i["amount_total"] for i in unpaid) == [500.0, 1000.0]
    assert [i["partner"] for i in acc.get_invoices(client, partner="B")] == ["B"]
    income = acc.get_accounts(client, account_type="income")
    assert [a["code"] for a in income] == ["400000"]
    assert [a["code"] for a in acc.get_accounts(client, code="4")] == ["400000", "450000"]


def test_payment_pays_once(odoo) -> None:
    fake, client = odoo
    inv = acc.create_invoice(client, "fte:i1", partner="A", lines=[{"price_unit": 750}], invoice_date="2026-11-05")
    paid = acc.register_payment(client, "fte:p1", inv.name, payment_date="2026-11-10")
    assert not paid.existed
    move = fake.records["account.move"][inv.id]
    assert move["payment_state"] == "paid" and move["amount_residual"] == 0
    [payment] = fake.records["account.payment"].values()
    assert payment[acc.payment_memo_field(client)] == "fte:p1" and payment["amount"] == 750.0
    assert acc.register_payment(client, "fte:p1", inv.name).existed
    with pytest.raises(BadInput, match="already paid"):
        acc.register_payment(client, "fte:p2", inv.name)
    assert acc.get_balance(client, "101401", "2026-11-30")["balance"] == 750.0


def test_account_fields_follow_the_version(odoo) -> None:
    fake, client = odoo
    fields = acc.account_fields(client)
    assert ("company_id" in fields) == (fake.version <= 17) and ("active" in fields) == (fake.version >= 19)
    client.search_read("account.account", [], fields, limit=1)  # the server accepts exactly these


def test_errors_keep_the_servers_message(odoo) -> None:
    fake, client = odoo
    inv = acc.create_invoice(client, "fte:i1", partner="A", lines=[{"price_unit": 10}], post=True)
    with pytest.raises(OdooUserError, match=r"must be in draft"):
        client.call("account.move", "action_post", ids=[inv.id])
    with pytest.raises(OdooNotFound):
        client.search_read("res.partner", [], ["nosuchfield"])
    with pytest.raises(OdooNotFound):
        client.call("no.such.model", "search_read", domain=[], fields=["id"])


def test_wrong_credentials() -> None:
    with FakeOdoo() as fake:
        with pytest.raises(OdooAuthError, match="Invalid apikey"):
            OdooClient(fake.url, fake.db, fake.login, api_key="expired-key", transport="json2").search_read("res.partner", [], ["id"])
        with pytest.raises(OdooAuthError, match="refused the login"):
            OdooClient(fake.url, fake.db, fake.login, password="wrong", transport="jsonrpc").search_read("res.partner", [], ["id"])
        with pytest.raises(OdooNotFound, match="wrong database"):
            OdooClient(fake.url, "otherdb", fake.login, api_key=fake.api_key, transport="json2").search_read("res.partner", [], ["id"])


def test_json2_refuses_ids_on_a_model_method_and_unknown_arguments() -> None:
    with FakeOdoo() as fake:
        client = client_for(fake, "json2")
        with pytest.raises(OdooUserError, match="cannot call res.partner.create with ids"):
            client.call("res.partner", "create", ids=[1], vals_list=[{"name": "x"}])
        with pytest.raises(OdooNotFound, match="unexpected keyword"):
            client.call("res.partner", "search_read", domain=[], fields=["id"], nonsense=1)


@pytest.mark.parametrize("version, expected", [(19, "json2"), (18, "jsonrpc")])
def test_auto_transport(version: int, expected: str) -> None:
    with FakeOdoo(version=version) as fake:
        client = OdooClient(fake.url, fake.db, fake.login, api_key=fake.api_key, transport="auto")
        assert client.transport == expected
        assert acc.check(client)["rights"]["account.move"] == "read"
        assert fake.calls[-1][0] == expected


def test_unreachable_reads_are_retried_then_reported() -> None:
    from fakes.smtp import free_port

    from fte.odoo.client import OdooUnreachable

    client = OdooClient(f"http://127.0.0.1:{free_port()}", "db", "u", password="p", transport="jsonrpc", backoff=0)
    with pytest.raises(OdooUnreachable, match="not reachable"):
        client.search_read("res.partner", [], ["id"])


def two_companies(fake: FakeOdoo) -> None:
    """Posted figures in both companies, different in each (and a draft, and entries just outside
    the year, that no figure may count)."""
    fake.post_entry(1, "2026-01-01", [("121000", 50_000.0, 0), ("400000", 0, 50_000.0)])
    fake.post_entry(1, "2026-12-31", [("121000", 74.0, 0), ("450000", 0, 74.0)])
    fake.post_entry(1, "2026-06-30", [("600000", 500.0, 0), ("610000", 100.0, 0), ("620000", 22.27, 0),
                                      ("101401", 0, 622.27)])
    fake.post_entry(1, "2026-07-01", [("600000", 999.0, 0), ("101401", 0, 999.0)], posted=False)
    fake.post_entry(1, "2025-12-31", [("121000", 7.0, 0), ("400000", 0, 7.0)])
    fake.post_entry(1, "2027-01-01", [("600000", 8.0, 0), ("101401", 0, 8.0)])
    fake.post_entry(2, "2026-03-01", [("121000", 12_000.0, 0), ("400000", 0, 12_000.0)])
    fake.post_entry(2, "2026-03-02", [("600000", 3_000.0, 0), ("101401", 0, 3_000.0)])


@pytest.mark.parametrize("version,transport", COMBOS, ids=[f"odoo{v}-{t}" for v, t in COMBOS])
def test_figures_are_one_companys_as_odoo_counts_them(version: int, transport: str) -> None:
    """Odoo's demo database holds two companies; a read without a company sums both. Income and
    expenses follow Odoo's P&L report (posted only; income and other income; cost of revenue,
    expenses and depreciation), over an inclusive date range."""
    with FakeOdoo(version=version) as fake:
        two_companies(fake)
        client = client_for(fake, transport)
        pnl = acc.get_profit_loss(client, "2026-01-01", "2026-12-31")
        assert (pnl["income"], pnl["expenses"], pnl["profit"]) == (50_074.0, 622.27, 49_451.73)
        assert (pnl["company"], pnl["currency"]) == ("YourCompany", "USD")
        balance = acc.get_balance(client, "121000", "2026-12-31")
        assert (balance["balance"], balance["company"], balance["currency"]) == (50_081.0, "YourCompany", "USD")
        assert [a["code"] for a in acc.get_accounts(client, account_type="income")] == ["400000"]
        other = client_for(fake, transport, company="My EU Company")
        pnl = acc.get_profit_loss(other, "2026-01-01", "2026-12-31")
        assert (pnl["income"], pnl["expenses"], pnl["company"], pnl["currency"]) == (12_000.0, 3_000.0, "My EU Company", "EUR")
        assert acc.get_profit_loss(client_for(fake, transport, company=2), "2026-01-01", "2026-12-31")["income"] == 12_000.0


def test_writes_go_to_the_configured_company() -> None:
    with FakeOdoo() as fake:
        client = client_for(fake, "json2", company="My EU Company")
        acc.create_invoice(client, "fte:eu", partner="A", lines=[{"price_unit": 100}], invoice_date="2026-11-05")
        acc.log_transaction(client, "fte:eu-entry", [{"account": "600000", "debit": 5}, {"account": "101401", "credit": 5}])
        assert {m["company_id"] for m in fake.records["account.move"].values()} == {2}
        for line in fake.records["account.move.line"].values():
            assert 2 in (fake.records["account.account"][line["account_id"]].get("company_ids") or [])
        assert acc.get_invoices(client)[0]["currency"] == "EUR"
        assert acc.get_invoices(client_for(fake, "json2")) == []  # not in the login's current company


@pytest.mark.parametrize("company", ["No Such Company", 3])
def test_a_company_the_login_cannot_access_is_refused(company) -> None:
    with FakeOdoo() as fake:
        client = client_for(fake, "json2", company=company)
        with pytest.raises(BadInput, match="YourCompany.*My EU Company"):
            acc.get_profit_loss(client, "2026-01-01", "2026-12-31")
        assert not [c for c in fake.calls if c[1] == "account.move.line"]
