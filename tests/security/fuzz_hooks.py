"""Schemathesis hooks (SCHEMATHESIS_HOOKS) for tests/security/test_fuzz.py: what a fuzzer
cannot know from any schema, and a well-behaved client does anyway."""

from __future__ import annotations

import os
import re
import uuid
from datetime import date, datetime, timedelta

import schemathesis


def _key_pattern(case) -> re.Pattern[str] | None:
    """The Idempotency-Key pattern the schema documents (it is the server's own)."""
    for parameter in case.operation.definition.raw.get("parameters", []):
        if parameter.get("name") == "Idempotency-Key":
            return re.compile(parameter["schema"]["pattern"])
    return None


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # A key names one request: a client never reuses it for another body (that is a 422, by
    # contract), but a fuzzer draws the same few keys for every operation. A valid key becomes
    # a fresh one; an invalid key stays, so the 400 for it is still tested.
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    pattern = _key_pattern(case)
    if isinstance(key, str) and pattern is not None and pattern.fullmatch(key):
        headers["Idempotency-Key"] = uuid.uuid4().hex
    # A cursor is minted by the gateway: no schema can make one. Positive cases go without
    # (the stateful phase follows real links); negative ones keep theirs, to be refused.
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    query = case.query or {}
    if "cursor" in query and positive:
        del query["cursor"]
    # A report covers `from`..`to`, in order and at most REPORT_MAX_DAYS (the schema says so
    # in words): a positive query gets its `to` within that many days of its `from`.
    if positive and case.path.startswith("/api/v1/reports/"):
        _report_range(query)
    body = case.body
    # Each payout of a batch has an external_id of its own (the schema says so in words; no
    # JSON Schema keyword compares one member across items): a positive batch gets them.
    if positive and isinstance(body, dict) and isinstance(body.get("items"), list):
        _own_external_ids(body["items"])
    # A window's end is later than its start (the schema says so in words; JSON Schema cannot
    # compare two fields): a positive body gets its two ends in order.
    if positive and isinstance(body, dict) and _out_of_order(body):
        body["created_after"], body["created_before"] = (
            body["created_before"],
            body["created_after"],
        )
        if _out_of_order(body):  # the same instant twice
            body["created_before"] = _later(body["created_before"])


def _own_external_ids(items: list) -> None:
    seen: set[object] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "external_id" not in item:
            continue
        if item["external_id"] in seen:
            item["external_id"] = f"{str(item['external_id'])[:56]}-{index}"
        seen.add(item["external_id"])


REPORT_MAX_DAYS = 366  # reports.selectors.MAX_DAYS


def _report_range(query: dict) -> None:
    # An end left out is taken as today, and a start as the end: fill in the missing one from
    # the other, so that the range is the client's choice.
    if "from" in query and "to" not in query:
        query["to"] = query["from"]
    elif "to" in query and "from" not in query:
        query["from"] = query["to"]
    try:
        start, end = date.fromisoformat(str(query["from"])), date.fromisoformat(str(query["to"]))
    except (KeyError, ValueError):
        return
    if not timedelta(0) <= end - start < timedelta(days=REPORT_MAX_DAYS):
        offset = (end - start).days % REPORT_MAX_DAYS
        try:
            query["to"] = (start + timedelta(days=offset)).isoformat()
        except OverflowError:  # near year 9999: the same day
            query["to"] = start.isoformat()


def _instant(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _out_of_order(body: dict) -> bool:
    after, before = _instant(body.get("created_after")), _instant(body.get("created_before"))
    if after is None or before is None:
        return False
    try:
        return after >= before
    except TypeError:  # one with a zone, one without: the server refuses it as invalid
        return False


def _later(text: str) -> str:
    instant = _instant(text)
    assert instant is not None
    return (instant + timedelta(seconds=1)).isoformat()


@schemathesis.hook("filter_case")
def keep_the_fuzz_keys(ctx, case):
    # Revoking the key a run authenticates with is allowed (and tested in
    # tests/tenants/), but would turn the rest of the run into 401s: the fuzz tenants' own
    # keys are spared; every other id (random ones, rotated keys) is still sent.
    if case.method != "DELETE" or not case.path.startswith("/api/v1/api-keys/"):
        return True
    protected = os.environ.get("FUZZ_PROTECTED_KEY_IDS", "").split(",")
    return str((case.path_parameters or {}).get("key_id")) not in protected
