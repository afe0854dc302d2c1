"""What other apps run when a payment becomes final, inside the transition's transaction.

Payments imports no app that reacts to it: an app registers a callback here from its
`AppConfig.ready()` (merchant webhooks record their event this way). Callbacks run in the
transaction of the status change, in registration order; one that raises rolls the whole
transition back, so a callback must only write rows and defer jobs, never do I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.models import Payment

FinalCallback = Callable[["Payment"], object]  # what it returns is ignored

_on_final: list[FinalCallback] = []


def on_final(callback: FinalCallback) -> FinalCallback:
    """Register `callback(payment)` to run when a payment reaches a final status (idempotent:
    registering the same callback twice runs it once). Usable as a decorator."""
    if callback not in _on_final:
        _on_final.append(callback)
    return callback


def run_final(payment: Payment) -> None:
    for callback in list(_on_final):
        callback(payment)
