"""A flag's evidence as a reviewer reads it: labelled in the page's language, people and places by name,
records as links, never a raw key or Python's ``None``.

The detector writes evidence as JSON with English keys (``distinct_inmates``, ``thresholds``…); this module
only renders it. Names come from :mod:`wartel.usecases.directory`, read for ids the flag already holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from wartel.i18n import catalogue, t
from wartel.pages.templating import format_local
from wartel.usecases import directory

# Shown elsewhere on the flag page (rule and version in the heading).
_SKIP = frozenset({"rule_id", "rule_version"})
_INMATE_KEYS = frozenset({"inmate_id", "inmate_ids", "inmates", "household_inmates", "released_inmates"})
_FACILITY_KEYS = frozenset({"facility_id", "facility_ids", "facilities"})
_USER_KEYS = frozenset({"staff_user_id", "officers", "officer_id", "actor_id"})
_CALL_KEYS = frozenset({"call_ids", "last_completed_call_id", "next_completed_call_id", "call_id"})
_LIST_LIMIT = 12  # a reviewer reads the first dozen; the full JSON stays one click away


@dataclass
class Link:
    text: str
    href: str | None = None


@dataclass
class EvidenceLine:
    label: str
    parts: list[Link] = field(default_factory=list)
    children: list[EvidenceLine] = field(default_factory=list)


@dataclass
class _Names:
    inmates: dict[int, Any]
    facilities: dict[int, str]
    users: dict[int, str]


def _walk_ids(value: Any, key: str, found: dict[str, set[int]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk_ids(v, k, found)
    elif isinstance(value, list):
        for v in value:
            _walk_ids(v, key, found)
    elif isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and value.isdigit():
        number = int(value)
        if key in _INMATE_KEYS:
            found["inmates"].add(number)
        elif key in _FACILITY_KEYS:
            found["facilities"].add(number)
        elif key in _USER_KEYS:
            found["users"].add(number)


def _label(lang: str, key: str) -> str:
    return t(lang, f"evidence.{key}", t(lang, "evidence.other"))


def _scalar(lang: str, key: str, value: Any, names: _Names, tz: str) -> Link:
    if value is None:
        return Link("—")
    if isinstance(value, bool):
        return Link(t(lang, "label.yes" if value else "label.no"))
    number = int(value) if isinstance(value, int) or isinstance(value, str) and value.isdigit() else None
    if number is not None and key in _INMATE_KEYS:
        inmate = names.inmates.get(number)
        text = f"{inmate['full_name']} ({inmate['registration_no']})" if inmate else f"#{number}"
        return Link(text, f"/officer/inmates/{number}" if inmate else None)
    if number is not None and key in _FACILITY_KEYS:
        return Link(names.facilities.get(number, f"#{number}"))
    if number is not None and key in _USER_KEYS:
        return Link(names.users.get(number, f"#{number}"))
    if number is not None and key in _CALL_KEYS:
        return Link(f"#{number}")
    if isinstance(value, float):
        return Link(f"{value:.2f}".rstrip("0").rstrip(".").replace(".", "," if lang == "id" else "."))
    if isinstance(value, str):
        moment = _moment(value)
        if moment is not None:
            return Link(format_local(moment, tz, lang))
        if value.startswith("+") and value[1:].isdigit():
            return Link(value, f"/security/links?number={value.replace('+', '%2B')}")
        if f"evidence_value.{value}" in catalogue()["id"]:
            return Link(t(lang, f"evidence_value.{value}"))
    return Link(str(value))


def _moment(text: str) -> datetime | None:
    if len(text) < 19 or text[4] != "-" or "T" not in text and " " not in text[10:11]:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _line(lang: str, key: str, value: Any, names: _Names, tz: str) -> EvidenceLine:
    line = EvidenceLine(_label(lang, key))
    if isinstance(value, dict):
        line.children = [_line(lang, k, v, names, tz) for k, v in value.items() if k not in _SKIP]
    elif isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            for item in value[:_LIST_LIMIT]:
                parts = [f"{_label(lang, k)}: {_scalar(lang, k, v, names, tz).text}" for k, v in item.items()
                         if not isinstance(v, (dict, list))]
                line.children.append(EvidenceLine("·", [Link("; ".join(parts))]))
        else:
            line.parts = [_scalar(lang, key, v, names, tz) for v in value[:_LIST_LIMIT]]
        if len(value) > _LIST_LIMIT:
            line.parts.append(Link(t(lang, "label.and_more", n=len(value) - _LIST_LIMIT)))
        if not value:
            line.parts = [Link("—")]
    else:
        line.parts = [_scalar(lang, key, value, names, tz)]
    return line


async def readable_evidence(conn: asyncpg.Connection, evidence: dict[str, Any], lang: str,
                            tz: str) -> list[EvidenceLine]:
    """The evidence's lines, labelled in ``lang``, with the inmates, facilities and officers it names."""
    found: dict[str, set[int]] = {"inmates": set(), "facilities": set(), "users": set()}
    _walk_ids(evidence, "", found)
    names = _Names(inmates=await directory.inmate_labels(conn, sorted(found["inmates"])),
                   facilities=await directory.facility_names(conn, sorted(found["facilities"])),
                   users=await directory.user_names(conn, sorted(found["users"])))
    return [_line(lang, k, v, names, tz) for k, v in evidence.items() if k not in _SKIP]
