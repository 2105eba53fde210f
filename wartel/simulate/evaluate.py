"""Per-rule precision and recall of the flags in a simulated region against its ground truth."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from audit.detection.catalogue import RULES


async def evaluate(conn: asyncpg.Connection, truth: dict[str, Any]) -> dict[str, Any]:
    """Compare the flags of ``truth['region_id']`` (deduplicated per rule and subject) with the truth.

    precision = hits / (flagged - tolerated side effects); recall = hits / expected. A subject flagged in
    several periods counts once. ``negatives_flagged`` lists known-negative subjects that were flagged.
    """
    rows = await conn.fetch(
        """SELECT DISTINCT rule_id, subject_type, subject_key FROM detection_flags
            WHERE region_id = $1 AND NOT (evidence ? 'simulated')""", truth["region_id"])
    flagged: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in rows:
        flagged[r["rule_id"]].add((r["subject_type"], r["subject_key"]))
    expected: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for e in truth["expected"]:
        expected[e["rule"]].add((e["subject_type"], e["subject_key"]))
    tolerated: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for e in truth["tolerated"]:
        tolerated[e["rule"]].add((e["subject_type"], e["subject_key"]))
    per_rule: dict[str, Any] = {}
    for rule in RULES:
        f, e, t = flagged[rule.id], expected[rule.id], tolerated[rule.id]
        hits = f & e
        judged = f - (t - e)
        false_pos = judged - e
        per_rule[rule.id] = {
            "flagged": len(f), "expected": len(e), "hits": len(hits), "false_positives": len(false_pos),
            "precision": round(len(hits) / len(judged), 3) if judged else None,
            "recall": round(len(hits) / len(e), 3) if e else None,
            "missed": sorted(f"{s}:{k}" for s, k in e - f),
        }
    negatives_flagged = []
    for n in truth["negatives"]:
        for rule_id in n["rules"]:
            if (n["subject_type"], n["subject_key"]) in flagged[rule_id]:
                negatives_flagged.append({"rule": rule_id, "reason": n["reason"]})
    total_expected = sum(len(v) for v in expected.values())
    total_hits = sum(v["hits"] for v in per_rule.values())
    return {"region_id": truth["region_id"], "rules": per_rule, "negatives_checked": len(truth["negatives"]),
            "negatives_flagged": negatives_flagged,
            "recall": round(total_hits / total_expected, 3) if total_expected else None}
