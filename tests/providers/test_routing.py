from __future__ import annotations

import pytest

from providers.base import Provider
from providers.routing import InvalidMsisdn, UnsupportedOperator, normalize_msisdn, route_msisdn
from tests.problem import assert_problem


@pytest.mark.parametrize(
    "raw", ["0961234567", "961234567", "260961234567", "+260 96 123 4567", " +260-96-123-4567 "]
)
def test_common_spellings_normalize_to_e164_digits(raw: str) -> None:
    assert normalize_msisdn(raw) == "260961234567"


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "12", "0211234567", "+27 82 123 4567", "09612345678", "0961234567x", "260" * 6],
)
def test_non_zambian_mobile_numbers_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidMsisdn):
        normalize_msisdn(raw)


@pytest.mark.parametrize(
    ("number", "provider"),
    [
        ("260961234567", Provider.MTN),
        ("260761234567", Provider.MTN),
        ("260561234567", Provider.MTN),
        ("260971234567", Provider.AIRTEL),
        ("260771234567", Provider.AIRTEL),
        ("260571234567", Provider.AIRTEL),
        ("260951234567", Provider.ZAMTEL),
        ("260751234567", Provider.ZAMTEL),
        ("260551234567", Provider.ZAMTEL),
    ],
)
def test_prefix_routes_to_operator(number: str, provider: Provider) -> None:
    assert route_msisdn(number) is provider


def test_numbers_of_unsupported_operators_are_refused() -> None:
    with pytest.raises(UnsupportedOperator):
        route_msisdn(normalize_msisdn("0981234567"))  # Beeline


@pytest.mark.django_db
def test_predict_endpoint(api) -> None:
    response = api.get("/api/v1/providers/predict", {"msisdn": "+260 97 123 4567"})

    assert response.status_code == 200
    assert response.json() == {"msisdn": "260971234567", "provider": "airtel"}


@pytest.mark.django_db
def test_predict_endpoint_explains_a_bad_number(api) -> None:
    body = assert_problem(
        api.get("/api/v1/providers/predict", {"msisdn": "0211234567"}), 400, "validation_error"
    )
    assert body["errors"] == [
        {"field": "msisdn", "message": "'0211234567' is not a mobile number."}
    ]
    assert_problem(api.get("/api/v1/providers/predict"), 400, "validation_error")
    assert_problem(
        api.get("/api/v1/providers/predict", {"msisdn": "0981234567"}), 400, "unsupported_operator"
    )


def test_predict_requires_a_key(client, db) -> None:  # db: the rate limit counts it too
    assert_problem(
        client.get("/api/v1/providers/predict?msisdn=0961234567"), 401, "authentication_required"
    )
