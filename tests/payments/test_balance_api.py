"""The balance API: GET /balance, GET /balance-transactions, POST /test/top-ups, and the fee
and net of payment objects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.models import AuditLog
from audit.services import SYSTEM
from payments import services
from payments.ledger.models import Account, AccountKind, Entry, EntryKind, FeeSchedule
from payments.models import Flow, Payment, Status
from tenants.models import Mode, Tenant
from tests.payments.factories import PaymentFactory, fund
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key

pytestmark = pytest.mark.django_db

TRANSACTIONS = "/api/v1/balance-transactions"


def _tenant(test_key) -> Tenant:
    tenant: Tenant = test_key.api_key.tenant
    return tenant


def _payout(tenant: Tenant, amount: str, mode: str = Mode.TEST, **extra) -> Payment:
    return services.create_payment(
        tenant=tenant,
        mode=Mode(mode),
        flow=Flow.DISBURSEMENT,
        amount=Decimal(amount),
        currency="ZMW",
        msisdn="260961234567",
        external_id=extra.pop("external_id", f"payout-{amount}-{mode}"),
        actor=SYSTEM,
        **extra,
    )


def _collected(tenant: Tenant, amount: str, fee: str = "0.00", mode: str = Mode.TEST) -> Payment:
    payment = PaymentFactory.create(
        tenant=tenant, mode=mode, amount=Decimal(amount), fee=Decimal(fee)
    )
    services.transition_payment(payment=payment, status=Status.SUCCESSFUL)
    return payment


def _merchant(tenant: Tenant, mode: str = Mode.TEST) -> Account:
    return Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode=mode)


def _fee(tenant: Tenant, flow: str, percent: str = "0", fixed: str = "0") -> None:
    FeeSchedule.objects.create(
        tenant=tenant, provider="mtn", flow=flow, percent=Decimal(percent), fixed=Decimal(fixed)
    )


# --- GET /balance ---------------------------------------------------------------------------


def test_balance_of_a_tenant_without_account_is_zero_zmw(api) -> None:
    response = api.get("/api/v1/balance")

    assert response.status_code == 200
    assert response.json() == {
        "object": "balance",
        "mode": "test",
        "available": [{"currency": "ZMW", "amount": "0.00"}],
        "reserved": [{"currency": "ZMW", "amount": "0.00"}],
    }
    assert not Account.objects.exists()  # a read opens no account


def test_balance_shows_available_and_reserved_after_a_payout_is_reserved(api, test_key) -> None:
    tenant = _tenant(test_key)
    _fee(tenant, Flow.DISBURSEMENT, percent="1", fixed="1.00")
    fund(tenant, "1000.00")
    _payout(tenant, "150.00")  # fee 1.50 + 1.00

    body = api.get("/api/v1/balance").json()

    assert body["available"] == [{"currency": "ZMW", "amount": "847.50"}]
    assert body["reserved"] == [{"currency": "ZMW", "amount": "152.50"}]


def test_balance_is_scoped_by_tenant_and_mode(client_for, test_key) -> None:
    tenant = _tenant(test_key)
    fund(tenant, "10.00")
    fund(tenant, "20.00", mode=Mode.LIVE)
    fund(TenantFactory.create(), "30.00")
    live_key = issue_key(tenant, Mode.LIVE)

    test_balance = client_for(test_key.secret).get("/api/v1/balance").json()
    live_balance = client_for(live_key.secret).get("/api/v1/balance").json()

    assert test_balance["available"] == [{"currency": "ZMW", "amount": "10.00"}]
    assert (live_balance["mode"], live_balance["available"][0]["amount"]) == ("live", "20.00")


def test_balance_needs_a_key(client_for) -> None:
    assert_problem(client_for("sk_test_wrong").get("/api/v1/balance"), 401, "invalid_api_key")


# --- GET /balance-transactions ---------------------------------------------------------------


def test_transactions_are_signed_from_the_merchants_side_newest_first(api, test_key) -> None:
    tenant = _tenant(test_key)
    fund(tenant, "1000.00")
    collected = _collected(tenant, "200.00", fee="3.00")
    payout = _payout(tenant, "150.00")
    services.transition_payment(payment=payout, status=Status.FAILED, failure_code="expired")

    data = api.get(TRANSACTIONS).json()["data"]

    assert [(t["type"], t["phase"], t["amount"], t["payment"]) for t in data] == [
        ("payout", "void", "-150.00", payout.public_id),
        ("payout", "pending", "-150.00", payout.public_id),
        ("fee", "posted", "-3.00", collected.public_id),
        ("collection", "posted", "200.00", collected.public_id),
        ("top_up", "posted", "1000.00", None),
    ]
    # The balance after each entry: the void gave the reservation back.
    assert [(t["available_after"], t["reserved_after"]) for t in data] == [
        ("1197.00", "0.00"),
        ("1047.00", "150.00"),
        ("1197.00", "0.00"),
        ("1200.00", "0.00"),
        ("1000.00", "0.00"),
    ]
    top_up = data[-1]
    assert top_up["id"].startswith("btx_") and top_up["object"] == "balance_transaction"
    assert top_up["currency"] == "ZMW" and top_up["description"] == "test funds"
    assert top_up["created_at"]


def test_running_balances_match_the_account_and_the_balance(api, test_key) -> None:
    tenant = _tenant(test_key)
    _fee(tenant, Flow.DISBURSEMENT, fixed="2.00")
    fund(tenant, "500.00")
    _collected(tenant, "80.00", fee="1.20")
    done = _payout(tenant, "100.00", external_id="p1")
    services.transition_payment(payment=done, status=Status.SUCCESSFUL)
    _payout(tenant, "40.00", external_id="p2")  # still pending

    newest = api.get(TRANSACTIONS).json()["data"][0]
    balance = api.get("/api/v1/balance").json()
    account = _merchant(tenant)

    assert Decimal(newest["available_after"]) == account.available == Decimal("434.80")
    assert Decimal(newest["reserved_after"]) == account.reserved == Decimal("42.00")
    assert balance["available"][0]["amount"] == newest["available_after"]
    assert balance["reserved"][0]["amount"] == newest["reserved_after"]


def test_transactions_of_another_tenant_or_mode_never_appear(client_for, test_key) -> None:
    tenant = _tenant(test_key)
    fund(tenant, "10.00")
    fund(tenant, "20.00", mode=Mode.LIVE)
    other = TenantFactory.create()
    fund(other, "30.00")
    _collected(other, "40.00")

    data = client_for(test_key.secret).get(TRANSACTIONS).json()["data"]

    assert [t["amount"] for t in data] == ["10.00"]


def test_a_tenant_without_account_has_no_transactions(api) -> None:
    fund(TenantFactory.create(), "30.00")

    assert api.get(TRANSACTIONS).json() == {
        "object": "list",
        "data": [],
        "next": None,
        "previous": None,
    }


def test_transaction_filters(api, test_key) -> None:
    tenant = _tenant(test_key)
    fund(tenant, "1000.00")
    collected = _collected(tenant, "200.00", fee="3.00")
    payout = _payout(tenant, "150.00")

    def listed(**query: str) -> list[tuple[str, str]]:
        return [(t["type"], t["amount"]) for t in api.get(TRANSACTIONS, query).json()["data"]]

    assert listed(type="payout") == [("payout", "-150.00")]
    assert listed(type="top_up") == [("top_up", "1000.00")]
    assert listed(payment=collected.public_id) == [("fee", "-3.00"), ("collection", "200.00")]
    assert listed(payment=payout.public_id, type="fee") == []
    assert listed(created_after="2099-01-01T00:00:00Z") == []
    assert listed(created_before="2000-01-01T00:00:00Z") == []
    assert (
        len(listed(created_after="2000-01-01T00:00:00Z", created_before="2099-01-01T00:00Z")) == 4
    )


def test_another_tenants_payment_id_filters_to_an_empty_list(api, test_key) -> None:
    """Chosen: a filter that matches nothing (like any other), not a 404 that would tell a
    caller whether someone else's payment id exists."""
    other = TenantFactory.create()
    theirs = _collected(other, "40.00")
    live_own = _collected(_tenant(test_key), "50.00", mode=Mode.LIVE)
    fund(_tenant(test_key), "10.00")

    for payment in (theirs, live_own):
        response = api.get(TRANSACTIONS, {"payment": payment.public_id})
        assert response.status_code == 200
        assert response.json()["data"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"type": "bonus"}, "type"),
        ({"payment": "pay_short"}, "payment"),
        ({"payment": "btx_1"}, "payment"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-13-01"}, "created_before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_invalid_filters_are_400_naming_the_field(api, query, field) -> None:
    problem = assert_problem(api.get(TRANSACTIONS, query), 400, "validation_error")

    assert [error["field"] for error in problem["errors"]] == [field]


def test_transactions_come_in_cursor_pages(api, test_key) -> None:
    tenant = _tenant(test_key)
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        fund(tenant, amount)

    page1 = api.get(TRANSACTIONS, {"limit": 2}).json()
    page2 = api.get(page1["next"]).json()
    page3 = api.get(page2["next"]).json()
    back = api.get(page2["previous"]).json()

    amounts = [t["amount"] for page in (page1, page2, page3) for t in page["data"]]
    assert amounts == ["5.00", "4.00", "3.00", "2.00", "1.00"]
    assert page1["previous"] is None and page3["next"] is None
    assert [t["amount"] for t in back["data"]] == ["5.00", "4.00"]


@pytest.mark.parametrize("cursor", ["!!!", "cD14", "cD0yMDI2LTAxLTAxVDAwOjAwOjAw"])
def test_a_cursor_we_did_not_issue_is_400(api, test_key, cursor) -> None:
    fund(_tenant(test_key), "1.00")

    assert_problem(api.get(TRANSACTIONS, {"cursor": cursor}), 400, "invalid_cursor")


# --- POST /test/top-ups ---------------------------------------------------------------------


def test_top_up_credits_the_test_balance_and_answers_201(api, test_key) -> None:
    response = api.post(
        "/api/v1/test/top-ups",
        {"amount": "500.00", "currency": "ZMW", "description": "QA funds"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    entry = Entry.objects.get()
    assert body == {
        "id": f"btx_{entry.pk}",
        "object": "balance_transaction",
        "type": "top_up",
        "phase": "posted",
        "amount": "500.00",
        "currency": "ZMW",
        "payment": None,
        "description": "QA funds",
        "available_after": "500.00",
        "reserved_after": "0.00",
        "created_at": body["created_at"],
    }
    assert api.get(TRANSACTIONS).json()["data"] == [body]
    assert api.get("/api/v1/balance").json()["available"][0]["amount"] == "500.00"
    audit = AuditLog.objects.get(action="ledger.top_up")
    assert (audit.actor_kind, audit.actor_id) == ("api_key", str(test_key.api_key.pk))


def test_top_up_without_description_says_so(api) -> None:
    body = api.post("/api/v1/test/top-ups", {"amount": 25}, format="json").json()

    assert (body["amount"], body["currency"], body["description"]) == (
        "25.00",
        "ZMW",
        "Test top-up",
    )


@pytest.mark.parametrize("body", [{"amount": "500.00"}, {"amount": "nonsense"}, {}])
def test_top_up_with_a_live_key_is_403_whatever_the_body(client_for, body) -> None:
    live = client_for(issue_key(mode=Mode.LIVE).secret)

    response = live.post("/api/v1/test/top-ups", body, format="json")

    problem = assert_problem(response, 403, "test_mode_only")
    assert problem["retryable"] is False
    assert not Entry.objects.exists() and not Account.objects.exists()


def test_top_up_live_mode_is_refused_by_the_service_too(test_key) -> None:
    from payments import errors

    with pytest.raises(errors.TestModeOnly):
        services.top_up_test_balance(
            tenant=_tenant(test_key),
            mode=Mode.LIVE,
            amount=Decimal("5"),
            currency="ZMW",
            actor=SYSTEM,
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "10.123"}, "amount"),
        ({"amount": "1000000.01"}, "amount"),
        ({"amount": "5", "currency": "USD"}, "currency"),
        ({"amount": "5", "currency": "zmw"}, "currency"),
        ({"currency": "ZMW"}, "amount"),
    ],
)
def test_invalid_top_ups_are_400_and_change_nothing(api, body, field) -> None:
    problem = assert_problem(
        api.post("/api/v1/test/top-ups", body, format="json"), 400, "validation_error"
    )

    assert [error["field"] for error in problem["errors"]] == [field]
    assert not Entry.objects.exists()


