"""Idempotency keys (Stripe's semantics, the IETF Idempotency-Key draft).

A retry of a finished request is answered from one indexed read of its key (`replay`), with
no transaction. Otherwise the key is claimed (`claim`) with an INSERT under the (tenant,
mode, key) unique constraint *inside the request's own transaction*, and the request's work
and its stored response (`complete`) commit with it: one transaction, one commit. After a
crash either both exist (a retry replays the response) or neither does (a retry runs the
request again). A concurrent request with the same key waits on the unique index until the
first one ends: if it committed, the waiting one replays its answer; if it rolled back (an
exception, a 5xx, 401, 403 or 429, a crash), its key never existed and the waiting one runs
as a new request. A request that fails therefore leaves no key behind, and one whose process
dies is rolled back by PostgreSQL with its connection.

Keys `in_progress` are only those of releases that claimed a key in a transaction of its own:
held for `IDEMPOTENCY_LEASE_SECONDS` (409 `idempotency_key_in_use`), then taken over. A key
past its TTL is forgotten even before the purge: reusing it is a new request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone

from gateway import errors as gateway_errors
from gateway import jsonbody
from payments import errors
from payments.models import IdempotencyKey, IdempotencyState, Payment
from tenants.authentication import ApiCaller

logger = logging.getLogger(__name__)

# Printable ASCII, no leading space; the schema documents this very pattern (gateway.openapi).
VALID_KEY = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")
# Headers a replay must repeat; hop-by-hop and per-response ones (request id) are left out.
_REPLAYED_HEADERS = ("Content-Type", "Location", "Retry-After")
# Answers given before the request's work began: not the request's result, so not stored.
_NOT_STORED = {401, 403, 429}
# INSERT-then-SELECT rounds before giving up when the key's row keeps vanishing in between.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """What the caller should do with a request that carries a key."""

    record: IdempotencyKey | None = None  # proceed, and finish this record
    replay: HttpResponse | None = None  # answer with this stored response


def validate_key(raw: str) -> str:
    if not VALID_KEY.fullmatch(raw):
        raise errors.InvalidIdempotencyKey()
    return raw


def fingerprint(body: bytes) -> str:
    """SHA-256 of the body in canonical form: the same JSON in any key order matches.

    Raises `InvalidJson` for JSON that no request may carry (too deep, NUL, lone surrogates):
    such a request is answered 400 before its key is claimed, so it spends no key. A body that
    is not JSON at all is hashed as it is; its view answers it (`400 malformed_request`, `415`).
    """
    try:
        document = jsonbody.loads(body)
    except gateway_errors.InvalidJson:
        raise
    except gateway_errors.MalformedRequest:
        canonical = body
    else:
        canonical = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return hashlib.sha256(canonical).hexdigest()


def replay(
    *, caller: ApiCaller, key: str, method: str, path: str, digest: str
) -> HttpResponse | None:
    """The stored answer of a finished request with this key, from one indexed read; None
    when the key must be claimed (new, expired, or held by an older release's request).

    Raises `IdempotencyKeyMismatch`. Needs no transaction: a completed key changes only once
    its TTL has passed, and then it is not answered from here.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _REPLAY_SQL,
            [
                caller.api_key.tenant_id,
                caller.mode,
                key,
                IdempotencyState.COMPLETED,
                timezone.now(),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    first_method, first_path, first_digest, status, headers, body = row
    if (first_method, first_path, first_digest) != (method, path, digest):
        raise _mismatch(key=key, method=first_method, path=first_path)
    return _replay_response(
        status, json.loads(headers) if isinstance(headers, str) else headers, body
    )


def claim(*, caller: ApiCaller, key: str, method: str, path: str, digest: str) -> Claim:
    """Claim the key for this request, or say how to answer instead.

    Call inside the transaction that runs the request and `complete()`s it: the claim
    commits, or vanishes, with them. Waits while another request holds the same key in its
    own transaction (until it commits, then replays it, or rolls back, then claims it).
    Raises `IdempotencyKeyMismatch` and `IdempotencyKeyInUse`.
    """
    now = timezone.now()
    for _ in range(_CLAIM_ATTEMPTS):
        record = _insert(
            tenant=caller.tenant,
            mode=caller.mode,
            key=key,
            method=method,
            path=path,
            fingerprint=digest,
            locked_at=now,
            expires_at=now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
        )
        if record is not None:
            return Claim(record=record)
        # The key exists, and its request has ended: decide from its state, under its lock.
        record = (
            IdempotencyKey.objects.select_for_update()
            .filter(tenant=caller.tenant, mode=caller.mode, key=key)
            .first()
        )
        if record is not None:
            return _decide(record, method=method, path=path, digest=digest, now=now)
        # Deleted between our INSERT and our SELECT (the purge ran): the key is free again.
    raise errors.IdempotencyKeyInUse("Retry after 1 s.", headers={"Retry-After": "1"})


_INSERT_SQL = f"""
INSERT INTO {IdempotencyKey._meta.db_table}
    (tenant_id, mode, key, method, path, fingerprint, state, locked_at, response_headers,
     created_at, expires_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '{{}}'::jsonb, %s, %s)
ON CONFLICT ON CONSTRAINT idempotency_key_uniq_per_tenant_mode DO NOTHING
RETURNING id
"""  # noqa: S608  # nosec B608  # the model's own table name, no input


# The hot statements are written out: constant text, so the ORM compiles nothing per request.
_REPLAY_SQL = f"""
SELECT method, path, fingerprint, response_status, response_headers, response_body
FROM {IdempotencyKey._meta.db_table}
WHERE tenant_id = %s AND mode = %s AND key = %s AND state = %s AND expires_at > %s
"""  # noqa: S608  # nosec B608  # the model's own table name, no input
_COMPLETE_SQL = f"""
UPDATE {IdempotencyKey._meta.db_table}
SET state = %s, locked_at = NULL, response_status = %s, response_headers = %s::jsonb,
    response_body = %s,
    payment_id = (SELECT id FROM {Payment._meta.db_table}
                  WHERE tenant_id = %s AND mode = %s AND public_id = %s)
WHERE id = %s
"""  # noqa: S608  # nosec B608  # the models' own table names, no input


def _insert(**fields: Any) -> IdempotencyKey | None:
    """The new key, or None if (tenant, mode, key) exists and its request has ended.

    ON CONFLICT DO NOTHING instead of catching an IntegrityError: no savepoint, and while
    another transaction holds an uncommitted row for the same key, PostgreSQL makes this
    statement wait for that transaction to end, then decides.
    """
    record = IdempotencyKey(
        state=IdempotencyState.IN_PROGRESS, created_at=fields["locked_at"], **fields
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            [
                record.tenant_id,
                record.mode,
                record.key,
                record.method,
                record.path,
                record.fingerprint,
                record.state,
                record.locked_at,
                record.created_at,
                record.expires_at,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    record._state.adding = False
    return record


def _mismatch(*, key: str, method: str, path: str) -> errors.IdempotencyKeyMismatch:
    return errors.IdempotencyKeyMismatch(
        f"Idempotency-Key {key!r} was first used for {method} {path} with a different body."
    )


def _decide(record: IdempotencyKey, *, method: str, path: str, digest: str, now: datetime) -> Claim:
    """What to do with a request for an existing key; the caller holds the key's row lock."""
    lease = timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    held = (
        record.state == IdempotencyState.IN_PROGRESS
        and record.locked_at is not None
        and record.locked_at > now - lease
    )
    if record.expires_at <= now and not held:
        # Past its TTL, and the purge has not run yet: the key is forgotten, so this is a new
        # request (whatever its body). The row is reset in place: no second insert, no nesting.
        logger.info("idempotency key reused after its TTL", extra={"key_id": record.pk})
        record.method, record.path, record.fingerprint = method, path, digest
        record.state = IdempotencyState.IN_PROGRESS
        record.locked_at = now
        record.response_status = None
        record.response_headers = {}
        record.response_body = None
        record.payment = None
        record.created_at = now
        record.expires_at = now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
        record.save()
        return Claim(record=record)
    if (record.method, record.path, record.fingerprint) != (method, path, digest):
        raise _mismatch(key=record.key, method=record.method, path=record.path)
    if record.state == IdempotencyState.COMPLETED:
        return Claim(replay=_replay(record))
    if held:
        assert record.locked_at is not None  # noqa: S101  # `held` says so
        retry_after = max(1, int((record.locked_at + lease - now).total_seconds()))
        raise errors.IdempotencyKeyInUse(
            f"Retry after {retry_after} s.", headers={"Retry-After": str(retry_after)}
        )
    # An older release's request died without finishing or releasing: take the key over. Its
    # work never committed (it would have committed with the response), so running again is
    # safe. If this request fails too, the takeover rolls back with it: the key stays free.
    logger.warning("idempotency key taken over", extra={"key_id": record.pk})
    record.locked_at = now
    record.save(update_fields=["locked_at"])
    return Claim(record=record)


def complete(*, record: IdempotencyKey, response: HttpResponse) -> bool:
    """Store the response, inside the request's transaction. False if it is not stored (the
    caller then rolls the transaction back, claim included)."""
    if response.status_code >= 500 or response.status_code in _NOT_STORED:
        return False
    headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
    # One UPDATE of the columns that change; the payment is found by a subquery, not read.
    with connection.cursor() as cursor:
        cursor.execute(
            _COMPLETE_SQL,
            [
                IdempotencyState.COMPLETED,
                response.status_code,
                json.dumps(headers),
                bytes(response.content),
                record.tenant_id,
                record.mode,
                _payment_id_in(response),
                record.pk,
            ],
        )
    return True


def purge_expired(*, batch_size: int = 1000) -> int:
    """Delete keys past their TTL, in batches; never one whose request still holds its lease.

    Completed keys go, and so do in-progress ones whose request died without releasing them
    (a SIGKILLed process): past the lease, no request is still running under the key.
    """
    now = timezone.now()
    lease = timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    expired = IdempotencyKey.objects.filter(expires_at__lte=now)
    completed = expired.filter(state=IdempotencyState.COMPLETED)  # idempotency_purge_idx
    abandoned = expired.filter(state=IdempotencyState.IN_PROGRESS).filter(
        Q(locked_at__isnull=True) | Q(locked_at__lte=now - lease)
    )
    return _delete_in_batches(completed, batch_size) + _delete_in_batches(abandoned, batch_size)


def _delete_in_batches(keys: QuerySet[IdempotencyKey], batch_size: int) -> int:
    deleted = 0
    while True:
        with transaction.atomic(durable=True):
            batch = list(
                keys.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size]
            )
            IdempotencyKey.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
        if len(batch) < batch_size:
            return deleted


def _replay(record: IdempotencyKey) -> HttpResponse:
    return _replay_response(record.response_status, record.response_headers, record.response_body)


def _replay_response(
    status: int | None, headers: dict[str, str], body: bytes | memoryview | None
) -> HttpResponse:
    response = HttpResponse(bytes(body or b""), status=status)
    for name, value in headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _payment_id_in(response: HttpResponse) -> str | None:
    """The public id of the payment a stored response is about (ops go from a key to it)."""
    body = getattr(response, "data", None)  # a DRF answer's body, before rendering
    if body is None:
        try:
            body = json.loads(response.content)
        except ValueError:
            return None
    if not isinstance(body, dict) or body.get("object") != "payment":
        return None
    public_id = body.get("id")
    return public_id if isinstance(public_id, str) else None
