"""Server-side inline SVG charts (R-PERF-4): no JavaScript, nothing fetched from elsewhere.

Each chart is an accessible image (`role="img"`, a title and a description) whose every point or bar
also carries a `<title>` (the browser's tooltip); the page shows the same figures as a table.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK, MUTED, LINE, BRAND, BAR = "#1f2933", "#52606d", "#d9e2ec", "#b3261e", "#1d4f91"


def _nice_max(value: Decimal) -> Decimal:
    """A round axis maximum ≥ value: 1, 2, 2.5 or 5 × 10ⁿ."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        candidate = Decimal(step).scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)  # pragma: no cover


def _fmt(value: Decimal) -> str:
    """Axis labels: thousands separators; 万 / 亿 are left to the table."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


# Drawn at about the size it is shown (a column of the page, or a phone's width scrolled inside its box), so
# that a label of LABEL_SIZE units reads at about that many pixels.
LABEL_SIZE = 13


def line_chart(points: Sequence[tuple[str, Decimal]], *, title: str, description: str = "",
               width: int = 560, height: int = 260) -> SafeString:
    left, right, top, bottom = 88, 36, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _label, v in points]
    low = min([Decimal(0), *values])
    high = _nice_max(max([Decimal(0), *values]))
    span = (high - low) or Decimal(1)
    n = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: Decimal) -> float:
        return top + plot_h * float((high - v) / span)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="100%" style="max-width:{width}px" aria-labelledby="lc-t lc-d">',
             f'<title id="lc-t">{escape(title)}</title><desc id="lc-d">{escape(description)}</desc>']
    for k in range(5):
        v = low + span * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{LINE}"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="{LABEL_SIZE}" '
                     f'fill="{MUTED}">'
                     f'{escape(_fmt(v))}</text>')
    every = 2 if len(points) > 6 else 1  # a label every other month when twelve would overlap; the latest has one
    for i, (label, _v) in enumerate(points):
        if (len(points) - 1 - i) % every:
            continue
        parts.append(f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="{LABEL_SIZE}" '
                     f'fill="{MUTED}">{escape(label)}</text>')
    if points:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, (_l, v) in enumerate(points))
        parts.append(f'<path d="{path}" fill="none" stroke="{BRAND}" stroke-width="2"/>')
        for i, (label, v) in enumerate(points):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{BRAND}">'
                         f'<title>{escape(label)}: {escape(_fmt(v))}</title></circle>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(items: Sequence[tuple[str, Decimal]], *, title: str, description: str = "",
              width: int = 560, bar_height: int = 22) -> SafeString:
    left, right, top = 180, 96, 8
    height = top * 2 + max(len(items), 1) * (bar_height + 6)
    plot_w = width - left - right
    high = max([Decimal(0), *(v for _l, v in items)]) or Decimal(1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="100%" style="max-width:{width}px" aria-labelledby="bc-t bc-d">',
             f'<title id="bc-t">{escape(title)}</title><desc id="bc-d">{escape(description)}</desc>']
    for i, (label, v) in enumerate(items):
        y = top + i * (bar_height + 6)
        w = max(plot_w * float(max(v, Decimal(0)) / high), 0)
        parts.append(f'<text x="{left - 8}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" font-size="{LABEL_SIZE}" '
                     f'fill="{INK}">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{BAR}">'
                     f'<title>{escape(label)}: {escape(_fmt(v))}</title></rect>'
                     f'<text x="{left + w + 6:.1f}" y="{y + bar_height * 0.7:.1f}" font-size="{LABEL_SIZE}" '
                     f'fill="{INK}">'
                     f'{escape(_fmt(v))}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
