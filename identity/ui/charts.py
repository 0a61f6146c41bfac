"""Small server-side SVG charts of identity: a pair's waterfall of match weights and the
graph of a profile's records. Drawn from numbers and labels only, every text escaped."""

import math
from collections.abc import Sequence
from html import escape

from django.utils.translation import gettext as _

from identity.ui.labels import field_label, short_level

POSITIVE, NEGATIVE, TOTAL, MUTED = "#16a34a", "#dc2626", "#2563eb", "#9ca3af"


def probability_of(weight: float) -> float:
    return 1 / (1 + 2 ** -weight)


def weight_of(probability: float, cap: float = 30.0) -> float:
    """Match weight (log2 odds) of a probability, capped for certain pairs."""
    if probability >= 1:
        return cap
    if probability <= 0:
        return -cap
    return max(-cap, min(cap, math.log2(probability / (1 - probability))))


def _svg(width: int, height: int, parts: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="Inter, sans-serif" font-size="12" '
            f'role="img" aria-label="{escape(label)}" style="max-width:100%">'
            f'{"".join(parts)}</svg>')


def waterfall_svg(steps: Sequence[dict], prior: float | None) -> str:
    """One row per comparison: a bar from the running match weight to the next (green
    adds evidence of a match, red takes it away), then the total and its probability."""
    rows: list[tuple[str, str, float | None]] = []
    if prior is not None:
        rows.append((_("prior (two random records)"), "", prior))
    rows += [(field_label(str(s.get("comparison", ""))),
              short_level(str(s.get("comparison", "")), str(s.get("level", ""))),
              s.get("weight")) for s in steps]
    running, spans = 0.0, []
    for _name, _level, weight in rows:
        start = running
        running += weight or 0.0
        spans.append((start, running))
    low = min([0.0, *(min(s) for s in spans)])
    high = max([0.0, *(max(s) for s in spans)])
    width, label_w, row_h, top = 600, 240, 34, 10
    plot_w = width - label_w - 120
    scale = plot_w / ((high - low) or 1.0)

    def x(value: float) -> float:
        return label_w + (value - low) * scale

    height = top + row_h * (len(rows) + 1) + 26
    parts = [f'<line x1="{x(0):.1f}" y1="{top - 4}" x2="{x(0):.1f}" '
             f'y2="{height - 22}" stroke="{MUTED}" stroke-dasharray="3 3"/>']
    for index, ((name, level, weight), (start, end)) in enumerate(zip(rows, spans,
                                                                      strict=True)):
        y = top + index * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" '
                     f'font-weight="600">{escape(name[:40])}</text>'
                     f'<text x="{label_w - 8}" y="{y + 27}" text-anchor="end" font-size="10" '
                     f'fill="#6b7280">{escape(level[:46])}</text>')
        if weight is None:
            parts.append(f'<text x="{x(start) + 4:.1f}" y="{y + 20}" fill="{MUTED}">'
                         f'{escape(_("no value to compare"))}</text>')
            continue
        color = POSITIVE if weight >= 0 else NEGATIVE
        left, right = sorted((x(start), x(end)))
        parts.append(f'<rect class="step" x="{left:.1f}" y="{y + 6}" '
                     f'width="{max(right - left, 1.5):.1f}" height="{row_h - 12}" rx="3" '
                     f'fill="{color}"/><text x="{right + 5:.1f}" y="{y + 21}">'
                     f"{weight:+.2f}</text>")
        if index + 1 < len(rows):
            parts.append(f'<line x1="{x(end):.1f}" y1="{y + row_h - 6}" x2="{x(end):.1f}" '
                         f'y2="{y + row_h + 6}" stroke="{MUTED}"/>')
    y = top + len(rows) * row_h
    total = running
    parts.append(f'<text x="{label_w - 8}" y="{y + 21}" text-anchor="end" '
                 f'font-weight="bold">{escape(_("match weight"))}</text>'
                 f'<rect class="total" x="{min(x(0), x(total)):.1f}" y="{y + 6}" '
                 f'width="{max(abs(x(total) - x(0)), 1.5):.1f}" height="{row_h - 12}" rx="3" '
                 f'fill="{TOTAL}"/><text x="{max(x(0), x(total)) + 5:.1f}" y="{y + 21}" '
                 f'font-weight="bold">{total:+.2f} '
                 f"({probability_of(total):.1%})</text>")
    parts.append(f'<text x="{x(0):.1f}" y="{height - 6}" text-anchor="middle" '
                 f'fill="{MUTED}">0</text>')
    return _svg(width, height, parts, _("Match weight per comparison"))


def _edge_color(probability: float, link: float, review: float) -> str:
    if probability >= link:
        return POSITIVE
    if probability >= review:
        return "#d97706"
    return MUTED


def graph_svg(nodes: Sequence[tuple[int, str]], edges: Sequence[tuple[int, int, float]], *,
              link: float, review: float, size: int = 420) -> str:
    """Records on a circle; an edge per scored pair, its match weight written on it,
    green at or above the link threshold, amber in the review band, grey below."""
    # Two records side by side; more on a circle.
    height = 180 if len(nodes) == 2 else size
    start = math.pi if len(nodes) == 2 else -math.pi / 2
    center, radius = size / 2, size / 2 - 70
    where = {}
    for index, (record_id, _label) in enumerate(nodes):
        angle = start + 2 * math.pi * index / max(len(nodes), 1)
        where[record_id] = (center + radius * math.cos(angle),
                            height / 2 + radius * math.sin(angle))
    parts = []
    for a, b, probability in edges:
        if a not in where or b not in where:
            continue
        (x1, y1), (x2, y2) = where[a], where[b]
        color = _edge_color(probability, link, review)
        width = 1 + 4 * probability
        dash = "" if probability >= review else ' stroke-dasharray="4 4"'
        parts.append(f'<line class="edge" data-a="{a}" data-b="{b}" x1="{x1:.1f}" '
                     f'y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                     f'stroke-width="{width:.1f}"{dash}/>')
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        parts.append(f'<rect x="{mx - 22:.1f}" y="{my - 9:.1f}" width="44" height="18" '
                     f'rx="4" fill="white" stroke="{color}"/><text x="{mx:.1f}" '
                     f'y="{my + 4:.1f}" text-anchor="middle" font-size="11">'
                     f"{weight_of(probability):+.1f}</text>")
    for record_id, label in nodes:
        x, y = where[record_id]
        parts.append(f'<circle class="node" data-record="{record_id}" cx="{x:.1f}" '
                     f'cy="{y:.1f}" r="16" fill="{TOTAL}"/><text x="{x:.1f}" '
                     f'y="{y + 4:.1f}" text-anchor="middle" fill="white" font-size="11" '
                     f'font-weight="bold">{escape(str(record_id))[-4:]}</text>'
                     f'<text x="{x:.1f}" y="{y + 32:.1f}" text-anchor="middle">'
                     f"{escape(label[:28])}</text>")
    return _svg(size, height, parts, _("Records of this profile and their match weights"))
