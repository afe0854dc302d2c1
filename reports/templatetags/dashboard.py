"""The admin home page's dashboard: volumes, success rates and stuck payments, drawn as
inline SVG on the server (no script, no CDN). Its numbers come from reports.selectors in
three queries, for the tenants the staff user may see."""

from __future__ import annotations

from typing import Any

from django import template

from providers.base import Provider
from reports import selectors
from tenants.selectors import list_staff_tenant_ids

register = template.Library()

COLOURS = {Provider.MTN: "#e0a800", Provider.AIRTEL: "#c8102e", Provider.ZAMTEL: "#1a7f37"}
# The per-day chart: 7 bars in a CHART_W x CHART_H box, under a label row.
CHART_W, CHART_H, BAR_W, GAP = 450, 160, 40, 20
RATE_W = 240  # the width of a 100 % success-rate bar, after a LABEL_W label
LABEL_W = 180


def _daily_bars(daily: list[tuple[Any, dict[str, int]]]) -> list[dict[str, Any]]:
    tallest = max((sum(counts.values()) for _, counts in daily), default=0) or 1
    bars = []
    for position, (day, counts) in enumerate(daily):
        x, top = 30 + position * (BAR_W + GAP), float(CHART_H)
        segments = []
        for provider in Provider:
            count = counts.get(provider, 0)
            if not count:
                continue
            height = count / tallest * (CHART_H - 20)
            top -= height
            segments.append(
                {
                    "y": round(top, 1),
                    "height": round(height, 1),
                    "colour": COLOURS[provider],
                    "title": f"{day:%a %d %b} {provider.label}: {count}",
                }
            )
        bars.append(
            {
                "x": x,
                "label_x": x + BAR_W / 2,
                "label": f"{day:%a %d}",
                "total": sum(counts.values()),
                "total_y": round(top - 4, 1),
                "segments": segments,
            }
        )
    return bars


def _rate_rows(week: list[selectors.Volume]) -> list[dict[str, Any]]:
    rows = []
    for position, volume in enumerate(week):
        rows.append(
            {
                "y": 10 + position * 26,
                "label": f"{Provider(volume.provider).label} {volume.flow}",
                "width": round((volume.success_rate or 0) * RATE_W, 1),
                "text": volume.rate_text,
                "colour": COLOURS[Provider(volume.provider)],
            }
        )
    return rows


@register.inclusion_tag("reports/dashboard.html", takes_context=True)
def admin_dashboard(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    if not request.user.has_perm("payments.view_payment"):
        return {"shown": False}
    board = selectors.get_dashboard(tenant_ids=list_staff_tenant_ids(user=request.user))
    rates = _rate_rows(board.week)
    today = {(v.provider, v.flow): v for v in board.today}
    volumes = [
        (week, today.get((week.provider, week.flow), selectors.Volume(week.provider, week.flow)))
        for week in board.week
    ]
    return {
        "volumes": volumes,
        "shown": True,
        "board": board,
        "bars": _daily_bars(board.daily),
        "rates": rates,
        "rates_height": 20 + 26 * len(rates),
        "chart_w": CHART_W,
        "chart_h": CHART_H + 24,
        "bar_w": BAR_W,
        "rate_w": RATE_W,
        "label_w": LABEL_W,
        "legend": [(provider.label, COLOURS[provider]) for provider in Provider],
        "stuck_more": board.stuck_count > len(board.stuck),
        "stuck_cap": selectors.STUCK_COUNT_CAP,
    }
