"""Server-drawn SVG charts: no chart library, no CDN, readable without JavaScript."""
from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape


def bar_chart(points: list[tuple[str, int]], *, label: str, width: int = 640, height: int = 180,
              every: int = 1, href=None) -> Markup:
    """Vertical bars for (label, value) points; every n-th label is printed under the axis."""
    if not points:
        return Markup('<p class="muted">No data for this period.</p>')
    top = max(value for _, value in points) or 1
    pad_bottom, pad_top = 20, 14
    plot = height - pad_bottom - pad_top
    slot = width / len(points)
    bar = min(max(slot * 0.72, 1.0), 40.0)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
             '>']
    for index, (name, value) in enumerate(points):
        h = plot * value / top
        x = index * slot + (slot - bar) / 2
        y = pad_top + plot - h
        rect = (f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.0):.1f}">'
                f'<title>{escape(name)}: {value}</title></rect>')
        if href is not None:
            rect = f'<a href="{escape(href(name))}">{rect}</a>'
        parts.append(rect)
        if value:
            parts.append(f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 3:.1f}">{value}</text>')
        if index % every == 0:
            parts.append(f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 5}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def continuous_months(counts: dict[str, int], max_months: int = 120) -> list[tuple[str, int]]:
    """("YYYY-MM", plays) for every month from the first to the last with plays, empty ones included, so a
    time axis never puts distant months side by side; beyond max_months, every year ("YYYY") instead."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    year, month = int(first[:4]), int(first[5:7])
    span = (int(last[:4]) - year) * 12 + int(last[5:7]) - month + 1
    if span > max_months:
        years: dict[str, int] = {}
        for key, plays in counts.items():
            years[key[:4]] = years.get(key[:4], 0) + plays
        return [(str(y), years.get(str(y), 0)) for y in range(year, int(last[:4]) + 1)]
    points = []
    for offset in range(span):
        key = f"{year + (month - 1 + offset) // 12:04d}-{(month - 1 + offset) % 12 + 1:02d}"
        points.append((key, counts.get(key, 0)))
    return points


def heatmap(counts: dict[date, int], first: date, last: date, *, label: str, href=None) -> Markup:
    """A GitHub-style year of days (columns are weeks, rows Monday..Sunday), shaded by plays."""
    cell, gap = 11, 2
    start = first - timedelta(days=first.weekday())
    weeks = (last - start).days // 7 + 1
    width, height = weeks * (cell + gap) + 2, 7 * (cell + gap) + 16
    top = max(counts.values(), default=0) or 1
    parts = [f'<svg class="heatmap" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">']
    day = first
    while day <= last:
        column = (day - start).days // 7
        value = counts.get(day, 0)
        level = 0 if value == 0 else min(4, 1 + int(4 * value / (top + 1)))
        x, y = column * (cell + gap), 14 + day.weekday() * (cell + gap)
        rect = (f'<rect class="l{level}" x="{x}" y="{y}" width="{cell}" height="{cell}" rx="2">'
                f'<title>{day.isoformat()}: {value} plays</title></rect>')
        if href is not None:
            rect = f'<a href="{escape(href(day))}">{rect}</a>'
        parts.append(rect)
        if day.day == 1:
            parts.append(f'<text class="axis start" x="{x}" y="10">{day.strftime("%b")}</text>')
        day += timedelta(days=1)
    parts.append("</svg>")
    return Markup("".join(parts))
