"""The link view drawn on the server: the subject in the middle, what it touches on a circle around it."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 520
RADIUS = 200


def link_svg(graph: dict[str, Any], title: str, redacted_label: str) -> Markup:
    nodes = graph["nodes"]
    if not nodes:
        return Markup("")
    root = next((n for n in nodes if n.get("root")), nodes[0])
    others = [n for n in nodes if n is not root]
    cx, cy = WIDTH / 2, HEIGHT / 2
    pos = {root["id"]: (cx, cy)}
    for i, n in enumerate(others):
        angle = 2 * math.pi * i / max(len(others), 1) - math.pi / 2
        # Two rings when crowded, so labels do not overlap.
        r = RADIUS if len(others) <= 12 or i % 2 == 0 else RADIUS * 0.62
        pos[n["id"]] = (cx + r * math.cos(angle), cy + r * math.sin(angle))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="links" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%"><title>{escape(title)}</title>']
    for e in graph["edges"]:
        if e["source"] not in pos or e["target"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
        width = 1 + min(e.get("count", 1), 20) / 4
        dash = ' stroke-dasharray="5 4"' if e.get("kind") == "registered" else ""
        parts.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" class="edge" '
                     f'stroke-width="{width:.1f}"{dash}><title>{escape(e.get("kind", ""))} × {e.get("count", 1)}</title></line>')
    for n in nodes:
        x, y = pos[n["id"]]
        shape = "number" if n["type"] == "number" else "inmate"
        classes = f"node {shape}{' root' if n is root else ''}{' flagged' if n.get('flags') else ''}"
        label = redacted_label if n.get("redacted") else n.get("label", "")
        sub = n.get("registration_no") or (f"⚑ {n['flags']}" if n.get("flags") else "")
        if shape == "number":
            parts.append(f'<rect x="{x - 9:.0f}" y="{y - 9:.0f}" width="18" height="18" class="{classes}"/>')
        else:
            parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="10" class="{classes}"/>')
        text = escape(label if len(label) <= 26 else label[:25] + "…")
        parts.append(f'<text x="{x:.0f}" y="{y + 24:.0f}" text-anchor="middle" class="node-label">{text}</text>')
        if sub:
            parts.append(f'<text x="{x:.0f}" y="{y + 37:.0f}" text-anchor="middle" class="node-sub">{escape(sub)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
