"""/errors/ explains every problem code and every payment failure_code: JSON for API
clients, a readable page for browsers."""

from __future__ import annotations

import pytest
from django.test import Client

from gateway import errors
from payments import failures
from providers.base import FailureCode
from tests.problem import assert_problem

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_every_error_class_has_its_own_remedy() -> None:
    Client().get("/errors/")  # every app's errors are registered once the URLs are loaded
    for code, error_class in errors.GatewayError.registry.items():
        assert "remedy" in vars(error_class), f"{code} inherits its parent's remedy"
        assert error_class.remedy.strip(), code


def test_every_failure_code_has_an_entry() -> None:
    assert set(failures.FAILURES) == set(FailureCode.values)


def test_json_catalogue_lists_problems_with_remedies_and_failure_codes() -> None:
    body = Client().get("/errors/").json()

    by_code = {entry["code"]: entry for entry in body["data"]}
    assert by_code["trailing_slash"]["remedy"].startswith("Send the request again to the URL")
    assert by_code["rate_limited"]["url"] == "/errors/rate_limited"
    codes = {entry["failure_code"] for entry in body["failure_codes"]}
    assert codes == set(FailureCode.values)


def test_json_entry_for_one_code() -> None:
    response = Client().get("/errors/api_key_revoked", HTTP_ACCEPT="application/json")

    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "api_key_revoked",
        "status": 401,
        "title": "The API key has been revoked",
        "retryable": False,
        "remedy": errors.ApiKeyRevoked.remedy,
        "url": "/errors/api_key_revoked",
    }


def test_json_entry_for_a_failure_code() -> None:
    body = Client().get("/errors/failures/payer_not_found").json()

    assert body["failure_code"] == "payer_not_found"
    assert body["failure_message"] == failures.FAILURES["payer_not_found"].customer_message
    assert body["retry_may_succeed"] is False


def test_browser_gets_a_readable_page_of_every_code() -> None:
    response = Client().get("/errors/", HTTP_ACCEPT=BROWSER)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<h1>Errors and failure codes</h1>" in page
    assert 'href="/errors/duplicate_external_id"' in page
    assert 'href="/errors/failures/insufficient_funds"' in page
    assert "Remove or correct the parameters named in" in page  # remedies are on the page


def test_browser_page_for_one_code_says_what_happened_and_what_to_do() -> None:
    page = Client().get("/errors/idempotency_key_in_use", HTTP_ACCEPT=BROWSER).content.decode()

    assert "<code>idempotency_key_in_use</code>" in page
    assert "What happened" in page and "A request with this Idempotency-Key" in page
    assert "What to do" in page and "Wait a moment and retry with the same key" in page
    assert "Yes: the same request" in page  # retryable


def test_browser_page_for_a_failure_code_shows_the_customer_sentence() -> None:
    page = Client().get("/errors/failures/insufficient_funds", HTTP_ACCEPT=BROWSER)

    assert page.status_code == 200
    assert "There is not enough money in the mobile-money account." in page.content.decode()


@pytest.mark.parametrize("path", ["/errors/no_such_code", "/errors/failures/no_such_code"])
def test_unknown_code_is_a_404_problem_even_for_a_browser(path) -> None:
    response = Client().get(path, HTTP_ACCEPT=BROWSER)

    assert "/errors/ lists all" in assert_problem(response, 404, "not_found")["detail"]