def test_top_up_replayed_with_its_idempotency_key_credits_once(api, test_key) -> None:
    def post():
        return api.post(
            "/api/v1/test/top-ups",
            {"amount": "500.00"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="top-up-1",
        )

    first, again = post(), post()

    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Entry.objects.filter(kind=EntryKind.TOP_UP).count() == 1
    assert _merchant(_tenant(test_key)).available == Decimal("500.00")


# --- fee and net on payments ----------------------------------------------------------------


def test_payment_objects_show_fee_and_net(api, test_key) -> None:
    tenant = _tenant(test_key)
    _fee(tenant, Flow.COLLECTION, percent="2", fixed="0.50")
    _fee(tenant, Flow.DISBURSEMENT, fixed="1.00")
    fund(tenant, "1000.00")

    collection = api.post(
        "/api/v1/payments",
        {"amount": "150.00", "msisdn": "0961234567", "external_id": "c1"},
        format="json",
    ).json()
    payout = api.post(
        "/api/v1/payments",
        {"flow": "disbursement", "amount": "100.00", "msisdn": "0961234567", "external_id": "d1"},
        format="json",
    ).json()
    listed = api.get("/api/v1/payments").json()["data"]

    assert (collection["fee"], collection["net"]) == ("3.50", "146.50")
    assert (payout["fee"], payout["net"]) == ("1.00", "-101.00")
    assert [(p["fee"], p["net"]) for p in listed] == [("1.00", "-101.00"), ("3.50", "146.50")]
    assert api.get(f"/api/v1/payments/{collection['id']}").json()["fee"] == "3.50"


def test_payout_beyond_the_available_balance_is_402(api, test_key) -> None:
    fund(_tenant(test_key), "100.00")

    response = api.post(
        "/api/v1/payments",
        {"flow": "disbursement", "amount": "100.01", "msisdn": "0961234567", "external_id": "d"},
        format="json",
    )

    problem = assert_problem(response, 402, "insufficient_balance")
    assert (problem["available"], problem["required"]) == ("100.00", "100.01")
    assert not Payment.objects.exists()
