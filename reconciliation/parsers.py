"""Operator statements as lines we can match: one parser per operator, one small interface.

A parser reads the operator's CSV export and yields `StatementLine`s in our terms (our status
vocabulary, Decimal amounts, aware timestamps). The column mapping of each operator is in
docs/reconciliation.md; each is an assumption about the export's layout, written down so a
real file that differs fails loudly (a missing column names itself) instead of matching
nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings

from gateway.errors import ValidationFailed
from payments.models import Status
from providers.base import Provider


@dataclass(frozen=True)
class StatementLine:
    number: int  # the line in the file (the header is line 1)
    transaction_id: str  # the operator's id for the transaction
    reference: str  # our id at the operator: a payment id (pay_…) or its provider_reference
    external_id: str  # the merchant's reference, where the operator echoes it
    amount: Decimal
    currency: str
    status: Status
    occurred_at: datetime
    raw: dict[str, str] = field(compare=False)


class StatementParser(Protocol):
    provider: ClassVar[Provider]

    def parse(self, rows: Iterable[str]) -> Iterator[StatementLine]:
        """Yield every transaction line; raise ValidationFailed (field `file`) on a line that
        cannot be read, naming it."""
        ...


def invalid(message: str) -> ValidationFailed:
    return ValidationFailed(errors=[{"field": "file", "message": message}])


class CsvStatementParser:
    """A statement as a CSV with a header row. Subclasses name their columns (`columns`: our
    field -> the operator's header; an empty header: the operator has no such column) and
    their status words (`statuses`, upper-cased)."""

    provider: ClassVar[Provider]
    columns: ClassVar[dict[str, str]]
    statuses: ClassVar[dict[str, Status]]
    # Timestamps without an offset are read as Lusaka time (what the portals show).
    formats: ClassVar[tuple[str, ...]] = (
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    )

    def parse(self, rows: Iterable[str]) -> Iterator[StatementLine]:
        reader = csv.reader(rows)
        header = next(reader, None)
        if header is None:
            raise invalid("The file is empty.")
        # The first column of a name wins: MTN repeats "Currency" after every money column,
        # and the first one is the amount's.
        index: dict[str, int] = {}
        for position, name in enumerate(header):
            index.setdefault(name.strip().lstrip("\ufeff"), position)
        missing = [name for name in self.columns.values() if name and name not in index]
        if missing:
            raise invalid(
                f"Not a {self.provider.label} statement: no column {', '.join(missing)} "
                "(see docs/reconciliation.md for the expected columns)."
            )
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < len(header):
                raise invalid(f"Line {number} has {len(row)} columns, the header {len(header)}.")
            cells = {
                ours: row[index[theirs]].strip() if theirs else ""
                for ours, theirs in self.columns.items()
            }
            yield StatementLine(
                number=number,
                transaction_id=cells["transaction_id"],
                reference=cells["reference"],
                external_id=cells["external_id"],
                amount=self._amount(cells["amount"], number),
                currency=cells["currency"].upper() or "ZMW",
                status=self._status(cells["status"], number),
                occurred_at=self._timestamp(cells["occurred_at"], number),
                raw=dict(zip(header, row, strict=False)),
            )

    def _amount(self, text: str, number: int) -> Decimal:
        try:
            # Money out is negative on a statement; we compare sizes (the flow says the way).
            amount = abs(Decimal(text.replace(",", "")))
        except InvalidOperation:
            raise invalid(f"Line {number}: {text!r} is not an amount.") from None
        if amount != amount.quantize(Decimal("0.01")):
            raise invalid(f"Line {number}: {text!r} has more than 2 decimals.")
        return amount

    def _status(self, text: str, number: int) -> Status:
        status = self.statuses.get(text.upper())
        if status is None:
            known = ", ".join(sorted(self.statuses))
            raise invalid(f"Line {number}: unknown status {text!r} (known: {known}).")
        return status

    def _timestamp(self, text: str, number: int) -> datetime:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
            for form in self.formats:
                try:
                    moment = datetime.strptime(text, form)  # noqa: DTZ007  # zone added below
                    break
                except ValueError:
                    continue
        if moment is None:
            raise invalid(f"Line {number}: {text!r} is not a date and time.")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(settings.BACKOFFICE_TIME_ZONE))
        return moment


class MtnStatementParser(CsvStatementParser):
    """The MoMo partner portal's transaction history export. `Id` is the financial
    transaction id; `External Transaction Id` is the externalId we send: the payment's id."""

    provider = Provider.MTN
    columns: ClassVar[dict[str, str]] = {
        "transaction_id": "Id",
        "reference": "External Transaction Id",
        "external_id": "",
        "amount": "Amount",
        "currency": "Currency",
        "status": "Status",
        "occurred_at": "Date",
    }
    statuses: ClassVar[dict[str, Status]] = {
        "SUCCESSFUL": Status.SUCCESSFUL,
        "SUCCESS": Status.SUCCESSFUL,
        "COMPLETED": Status.SUCCESSFUL,
        "FAILED": Status.FAILED,
        "REJECTED": Status.FAILED,
        "TIMEOUT": Status.FAILED,
        "PENDING": Status.PENDING,
    }


class AirtelStatementParser(CsvStatementParser):
    """The Airtel Money merchant portal's transactions report. `Partner Transaction ID` is
    our transaction.id (the payment's reference, 32 hex digits); `Reference` is what the
    customer saw: the merchant's external_id, cleaned of what Airtel refuses."""

    provider = Provider.AIRTEL
    columns: ClassVar[dict[str, str]] = {
        "transaction_id": "Airtel Money ID",
        "reference": "Partner Transaction ID",
        "external_id": "Reference",
        "amount": "Amount",
        "currency": "Currency",
        "status": "Status",
        "occurred_at": "Transaction Date",
    }
    statuses: ClassVar[dict[str, Status]] = {
        "TS": Status.SUCCESSFUL,
        "SUCCESS": Status.SUCCESSFUL,
        "SUCCESSFUL": Status.SUCCESSFUL,
        "TF": Status.FAILED,
        "FAILED": Status.FAILED,
        "TIP": Status.PENDING,
        "TA": Status.PENDING,
        "PENDING": Status.PENDING,
    }


class ZamtelStatementParser(CsvStatementParser):
    """Zamtel's settlement report (no first-hand format found: our assumed layout, mirroring
    the contract in providers/zamtel). `Deposit ID` is our reference (a UUID),
    `Client Reference ID` the payment's id."""

    provider = Provider.ZAMTEL
    columns: ClassVar[dict[str, str]] = {
        "transaction_id": "Transaction ID",
        "reference": "Deposit ID",
        "external_id": "",
        "amount": "Amount",
        "currency": "Currency",
        "status": "Status",
        "occurred_at": "Date",
    }
    statuses: ClassVar[dict[str, Status]] = {
        "COMPLETED": Status.SUCCESSFUL,
        "SUCCESSFUL": Status.SUCCESSFUL,
        "FAILED": Status.FAILED,
        "REJECTED": Status.FAILED,
        "ACCEPTED": Status.PENDING,
        "SUBMITTED": Status.PENDING,
        "PENDING": Status.PENDING,
    }


_ALL: tuple[StatementParser, ...] = (
    MtnStatementParser(),
    AirtelStatementParser(),
    ZamtelStatementParser(),
)
PARSERS: dict[str, StatementParser] = {parser.provider: parser for parser in _ALL}


def parser_for(provider: str) -> StatementParser:
    try:
        return PARSERS[provider]
    except KeyError:
        raise ValidationFailed(
            errors=[{"field": "provider", "message": f"No statement parser for {provider!r}."}]
        ) from None
