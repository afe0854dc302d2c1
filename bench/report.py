"""The one table every benchmark prints: median and p99 per case, and ratios to a baseline."""

from __future__ import annotations

import statistics


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
