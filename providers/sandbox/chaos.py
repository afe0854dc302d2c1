"""Global, seeded, probabilistic faults for chaos runs (bench/chaos.py), on top of the
per-number scenarios: every simulator (MTN, Airtel, Zamtel) draws from the same settings.

Off unless a SIMULATOR_CHAOS_*_RATE is above 0 (settings refuse them in production, where the
simulators are off anyway). A money-moving request draws its fault from a hash of
(SIMULATOR_CHAOS_SEED, operator, reference), so a run is reproducible whichever process or
thread answers, and a retry with the same reference gets the same fault:

- timeout (SIMULATOR_CHAOS_TIMEOUT_RATE): the answer is held for the simulator's
  *_SIMULATOR_SLOW_SECONDS, half the time *after* the request is stored (the caller timed out
  on a request the operator has), half the time *before* it is stored (the caller's status
  check finds nothing yet; the request lands later);
- 5xx (SIMULATOR_CHAOS_ERROR_RATE): the first attempt of the reference is answered 500 and
  not stored; a retry with the same reference is accepted (the FAIL_FIRST_ATTEMPT scenario);
- lost callback (SIMULATOR_CHAOS_LOST_CALLBACK_RATE, drawn apart): the request is processed
  but its callback is never sent, so only the caller's polling can settle it.

Status reads draw per request (a seeded generator per process): 5xx at the error rate, held
for the slow seconds at the timeout rate. Only plain accepting numbers are disturbed; the test
numbers keep their documented behaviour.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
import random
import threading
import time
from typing import Any, Protocol, TypeVar

from django.conf import settings


class Fault(enum.StrEnum):
    NONE = "none"
    HANG_BEFORE = "hang_before"  # held, then stored
    HANG_AFTER = "hang_after"  # stored, then held
    ERROR = "error"  # 500 to the first attempt, nothing stored


class _Scenario(Protocol):
    """Every simulator's frozen Scenario dataclass."""

    @property
    def answer(self) -> Any: ...

    @property
    def callbacks(self) -> int: ...


S = TypeVar("S", bound=_Scenario)


def enabled() -> bool:
    return any(
        rate > 0
        for rate in (
            settings.SIMULATOR_CHAOS_TIMEOUT_RATE,
            settings.SIMULATOR_CHAOS_ERROR_RATE,
            settings.SIMULATOR_CHAOS_LOST_CALLBACK_RATE,
        )
    )


def _draw(*parts: str) -> float:
    """A number in [0, 1) fixed by the seed and the parts."""
    text = ":".join([str(settings.SIMULATOR_CHAOS_SEED), *parts])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def money_fault(*, operator: str, reference: str) -> Fault:
    draw = _draw(operator, reference, "answer")
    timeout, error = settings.SIMULATOR_CHAOS_TIMEOUT_RATE, settings.SIMULATOR_CHAOS_ERROR_RATE
    if draw < timeout:
        return Fault.HANG_AFTER if draw < timeout / 2 else Fault.HANG_BEFORE
    if draw < timeout + error:
        return Fault.ERROR
    return Fault.NONE


def loses_callback(*, operator: str, reference: str) -> bool:
    return _draw(operator, reference, "callback") < settings.SIMULATOR_CHAOS_LOST_CALLBACK_RATE


def disturb(scenario: S, *, operator: str, reference: str, answers: Any, slow_seconds: float) -> S:
    """The scenario a money-moving request is answered with under chaos. `answers` is the
    simulator's Answer enum (ACCEPT, SLOW, FAIL_FIRST_ATTEMPT). For a timeout before storing,
    this call itself holds the request for `slow_seconds` before returning."""
    if not enabled() or scenario.answer is not answers.ACCEPT:
        return scenario
    fault = money_fault(operator=operator, reference=reference)
    if fault is Fault.HANG_BEFORE:
        time.sleep(slow_seconds)
    changes: dict[str, Any] = {}
    if fault is Fault.HANG_AFTER:
        changes["answer"] = answers.SLOW
    elif fault is Fault.ERROR:
        changes["answer"] = answers.FAIL_FIRST_ATTEMPT
    if loses_callback(operator=operator, reference=reference):
        changes["callbacks"] = 0
    return dataclasses.replace(scenario, **changes) if changes else scenario  # type: ignore[type-var]  # every simulator's Scenario is a dataclass


_random_lock = threading.Lock()
_randoms: dict[int, random.Random] = {}


def disturb_read(*, slow_seconds: float) -> bool:
    """Under chaos, hold a status read for `slow_seconds` at the timeout rate; True when it
    must be answered 5xx instead (the error rate). Drawn from a generator seeded with the
    seed and this process's id: reads have no reference of their own to hash."""
    if not enabled():
        return False
    with _random_lock:
        generator = _randoms.setdefault(
            os.getpid(),
            random.Random(f"{settings.SIMULATOR_CHAOS_SEED}:{os.getpid()}"),  # noqa: S311  # faults, not secrets
        )
        draw = generator.random()
    error, timeout = settings.SIMULATOR_CHAOS_ERROR_RATE, settings.SIMULATOR_CHAOS_TIMEOUT_RATE
    if draw < error:
        return True
    if draw < error + timeout:
        time.sleep(slow_seconds)
    return False
