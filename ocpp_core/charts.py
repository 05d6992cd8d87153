"""A transaction's meter values as a picture: an SVG line chart of energy (kWh) and, where the charger reports
it, power (kW) over time. Drawn on the server, so the admin needs no JavaScript library."""

from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 36


@dataclass(frozen=True)
class Series:
    label: str
    unit: str
    color: str
    points: list[tuple[datetime, float]]


def line_chart_svg(*, energy: Series, power: Series | None = None) -> str:
    """Energy on the left axis, power on the right one; the shared time axis below."""
    times = [t for series in (energy, power) if series for t, _ in series.points]
    if not times:
        return '<p class="help">No meter values yet.</p>'
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 1.0)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + (t - start).total_seconds() / span * plot_width

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="meter values" style="font:11px sans-serif;background:#fff">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_width}" height="{plot_height}" fill="none" stroke="#ccc"/>',
    ]
    for series, axis_x, anchor in ((energy, LEFT - 6, "end"), (power, WIDTH - RIGHT + 6, "start")):
        if not series or not series.points:
            continue
        values = [v for _, v in series.points]
        low, high = min(0.0, min(values)), max(values)
        high = high if high > low else low + 1

        def y(v: float, low=low, high=high) -> float:
            return TOP + plot_height - (v - low) / (high - low) * plot_height

        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in series.points)
        parts.append(f'<polyline fill="none" stroke="{series.color}" stroke-width="2" points="{path}"/>')
        for value in (low, (low + high) / 2, high):
            parts.append(
                f'<text x="{axis_x}" y="{y(value) + 4:.1f}" text-anchor="{anchor}" fill="{series.color}">'
                f"{value:.1f}</text>"
            )
        label_x = LEFT if anchor == "end" else WIDTH - RIGHT
        parts.append(
            f'<text x="{label_x}" y="{HEIGHT - 4}" text-anchor="{"start" if anchor == "end" else "end"}" '
            f'fill="{series.color}">{escape(series.label)} ({escape(series.unit)})</text>'
        )
    for moment, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{x(moment):.1f}" y="{TOP + plot_height + 14}" text-anchor="{anchor}" fill="#555">'
            f"{moment:%Y-%m-%d %H:%M} UTC</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
