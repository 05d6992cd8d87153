"""Time series as pictures, drawn on the server as inline SVG, so the admin needs no JavaScript library.

- `line_chart_svg`: a transaction's meter values, energy (kWh) on the left axis and, where the charger reports it,
  power (kW) on the right one.
- `shared_axis_chart_svg`: several series of one unit on one axis with a legend, e.g. a node's limit, allocated and
  measured current per phase (the site node's page)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 36
LEGEND_WIDTH = 130  # the right margin of a chart with a legend
LEGEND_LINE = 16


@dataclass(frozen=True)
class Series:
    label: str
    unit: str
    color: str
    points: list[tuple[datetime, float]]
    dash: str = ""  # an SVG stroke-dasharray ("6 3"); empty: a solid line


def _time_axis(times: list[datetime], plot_width: float) -> tuple[datetime, datetime, Callable[[datetime], float]]:
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return LEFT + (t - start).total_seconds() / span * plot_width

    return start, end, x


def _value_axis(values: Iterable[float], plot_height: float) -> tuple[float, float, Callable[[float], float]]:
    """From zero (or below, for negative values) to the largest value."""
    values = list(values)
    low, high = min(0.0, min(values)), max(values)
    high = high if high > low else low + 1

    def y(v: float) -> float:
        return TOP + plot_height - (v - low) / (high - low) * plot_height

    return low, high, y


def _open(label: str, plot_width: float, plot_height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" style="font:11px sans-serif;background:#fff">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_width}" height="{plot_height}" fill="none" stroke="#ccc"/>',
    ]


def _polyline(series: Series, x, y, *, titled: bool = False) -> str:
    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in series.points)
    dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
    if not titled:
        return f'<polyline fill="none" stroke="{series.color}" stroke-width="2"{dash} points="{path}"/>'
    label = escape(series.label)
    return (
        f'<polyline fill="none" stroke="{series.color}" stroke-width="2"{dash} data-series="{label}" '
        f'points="{path}"><title>{label}</title></polyline>'
    )


def _value_labels(low: float, high: float, y, *, axis_x: float, anchor: str, color: str) -> list[str]:
    return [
        f'<text x="{axis_x}" y="{y(value) + 4:.1f}" text-anchor="{anchor}" fill="{color}">{value:.1f}</text>'
        for value in (low, (low + high) / 2, high)
    ]


def _time_labels(start: datetime, end: datetime, x, plot_height: float) -> list[str]:
    return [
        f'<text x="{x(moment):.1f}" y="{TOP + plot_height + 14}" text-anchor="{anchor}" fill="#555">'
        f"{moment:%Y-%m-%d %H:%M} UTC</text>"
        for moment, anchor in ((start, "start"), (end, "end"))
    ]


def line_chart_svg(*, energy: Series, power: Series | None = None) -> str:
    """Energy on the left axis, power on the right one; the shared time axis below."""
    times = [t for series in (energy, power) if series for t, _ in series.points]
    if not times:
        return '<p class="help">No meter values yet.</p>'
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    start, end, x = _time_axis(times, plot_width)
    parts = _open("meter values", plot_width, plot_height)
    for series, axis_x, anchor in ((energy, LEFT - 6, "end"), (power, WIDTH - RIGHT + 6, "start")):
        if not series or not series.points:
            continue
        low, high, y = _value_axis((v for _, v in series.points), plot_height)
        parts.append(_polyline(series, x, y))
        parts.extend(_value_labels(low, high, y, axis_x=axis_x, anchor=anchor, color=series.color))
        label_x = LEFT if anchor == "end" else WIDTH - RIGHT
        parts.append(
            f'<text x="{label_x}" y="{HEIGHT - 4}" text-anchor="{"start" if anchor == "end" else "end"}" '
            f'fill="{series.color}">{escape(series.label)} ({escape(series.unit)})</text>'
        )
    parts.extend(_time_labels(start, end, x, plot_height))
    parts.append("</svg>")
    return "".join(parts)


def shared_axis_chart_svg(*, series: list[Series], label: str, unit: str, empty: str = "No data yet.") -> str:
    """Every series on one value axis (in `unit`), the time axis below, a legend on the right. Each line carries
    its label as `data-series` and as a tooltip."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return f'<p class="help">{escape(empty)}</p>'
    plot_width, plot_height = WIDTH - LEFT - LEGEND_WIDTH, HEIGHT - TOP - BOTTOM
    start, end, x = _time_axis([t for s in drawn for t, _ in s.points], plot_width)
    low, high, y = _value_axis((v for s in drawn for _, v in s.points), plot_height)
    parts = _open(label, plot_width, plot_height)
    parts.extend(_polyline(s, x, y, titled=True) for s in drawn)
    parts.extend(_value_labels(low, high, y, axis_x=LEFT - 6, anchor="end", color="#555"))
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 4}" fill="#555">{escape(unit)}</text>')
    legend_x = WIDTH - LEGEND_WIDTH + 12
    for row, s in enumerate(drawn):
        line_y = TOP + 6 + row * LEGEND_LINE
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(
            f'<line x1="{legend_x}" y1="{line_y}" x2="{legend_x + 20}" y2="{line_y}" stroke="{s.color}" '
            f'stroke-width="2"{dash}/><text x="{legend_x + 26}" y="{line_y + 4}" fill="#333">{escape(s.label)}</text>'
        )
    parts.extend(_time_labels(start, end, x, plot_height))
    parts.append("</svg>")
    return "".join(parts)
