"""Small server-side SVG charts kept with a model version (no JavaScript, no internet).

Line charts (elbow, silhouette, BIC, k-distance, ROC, calibration) and bar charts, drawn
from numbers only; every text is escaped. The documents are self-contained <svg> elements
that the admin inlines and the API serves as image/svg+xml.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

WIDTH, HEIGHT = 520, 320
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 34, 46
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
Series = dict[str, tuple[Sequence[float], Sequence[float]]]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:g}" if abs(value) >= 1 else f"{value:.2f}"


class _Frame:
    def __init__(self, xs: Sequence[float], ys: Sequence[float],
                 x_range: tuple[float, float] | None, y_range: tuple[float, float] | None
                 ) -> None:
        finite_x = [x for x in xs if math.isfinite(x)] or [0.0, 1.0]
        finite_y = [y for y in ys if math.isfinite(y)] or [0.0, 1.0]
        self.x0, self.x1 = x_range or (min(finite_x), max(finite_x))
        self.y0, self.y1 = y_range or (min(finite_y), max(finite_y))
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        if self.y1 == self.y0:
            self.y0, self.y1 = self.y0 - 0.5, self.y1 + 0.5

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (
            HEIGHT - TOP - BOTTOM)


def _axes(frame: _Frame, title: str, x_label: str, y_label: str) -> list[str]:
    out = [f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-weight="bold">'
           f"{escape(title)}</text>",
           f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
           f'y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>']
    for tick in _ticks(frame.x0, frame.x1):
        x = frame.x(tick)
        out.append(f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" '
                   f'y2="{HEIGHT - BOTTOM + 4}" stroke="#333"/>'
                   f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                   f"{_label(tick)}</text>")
    for tick in _ticks(frame.y0, frame.y1):
        y = frame.y(tick)
        out.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{LEFT - 7}" y="{y + 4:.1f}" text-anchor="end">'
                   f"{_label(tick)}</text>")
    out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
               f"{escape(x_label)}</text>")
    out.append(f'<text x="14" y="{HEIGHT / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {HEIGHT / 2})">{escape(y_label)}</text>')
    return out


def _document(parts: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11" '
            f'role="img" aria-label="{escape(title)}"><rect width="100%" height="100%" '
            f'fill="white"/>{"".join(parts)}</svg>')


def line_chart(title: str, series: Series, *, x_label: str, y_label: str,
               x_range: tuple[float, float] | None = None,
               y_range: tuple[float, float] | None = None,
               marker_x: float | None = None, markers: bool = True,
               diagonal: bool = False) -> str:
    """Several (x, y) series on shared axes; optional vertical marker and y = x line."""
    all_x = [float(v) for xs, _ in series.values() for v in xs]
    all_y = [float(v) for _, ys in series.values() for v in ys]
    frame = _Frame(all_x, all_y, x_range, y_range)
    parts = _axes(frame, title, x_label, y_label)
    if diagonal:
        parts.append(f'<line x1="{frame.x(0):.1f}" y1="{frame.y(0):.1f}" x2="{frame.x(1):.1f}" '
                     f'y2="{frame.y(1):.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    if marker_x is not None and math.isfinite(marker_x):
        x = frame.x(marker_x)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
                     f'stroke="#555" stroke-dasharray="2 3"/>')
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        points = [(frame.x(float(x)), frame.y(float(y))) for x, y in zip(xs, ys, strict=True)
                  if math.isfinite(float(x)) and math.isfinite(float(y))]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                     f'points="{path}"/>')
        if markers and len(points) <= 40:
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
                      for x, y in points]
        parts.append(f'<rect x="{LEFT + 10}" y="{TOP + 6 + 15 * i}" width="10" height="10" '
                     f'fill="{color}"/><text x="{LEFT + 25}" y="{TOP + 15 + 15 * i}">'
                     f"{escape(name)}</text>")
    return _document(parts, title)


def bar_chart(title: str, values: dict[str, float], *, y_label: str = "") -> str:
    names = list(values)
    heights = [float(values[n]) for n in names]
    top = max([h for h in heights if math.isfinite(h)] or [1.0])
    frame = _Frame([0, max(len(names), 1)], [0, top * 1.1 or 1.0], None, None)
    parts = _axes(frame, title, "", y_label)
    slot = (WIDTH - LEFT - RIGHT) / max(len(names), 1)
    for i, (name, value) in enumerate(zip(names, heights, strict=True)):
        if not math.isfinite(value):
            continue
        x, y = LEFT + i * slot + slot * 0.15, frame.y(value)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{COLORS[i % len(COLORS)]}"/>'
                     f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                     f"{_label(round(value, 3))}</text>"
                     f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 28}" '
                     f'text-anchor="middle">{escape(name[:22])}</text>')
    return _document(parts, title)


def roc_chart(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    thinned = {name: _thin(fpr, tpr) for name, (fpr, tpr) in curves.items()}
    return line_chart("ROC curve (test share)", thinned, x_label="false positive rate",
                      y_label="true positive rate", x_range=(0, 1), y_range=(0, 1),
                      markers=False, diagonal=True)


def calibration_chart(mean_predicted: np.ndarray, observed: np.ndarray, method: str) -> str:
    return line_chart(f"Calibration ({method}, test share)",
                      {"calibrated model": (list(mean_predicted), list(observed))},
                      x_label="mean predicted probability", y_label="observed frequency",
                      x_range=(0, 1), y_range=(0, 1), diagonal=True)


def _thin(xs: np.ndarray, ys: np.ndarray, most: int = 200) -> tuple[list[float], list[float]]:
    """At most `most` points of a long curve (ROC curves have one per threshold)."""
    if len(xs) <= most:
        return list(map(float, xs)), list(map(float, ys))
    keep = np.unique(np.linspace(0, len(xs) - 1, most).astype(int))
    return list(map(float, xs[keep])), list(map(float, ys[keep]))
