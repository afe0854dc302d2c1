"""Examples and descriptions for the operations whose views do not declare their own, by
operation id (gateway.openapi.operation_id). Each is an answer the gateway really gives, made
from a real run with the ids made stable; tests/gateway/test_schema_conformance.py validates
every one against its schema, and tests/gateway/test_schema.py requires one per operation."""

from __future__ import annotations

from typing import Any

from payments.views import _PENDING_PAYMENT

_AT = "2026-12-01T10:42:05.118000Z"
_LATER = "2026-12-01T10:42:09.530000Z"
_API_KEY = {
    "id": 7,
    "object": "api_key",
    "name": "default",
    "mode": "test",
    "display": "sk_test_xpXIiFS2sSm1…",
    "created_at": _AT,
    "last_used_at": _LATER,
    "expires_at": None,
    "revoked_at": None,
}
_SUCCEEDED = {
    **_PENDING_PAYMENT,
    "status": "SUCCESSFUL",
    "provider_transaction_id": "3923728637",
    "updated_at": _LATER,
    "completed_at": _LATER,
}
_EVENT = {
    "id": "evt_pAhtgXDx3iGv1FhPwFN4QSM5",
    "object": "event",
    "type": "payment.succeeded",
    "timestamp": "2026-12-01T10:42:09.530Z",
    "mode": "test",
    "data": _SUCCEEDED,
}
_ENDPOINT = {
    "id": "we_pMvUNAu67vXhlXOX3S5wYUhn",
    "object": "webhook_endpoint",
    "url": "https://shop.example.zm/hooks/payments",
    "enabled_events": ["*"],
    "description": "Order notifications",
    "mode": "test",
    "status": "enabled",
    "disabled_reason": None,
    "disabled_at": None,
    "last_success_at": _LATER,
    "last_failure_at": None,
    "consecutive_failures": 0,
    "secret_rotation_ends_at": None,
    "created_at": _AT,
    "updated_at": _AT,
}
_SECRET = "whsec_nwylRk2mbokuvEDX267sqtVniEuGreSqnL0nGjaR4yo="  # noqa: S105  # a made-up example, no real key
_DELIVERY = {
    "id": "dlv_vZioof8m5ZFLmBeAup7NsOGa",
    "object": "delivery",
    "event": _EVENT["id"],
    "webhook_endpoint": _ENDPOINT["id"],
    "url": _ENDPOINT["url"],
    "state": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_attempt_at": _LATER,
    "succeeded_at": _LATER,
    "last_status": 200,
    "last_error": "",
    "response_excerpt": "ok",
    "duration_ms": 84.2,
    "created_at": _LATER,
}
_BALANCE_TRANSACTION = {
    "id": "btx_3",
    "object": "balance_transaction",
    "type": "payout",
    "phase": "pending",
    "amount": "-50.00",
    "currency": "ZMW",
    "payment": "pay_OPbmmDQmlOtXHZE6Ja99jgM1",
    "description": None,
    "available_after": "9950.00",
    "reserved_after": "50.00",
    "created_at": _AT,
}
_TOP_UP = {
    **_BALANCE_TRANSACTION,
    "id": "btx_1",
    "type": "top_up",
    "phase": "posted",
    "amount": "1000.00",
    "payment": None,
    "description": "Test top-up",
    "available_after": "1000.00",
    "reserved_after": "0.00",
}
_NO_LIMITS = {"min": None, "max": None, "daily_cap": None}
_OPERATIONAL = {
    "state": "OPERATIONAL",
    "reason": "ok",
    "calls": 120,
    "success_rate": 0.992,
    "latency_ms": 412.5,
    "override_expires_at": None,
}
_OPERATOR = {
    "provider": "mtn",
    "name": "MTN MoMo",
    "prefixes": ["056", "076", "096"],
    "enabled": True,
    "allow_fallback": False,
    "limits": {"collection": _NO_LIMITS, "disbursement": _NO_LIMITS, "refund": _NO_LIMITS},
    "capabilities": {
        "refunds": "partial",
        "balance": True,
        "kyc_name": True,
        "max_amount": "100000.00",
        "decimals": 2,
        "ussd_code": "*115#",
    },
    "availability": {
        "collection": _OPERATIONAL,
        "disbursement": _OPERATIONAL,
        "refund": _OPERATIONAL,
    },
}


def _page(*rows: Any) -> dict[str, Any]:
    return {"object": "list", "data": list(rows), "next": None, "previous": None}


