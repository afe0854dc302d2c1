"""The simulators' tables, one module per simulator; they all belong to this app."""

from __future__ import annotations

from providers.sandbox.airtel.models import (
    AirtelAccessToken,
    AirtelCallbackAttempt,
    AirtelKeyPair,
    AirtelRejectedAttempt,
    AirtelTransaction,
)
from providers.sandbox.mtn.models import (
    MtnAccessToken,
    MtnApiUser,
    MtnCallbackAttempt,
    MtnConsent,
    MtnKind,
    MtnProduct,
    MtnRejectedAttempt,
    MtnStatus,
    MtnTransaction,
)
from providers.sandbox.zamtel.models import (
    ZamtelCallbackAttempt,
    ZamtelRejectedAttempt,
    ZamtelTransaction,
)

__all__ = [
    "AirtelAccessToken",
    "AirtelCallbackAttempt",
    "AirtelKeyPair",
    "AirtelRejectedAttempt",
    "AirtelTransaction",
    "MtnAccessToken",
    "MtnApiUser",
    "MtnCallbackAttempt",
    "MtnConsent",
    "MtnKind",
    "MtnProduct",
    "MtnRejectedAttempt",
    "MtnStatus",
    "MtnTransaction",
    "ZamtelCallbackAttempt",
    "ZamtelRejectedAttempt",
    "ZamtelTransaction",
]
