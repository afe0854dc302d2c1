"""The one table every benchmark prints: median and p99 per case, and ratios to a baseline."""

from __future__ import annotations

import os
import statistics
from pathlib import Path


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_table(timings: dict[str, list[float]], *, baseline: str) -> None:
    base = statistics.median(timings[baseline])
    count = len(timings[baseline])
    print(f"{'case':<10} {'median ms':>10} {'p99 ms':>8} {'x ' + baseline:>9}   ({count} each)")
    for name, samples in timings.items():
        median = statistics.median(samples)
        print(f"{name:<10} {median:>10.3f} {percentile(samples, 0.99):>8.3f} {median / base:>9.2f}")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub-flavoured markdown table, numbers right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def point_at_bench_database(name: str, root: Path) -> str:
    """A fresh throwaway database `name`, on the embedded PostgreSQL (under `root`/var) or next
    to DATABASE_URL's, which DATABASE_URL then names. Returns the server's admin URL, for
    drop_bench_database."""
    import psycopg

    from gateway import embedded_db

    base = os.environ.get("DATABASE_URL") or embedded_db.database_url(root / "var")
    path, _, query = base.partition("?")
    suffix = f"?{query}" if query else ""
    admin = path.rsplit("/", 1)[0] + "/postgres" + suffix
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = path.rsplit("/", 1)[0] + f"/{name}" + suffix
    return admin