# operation id -> what to add: "description", "request" (a body), "response" (2xx body).
OPERATIONS: dict[str, dict[str, Any]] = {
    "accounts_retrieve": {
        "response": {
            "msisdn": "260961234567",
            "provider": "mtn",
            "active": True,
            "given_name": "Mwila",
            "family_name": "Banda",
        }
    },
    "api_keys_list": {
        "description": "The account's keys in the key's mode, newest first; the secret itself "
        "is never shown again, only a recognisable prefix (display).",
        "response": {"object": "list", "data": [_API_KEY]},
    },
    "api_keys_retrieve": {
        "description": "One key of the account and mode (any other id is 404).",
        "response": _API_KEY,
    },
    "api_keys_delete": {"response": {**_API_KEY, "revoked_at": _LATER}},
    "api_keys_rotate": {
        "response": {
            **_API_KEY,
            "id": 8,
            "display": "sk_test_bHx2Q8c5oSSc…",
            "last_used_at": None,
            "secret": "sk_test_bHx2Q8c5oSSc3byDLn4hlUbyo3EC4xCHk9YEtMdP",
        }
    },
    "auth_register": {
        "response": {
            "tenant": {
                "id": "5291aef8-55d8-40fb-901a-3bc98258b71d",
                "name": "Lusaka Books",
                "slug": "lusaka-books",
                "is_active": True,
                "default_currency": "ZMW",
                "created_at": _AT,
            },
            "api_key": "sk_test_0Qeu7kro7hJRN7lDnaYbVr1fm3sKlIN1yK0EvNwv",
        }
    },
    "balance_retrieve": {
        "response": {
            "object": "balance",
            "mode": "test",
            "available": [{"currency": "ZMW", "amount": "9950.00"}],
            "reserved": [{"currency": "ZMW", "amount": "50.00"}],
        }
    },
    "balance_transactions_list": {"response": _page(_BALANCE_TRANSACTION, _TOP_UP)},
    "events_list": {
        "description": "The account's events in the key's mode, newest first: what each "
        "webhook delivery carried.",
        "response": _page(_EVENT),
    },
    "events_retrieve": {"response": {**_EVENT, "deliveries": [_DELIVERY]}},
    "events_resend": {"request": {}, "response": {"object": "list", "data": [_DELIVERY]}},
    "payments_list": {
        "description": "The account's payments in the key's mode, newest first, a page at a "
        "time (follow next and previous as they are), with filters.",
        "response": _page(_SUCCEEDED),
    },
    "payments_cancel": {
        "response": {
            **_PENDING_PAYMENT,
            "flow": "disbursement",
            "status": "FAILED",
            "amount": "50.00",
            "fee": "0.00",
            "net": "-50.00",
            "external_id": "payout-77",
            "description": "",
            "failure_code": "cancelled",
            "failure_message": "The payment was cancelled.",
            "failure_detail": "Cancelled while queued; never sent to the operator.",
            "metadata": {},
            "updated_at": _LATER,
            "completed_at": _LATER,
        }
    },
    "payments_refund": {
        "response": {
            **_PENDING_PAYMENT,
            "id": "pay_ddrnUaqMYLEbo7biiUoPd1CU",
            "flow": "refund",
            "amount": "50.00",
            "fee": "0.00",
            "net": "-50.00",
            "routing": {"predicted": "mtn", "chosen": "mtn", "reason": "refund_of"},
            "external_id": "refund-pay_NB0wCzekj7vGu9Zgk3HlxwpV-1",
            "description": "Refund of order-1042",
            "provider_reference": "b5ac0892-087a-4ab9-9a7e-1cc6081174ba",
            "refund_of": _PENDING_PAYMENT["id"],
            "metadata": {},
        }
    },
    "providers_list": {"response": {"object": "list", "mode": "test", "data": [_OPERATOR]}},
    "providers_predict": {"response": {"msisdn": "260961234567", "provider": "mtn"}},
    "test_top_ups_create": {"response": _TOP_UP},
    "webhook_endpoints_list": {
        "description": "The account's webhook endpoints in the key's mode (secrets are shown "
        "only when created or rotated).",
        "response": {"object": "list", "data": [_ENDPOINT]},
    },
    "webhook_endpoints_create": {
        "request": {
            "url": "https://shop.example.zm/hooks/payments",
            "enabled_events": ["payment.succeeded", "payment.failed"],
            "description": "Order notifications",
        },
        "response": {
            **_ENDPOINT,
            "enabled_events": ["payment.succeeded", "payment.failed"],
            "last_success_at": None,
            "secret": _SECRET,
        },
    },
    "webhook_endpoints_retrieve": {
        "description": "One webhook endpoint of the account and mode (any other id is 404).",
        "response": _ENDPOINT,
    },
    "webhook_endpoints_update": {
        "description": "Change an endpoint's events or description, or stop (disabled: true) "
        "and restart its deliveries.",
        "request": {"enabled_events": ["*"], "description": "Every payment and refund"},
        "response": {**_ENDPOINT, "description": "Every payment and refund"},
    },
    "webhook_endpoints_delete": {
        "description": "Delete an endpoint: nothing more is delivered to it.",
        "response": {"id": _ENDPOINT["id"], "object": "webhook_endpoint", "deleted": True},
    },
    "webhook_endpoints_deliveries_list": {
        "description": "The endpoint's deliveries, newest first, with each attempt's outcome.",
        "response": _page(_DELIVERY),
    },
    "webhook_endpoints_ping": {"response": _DELIVERY},
    "webhook_endpoints_replay": {
        "request": {
            "created_after": "2026-12-01T00:00:00Z",
            "created_before": "2026-12-02T00:00:00Z",
        },
        "response": {"object": "replay", "webhook_endpoint": _ENDPOINT["id"], "events": 12},
    },
    "webhook_endpoints_rotate_secret": {
        "response": {
            **_ENDPOINT,
            "secret_rotation_ends_at": "2026-12-02T10:42:05.118000Z",
            "secret": _SECRET,
        }
    },
}
