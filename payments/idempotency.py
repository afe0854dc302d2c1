"""Idempotency keys (Stripe's semantics, the IETF Idempotency-Key draft).

A key is claimed with an INSERT under the (tenant, mode, key) unique constraint in its own
short transaction, so concurrent requests see each other's claim at once. The request's work
and its stored response then commit in one transaction: after a crash either both exist (a
retry replays the response) or neither does (a retry runs the request again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from gateway import errors as gateway_errors
from gateway import jsonbody
from payments import errors
from payments.models import IdempotencyKey, IdempotencyState, Payment
from tenants.authentication import ApiCaller

logger = logging.getLogger(__name__)

_VALID_KEY = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")  # printable ASCII, no leading space
# Headers a replay must repeat; hop-by-hop and per-response ones (request id) are left out.
_REPLAYED_HEADERS = ("Content-Type", "Location", "Retry-After")
# Answers given before the request's work began: not the request's result, so not stored.
_NOT_STORED = {401, 403, 429}


@dataclass(frozen=True)
class Claim:
    """What the caller should do with a request that carries a key."""

    record: IdempotencyKey | None = None  # proceed, and finish this record
    replay: HttpResponse | None = None  # answer with this stored response


def validate_key(raw: str) -> str:
    if not _VALID_KEY.match(raw):
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


def claim(*, caller: ApiCaller, key: str, method: str, path: str, body: bytes) -> Claim:
    """Claim the key for this request, or say how to answer instead."""
    now = timezone.now()
    digest = fingerprint(body)
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    tenant=caller.tenant,
                    mode=caller.mode,
                    key=key,
                    method=method,
                    path=path,
                    fingerprint=digest,
                    locked_at=now,
                    expires_at=now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
                )
                return Claim(record=record)
        except IntegrityError:
            pass  # the key exists: decide from its state, under its row lock
        record = IdempotencyKey.objects.select_for_update().get(
            tenant=caller.tenant, mode=caller.mode, key=key
        )
        if record.state == IdempotencyState.COMPLETED and record.expires_at <= now:
            record.delete()  # past its TTL: the key is free again
            return claim(caller=caller, key=key, method=method, path=path, body=body)
        if (record.method, record.path, record.fingerprint) != (method, path, digest):
            raise errors.IdempotencyKeyMismatch(
                f"Idempotency-Key {key!r} was first used for {record.method} {record.path} "
                "with a different body."
            )
        if record.state == IdempotencyState.COMPLETED:
            return Claim(replay=_replay(record))
        lease = timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
        if record.locked_at is not None and record.locked_at > now - lease:
            retry_after = max(1, int((record.locked_at + lease - now).total_seconds()))
            raise errors.IdempotencyKeyInUse(
                f"Retry after {retry_after} s.", headers={"Retry-After": str(retry_after)}
            )
        # The first attempt died without finishing or releasing: take the key over. Its work
        # never committed (it would have committed with the response), so running again is safe.
        logger.warning("idempotency key taken over", extra={"key_id": record.pk})
        record.locked_at = now
        record.save(update_fields=["locked_at"])
        return Claim(record=record)


def complete(*, record: IdempotencyKey, response: HttpResponse) -> bool:
    """Store the response, inside the request's transaction. False if it is not stored."""
    if response.status_code >= 500 or response.status_code in _NOT_STORED:
        return False
    record.state = IdempotencyState.COMPLETED
    record.locked_at = None
    record.response_status = response.status_code
    record.response_headers = {
        name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)
    }
    record.response_body = bytes(response.content)
    record.payment = _payment_in(response, record)
    record.save()
    return True


def release(*, record: IdempotencyKey) -> None:
    """After a failure, free the key at once so that a retry can proceed."""
    IdempotencyKey.objects.filter(pk=record.pk, state=IdempotencyState.IN_PROGRESS).update(
        locked_at=None
    )


def purge_expired(*, batch_size: int = 1000) -> int:
    """Delete completed keys past their TTL, in batches; never one still in progress."""
    purged = 0
    while True:
        with transaction.atomic(durable=True):
            batch = list(
                IdempotencyKey.objects.filter(
                    state=IdempotencyState.COMPLETED, expires_at__lte=timezone.now()
                )
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            IdempotencyKey.objects.filter(pk__in=batch).delete()
        purged += len(batch)
        if len(batch) < batch_size:
            return purged


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body or b""), status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _payment_in(response: HttpResponse, record: IdempotencyKey) -> Payment | None:
    """The payment a stored response is about, so ops can go from a key to its payment."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("object") != "payment":
        return None
    return Payment.objects.filter(
        tenant_id=record.tenant_id, mode=record.mode, public_id=body.get("id")
    ).first()
