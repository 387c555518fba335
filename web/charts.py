"""Charts as SVG drawn on the server: no chart library, no script, no CDN.

Only presentation attributes (fill, x, width...) are used, never `style`, so the charts
render under the pages' Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

COLOURS = {
    "slack": "#4a154b",
    "discord": "#5865f2",
    "github": "#24292f",
    "web": "#0969da",
    "api": "#8c959f",
}
_OTHER = "#bf8700"


def colour(series: str) -> str:
    return COLOURS.get(series, _OTHER)


def stacked_days(
    days: Sequence[tuple[date, dict[str, int]]],
    series: Sequence[str],
    *,
    width: int = 760,
    height: int = 220,
    title: str = "Questions per day",
) -> str:
    """A stacked bar per day, one colour per series, with a legend and an axis maximum."""
    left, bottom, top = 36, 28, 24
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((sum(counts.values()) for _, counts in days), default=0) or 1
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8, 1.0)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#8c959f"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, (day, counts) in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = float(top + plot_h)
        for name in series:
            n = counts.get(name, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour(name)}"><title>{day.isoformat()} {escape(name)}: {n}</title></rect>'
            )
        if len(days) <= 16 or i % max(len(days) // 8, 1) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle" '
                f'font-size="10">{day.strftime("%m-%d")}</text>'
            )
    x = left
    for name in series:
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour(name)}"/>')
        parts.append(f'<text x="{x + 14}" y="13" font-size="11">{escape(name)}</text>')
        x += 18 + 7 * len(name) + 12
    parts.append("</svg>")
    return "".join(parts)


def share_bars(
    items: Sequence[tuple[str, float]], *, width: int = 760, title: str = "Shares"
) -> str:
    """One horizontal bar per (label, share 0..1), with the share in per cent."""
    row, label_w = 22, 300
    height = row * max(len(items), 1) + 8
    bar_w = width - label_w - 60
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, share) in enumerate(items):
        y = 4 + i * row
        shown = label if len(label) <= 46 else "…" + label[-45:]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="11">'
            f"{escape(shown)}</text>"
        )
        w = max(bar_w * min(max(share, 0.0), 1.0), 1.0)
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="#0969da">'
            f"<title>{escape(label)}: {share:.0%}</title></rect>"
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="11">{share:.0%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
