"""The ledger's invariants, checked from the rows themselves (`manage.py check_ledger`).

Each check is one SQL query that returns the rows breaking it; nothing here trusts the code
that wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Breach:
    check: str
    detail: str


# (name, what it means, the query returning one row per breach)
CHECKS: list[tuple[str, str, str]] = [
    (
        "merchant_totals",
        "a merchant account's running totals differ from the sums of its entries",
        """
        SELECT a.id, a.credits_posted, a.debits_posted, a.debits_pending,
               coalesce(c.posted, 0), coalesce(d.posted, 0), coalesce(d.pending, 0)
          FROM ledger_account a
          LEFT JOIN (SELECT credit_account_id AS id,
                            sum(amount) FILTER (WHERE phase IN ('posted', 'post')) AS posted
                       FROM ledger_entry GROUP BY 1) c ON c.id = a.id
          LEFT JOIN (SELECT debit_account_id AS id,
                            sum(amount) FILTER (WHERE phase IN ('posted', 'post')) AS posted,
                            coalesce(sum(amount) FILTER (WHERE phase = 'pending'), 0)
                            - coalesce(sum(amount) FILTER (WHERE phase IN ('post', 'void')), 0)
                              AS pending
                       FROM ledger_entry GROUP BY 1) d ON d.id = a.id
         WHERE a.kind = 'merchant'
           AND (a.credits_posted <> coalesce(c.posted, 0)
                OR a.debits_posted <> coalesce(d.posted, 0)
                OR a.debits_pending <> coalesce(d.pending, 0))
        """,
    ),
    (
        "merchant_below_zero",
        "a merchant's available balance is below zero",
        """
        SELECT id, credits_posted - debits_posted - debits_pending FROM ledger_account
         WHERE kind = 'merchant' AND credits_posted - debits_posted - debits_pending < 0
        """,
    ),
    (
        "pending_credits_on_merchant",
        "money is pending towards a merchant (only money leaving is two-phase)",
        """
        SELECT e.id FROM ledger_entry e JOIN ledger_account a ON a.id = e.credit_account_id
         WHERE a.kind = 'merchant' AND e.phase = 'pending'
        """,
    ),
    (
        "resolution_mismatch",
        "a post or void differs from the pending entry it resolves",
        """
        SELECT r.id, p.id FROM ledger_entry r JOIN ledger_entry p ON p.id = r.pending_id
         WHERE p.phase <> 'pending' OR r.amount <> p.amount
            OR r.debit_account_id <> p.debit_account_id
            OR r.credit_account_id <> p.credit_account_id OR r.payment_id <> p.payment_id
        """,
    ),
    (
        "currency_or_mode_mismatch",
        "an entry's currency or mode differs from one of its accounts'",
        """
        SELECT e.id FROM ledger_entry e
          JOIN ledger_account d ON d.id = e.debit_account_id
          JOIN ledger_account c ON c.id = e.credit_account_id
         WHERE e.currency <> d.currency OR e.currency <> c.currency
            OR e.mode <> d.mode OR e.mode <> c.mode
        """,
    ),
    (
        "collection_postings",
        "a collection's entries do not match its status (one of its amount and one of its fee"
        " when SUCCESSFUL, none otherwise)",
        """
        SELECT p.public_id, p.status FROM payments_payment p
         WHERE p.flow = 'collection' AND (
               (p.status = 'SUCCESSFUL' AND (
                   (SELECT count(*) FROM ledger_entry e WHERE e.payment_id = p.id
                       AND e.code = 'collection' AND e.amount = p.amount
                       AND e.phase = 'posted') <> 1
                OR (SELECT count(*) FROM ledger_entry e WHERE e.payment_id = p.id
                       AND e.code = 'fee' AND e.amount = p.fee
                       AND e.phase = 'posted') <> (CASE WHEN p.fee > 0 THEN 1 ELSE 0 END)
                OR (SELECT count(*) FROM ledger_entry e WHERE e.payment_id = p.id)
                   <> (CASE WHEN p.fee > 0 THEN 2 ELSE 1 END)))
            OR (p.status <> 'SUCCESSFUL'
                AND EXISTS (SELECT 1 FROM ledger_entry e WHERE e.payment_id = p.id
                               AND e.code NOT IN ('late_collection', 'late_fee'))))
        """,
    ),
    (
        "late_collection_postings",
        "a late success (reconciliation) is not a FAILED collection's amount and fee, once",
        """
        SELECT p.public_id, p.status FROM payments_payment p
         WHERE EXISTS (SELECT 1 FROM ledger_entry e WHERE e.payment_id = p.id
                          AND e.code IN ('late_collection', 'late_fee'))
           AND (p.flow <> 'collection' OR p.status <> 'FAILED'
                OR (SELECT count(*) FROM ledger_entry e WHERE e.payment_id = p.id
                       AND e.code = 'late_collection' AND e.amount = p.amount) <> 1
                OR (SELECT count(*) FROM ledger_entry e WHERE e.payment_id = p.id
                       AND e.code = 'late_fee' AND e.amount = p.fee)
                   <> (CASE WHEN p.fee > 0 THEN 1 ELSE 0 END))
        """,
    ),
    (
        "money_out_reservation",
        "a payout or refund does not reserve exactly its amount and its fee",
        """
        SELECT p.public_id FROM payments_payment p
         WHERE p.flow IN ('disbursement', 'refund')
           AND (SELECT coalesce(sum(e.amount), 0) FROM ledger_entry e
                 WHERE e.payment_id = p.id AND e.phase = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM ledger_entry m WHERE m.pending_id = e.id
                                     AND m.code = e.code || ':moved')) <> p.amount + p.fee
        """,
    ),
    (
        "money_out_resolution",
        "a payout or refund's reservation is not resolved as its status says (posted when"
        " SUCCESSFUL, voided when FAILED, open while PENDING)",
        """
        SELECT p.public_id, p.status, e.id FROM payments_payment p
          JOIN ledger_entry e ON e.payment_id = p.id AND e.phase = 'pending'
          LEFT JOIN ledger_entry r ON r.pending_id = e.id
         WHERE p.flow IN ('disbursement', 'refund')
           AND r.code IS DISTINCT FROM e.code || ':moved'  -- moved to another operator
           AND NOT ((p.status = 'PENDING' AND r.id IS NULL)
                 OR (p.status = 'SUCCESSFUL' AND r.phase = 'post')
                 OR (p.status = 'FAILED' AND r.phase = 'void'))
        """,
    ),
]


def find_breaches() -> list[Breach]:
    breaches = []
    with connection.cursor() as cursor:
        for name, meaning, query in CHECKS:
            cursor.execute(query)
            breaches += [Breach(name, f"{meaning}: {row}") for row in cursor.fetchall()]
    return breaches
