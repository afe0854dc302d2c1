"""The simulators' global chaos mode: seeded, per-reference faults on money requests (held
before or after storing, a first-attempt 500, a lost callback) and per-request faults on reads."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from providers.sandbox import chaos
from providers.sandbox.airtel import scenarios as airtel_scenarios
from providers.sandbox.models import MtnTransaction
from providers.sandbox.zamtel import scenarios as zamtel_scenarios
from tests.providers.sandbox.conftest import TASK

pytestmark = pytest.mark.django_db

CALLBACK = "http://127.0.0.1:9/cb"


@pytest.fixture
def rates(settings):
    settings.SIMULATOR_CHAOS_SEED = 18
    settings.SIMULATOR_CHAOS_TIMEOUT_RATE = 0.10
    settings.SIMULATOR_CHAOS_ERROR_RATE = 0.05
    settings.SIMULATOR_CHAOS_LOST_CALLBACK_RATE = 0.20
    settings.MTN_SIMULATOR_SLOW_SECONDS = 7
    return settings


def reference_with(fault: chaos.Fault, *, lost: bool = False) -> str:
    """A reference whose seeded draw is `fault` (and a lost callback or not)."""
    while True:
        reference = str(uuid.uuid4())
        if (
            chaos.money_fault(operator="mtn", reference=reference) is fault
            and chaos.loses_callback(operator="mtn", reference=reference) is lost
        ):
            return reference


@pytest.fixture
def sleeps(monkeypatch) -> list[tuple[float, bool]]:
    """Each sleep, and whether the request being held was stored by then (no real waiting)."""
    seen: list[tuple[float, bool]] = []

    def sleep(seconds: float) -> None:
        seen.append((seconds, MtnTransaction.objects.exists()))

    monkeypatch.setattr(time, "sleep", sleep)
    return seen


def test_faults_are_drawn_at_the_configured_shares(rates) -> None:
    draws = [str(uuid.UUID(int=number)) for number in range(20_000)]
    faults = Counter(chaos.money_fault(operator="mtn", reference=ref) for ref in draws)
    lost = sum(chaos.loses_callback(operator="mtn", reference=ref) for ref in draws)

    assert faults[chaos.Fault.HANG_BEFORE] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert faults[chaos.Fault.HANG_AFTER] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert faults[chaos.Fault.ERROR] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert lost / 20_000 == pytest.approx(0.20, abs=0.015)


def test_a_reference_draws_the_same_fault_every_time_and_per_seed(rates) -> None:
    refs = [str(uuid.uuid4()) for _ in range(200)]
    first = [chaos.money_fault(operator="mtn", reference=ref) for ref in refs]

    assert first == [chaos.money_fault(operator="mtn", reference=ref) for ref in refs]
    rates.SIMULATOR_CHAOS_SEED = 19
    assert first != [chaos.money_fault(operator="mtn", reference=ref) for ref in refs]


def test_nothing_is_disturbed_when_every_rate_is_zero(mtn, settings, sleeps) -> None:
    settings.SIMULATOR_CHAOS_TIMEOUT_RATE = 0.0
    settings.SIMULATOR_CHAOS_ERROR_RATE = 0.0
    settings.SIMULATOR_CHAOS_LOST_CALLBACK_RATE = 0.0

    for _ in range(20):
        _, response = mtn.request_to_pay(mtn.token(), callback_url=CALLBACK)
        assert response.status_code == 202

    assert sleeps == []
    assert ProcrastinateJob.objects.filter(task_name=TASK).count() == 20


def test_error_fault_answers_500_once_storing_nothing_then_accepts_the_retry(
    mtn, rates, sleeps
) -> None:
    token, reference = mtn.token(), reference_with(chaos.Fault.ERROR)

    _, first = mtn.request_to_pay(token, reference=reference, callback_url=CALLBACK)
    assert first.status_code == 500
    assert not MtnTransaction.objects.exists()

    _, retry = mtn.request_to_pay(token, reference=reference, callback_url=CALLBACK)
    assert retry.status_code == 202
    assert MtnTransaction.objects.get().reference_id == uuid.UUID(reference)
    assert sleeps == []


def test_hang_after_stores_the_request_then_holds_the_answer(mtn, rates, sleeps) -> None:
    _, response = mtn.request_to_pay(
        mtn.token(), reference=reference_with(chaos.Fault.HANG_AFTER), callback_url=CALLBACK
    )

    assert response.status_code == 202
    assert sleeps == [(7, True)]  # held with the request already stored


def test_hang_before_holds_the_request_then_stores_it(mtn, rates, sleeps) -> None:
    _, response = mtn.request_to_pay(
        mtn.token(), reference=reference_with(chaos.Fault.HANG_BEFORE), callback_url=CALLBACK
    )

    assert response.status_code == 202
    assert sleeps == [(7, False)]  # held before anything was stored
    assert MtnTransaction.objects.count() == 1


def test_lost_callback_is_processed_but_never_called_back(mtn, rates) -> None:
    token = mtn.token()
    mtn.request_to_pay(
        token, reference=reference_with(chaos.Fault.NONE, lost=True), callback_url=CALLBACK
    )
    assert MtnTransaction.objects.count() == 1
    assert not ProcrastinateJob.objects.filter(task_name=TASK).exists()

    mtn.request_to_pay(
        token, reference=reference_with(chaos.Fault.NONE, lost=False), callback_url=CALLBACK
    )
    assert ProcrastinateJob.objects.filter(task_name=TASK).count() == 1


def test_a_test_numbers_own_answer_is_kept(mtn, rates, sleeps) -> None:
    rates.SIMULATOR_CHAOS_ERROR_RATE = 0.9  # would make nearly every plain request a 500
    rates.SIMULATOR_CHAOS_TIMEOUT_RATE = 0.0

    _, response = mtn.request_to_pay(mtn.token(), "260960000009")  # 503 to everything

    assert response.status_code == 503


def test_reads_are_answered_503_at_the_error_rate(mtn, rates) -> None:
    token = mtn.token()
    reference = reference_with(chaos.Fault.NONE)
    mtn.request_to_pay(token, reference=reference)
    rates.SIMULATOR_CHAOS_ERROR_RATE = 1.0

    assert mtn.rtp_status(token, reference).status_code == 503
    rates.SIMULATOR_CHAOS_ERROR_RATE = 0.0
    assert mtn.rtp_status(token, reference).status_code == 200


def test_reads_are_held_at_the_timeout_rate(mtn, rates, sleeps) -> None:
    token = mtn.token()
    reference = reference_with(chaos.Fault.NONE)
    mtn.request_to_pay(token, reference=reference)
    rates.SIMULATOR_CHAOS_ERROR_RATE, rates.SIMULATOR_CHAOS_TIMEOUT_RATE = 0.0, 1.0

    assert mtn.rtp_status(token, reference).status_code == 200
    assert sleeps == [(7, True)]


@pytest.mark.parametrize(
    ("operator", "module"), [("airtel", airtel_scenarios), ("zamtel", zamtel_scenarios)]
)
def test_faults_map_onto_the_other_simulators_answers(rates, sleeps, operator, module) -> None:
    plain = module.for_msisdn("260971234567" if operator == "airtel" else "260951234567")
    by_fault: dict[chaos.Fault, str] = {}
    while len(by_fault) < 4:
        reference = str(uuid.uuid4())
        by_fault.setdefault(chaos.money_fault(operator=operator, reference=reference), reference)

    def answer(fault: chaos.Fault) -> object:
        kwargs = {"operator": operator, "answers": module.Answer, "slow_seconds": 3}
        return chaos.disturb(plain, reference=by_fault[fault], **kwargs).answer

    assert answer(chaos.Fault.NONE) is module.Answer.ACCEPT
    assert answer(chaos.Fault.ERROR) is module.Answer.FAIL_FIRST_ATTEMPT
    assert answer(chaos.Fault.HANG_AFTER) is module.Answer.SLOW
    assert answer(chaos.Fault.HANG_BEFORE) is module.Answer.ACCEPT
    assert [seconds for seconds, _ in sleeps] == [3]  # only the hang before storing slept
