"""Charts drawn on the server as inline SVG: print well, need no JavaScript, no external files."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

ROW_H = 24
LABEL_W = 150
VALUE_W = 70
TARGET_H = 18  # room above the bars for the target line's own label


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(title: str, rows: Sequence[tuple[str, float | None]], *, width: int = 640,
              max_value: float | None = None, fmt: Callable[[float], str] = _num,
              target: float | None = None, target_label: str = "", missing: str = "n/a") -> Markup:
    """Horizontal bars, one per row; ``None`` values are drawn as ``missing``. ``target`` draws a dashed line,
    named by ``target_label`` above it (no line on a chart goes unexplained)."""
    bar_w = width - LABEL_W - VALUE_W
    top = max([v for _, v in rows if v is not None] + [max_value or 0, 1e-9])
    scale = max_value if max_value is not None else top
    offset = TARGET_H if target is not None else 0
    height = ROW_H * max(len(rows), 1) + 10 + offset
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(rows):
        y = 5 + offset + i * ROW_H
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" class="chart-label">'
                     f'{escape(short)}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{bar_w}" height="{ROW_H - 6}" class="chart-track"/>')
        if value is None:
            parts.append(f'<text x="{LABEL_W + 4}" y="{y + 15}" class="chart-value">{escape(missing)}</text>')
            continue
        w = 0 if scale <= 0 else min(bar_w, bar_w * value / scale)
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" class="chart-bar"/>')
        parts.append(f'<text x="{LABEL_W + bar_w + 6}" y="{y + 15}" class="chart-value">{escape(fmt(value))}</text>')
    if target is not None and scale > 0:
        x = LABEL_W + bar_w * min(target / scale, 1)
        parts.append(f'<line x1="{x:.1f}" y1="{offset - 2}" x2="{x:.1f}" y2="{height - 2}" class="chart-target"/>')
        label = target_label or fmt(target)
        parts.append(f'<text x="{x:.1f}" y="{offset - 6}" text-anchor="end" class="chart-label chart-target-label">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def percent(x: float) -> str:
    return f"{x * 100:.0f}%"
