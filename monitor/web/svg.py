"""Trends chart: monthly counts in, a server-rendered SVG out (readable without JavaScript or colour).

Months run left to right; "more restrictive" (restrictive clauses added, clauses tightened) rise above the
axis as solid bars, "less restrictive" (removed, loosened) hang below it as hatched bars, and every non-zero
bar carries its number, so neither colour nor the chart alone carries the meaning (a table sits beside it).
"""

from __future__ import annotations

from html import escape
from typing import Any

UP_COLOUR = "#9b1c1c"    # 7.9:1 on white
DOWN_COLOUR = "#1d5b2b"  # 7.6:1 on white
INK = "#1f2328"


def trend_chart(rows: list[dict[str, Any]], title: str, chart_id: str, width: int = 720, height: int = 220) -> str:
    """A diverging monthly bar chart of `more_restrictive` (up) and `less_restrictive` (down)."""
    left, right, top, bottom = 36, 10, 22, 34
    months = [row["month"] for row in rows]
    ups = [int(row["more_restrictive"]) for row in rows]
    downs = [int(row["less_restrictive"]) for row in rows]
    plot_height = height - top - bottom
    # split the plot between up and down in proportion to their peaks, keeping both visible
    up_peak, down_peak = max(ups + [0]), max(downs + [0])
    share = 0.5 if up_peak + down_peak == 0 else max(0.25, min(0.75, up_peak / (up_peak + down_peak)))
    axis_y = top + plot_height * share
    scale = min((axis_y - top) / max(up_peak, 1), (top + plot_height - axis_y) / max(down_peak, 1))
    slot = (width - left - right) / max(len(months), 1)
    bar = max(2.0, min(28.0, slot * 0.6))
    total_up, total_down = sum(ups), sum(downs)
    description = (f"{len(months)} months from {months[0]} to {months[-1]}: {total_up} more restrictive, "
                   f"{total_down} less restrictive" if months else "no data")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<rect width="3" height="6" fill="{DOWN_COLOUR}"/></pattern></defs>',
    ]
    for value in sorted({0, up_peak, -down_peak}):
        y = axis_y - value * scale
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{"#57606a" if value == 0 else "#d0d7de"}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{INK}">'
                     f'{"+" if value > 0 else ""}{value}</text>')
    label_every = max(1, round(len(months) / 12))
    for i, (month, up, down) in enumerate(zip(months, ups, downs)):
        x = left + slot * i + (slot - bar) / 2
        if up:
            h = up * scale
            parts.append(f'<rect x="{x:.1f}" y="{axis_y - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{UP_COLOUR}"><title>{month}: {up} more restrictive</title></rect>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{axis_y - h - 3:.1f}" text-anchor="middle" '
                         f'font-size="11" fill="{INK}">▲{up}</text>')
        if down:
            h = down * scale
            parts.append(f'<rect x="{x:.1f}" y="{axis_y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="url(#{chart_id}-hatch)" stroke="{DOWN_COLOUR}">'
                         f'<title>{month}: {down} less restrictive</title></rect>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{axis_y + h + 12:.1f}" text-anchor="middle" '
                         f'font-size="11" fill="{INK}">▼{down}</text>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="11" '
                         f'fill="{INK}">{month}</text>')
    parts.append(f'<text x="{left}" y="13" font-size="11" fill="{INK}">▲ solid: more restrictive · '
                 f'▼ hatched: less restrictive</text>')
    parts.append("</svg>")
    return "".join(parts)
