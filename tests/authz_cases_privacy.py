"""Authorisation cases for privacy: who looked at an inmate's or a number's data, erasing a number (issue 21).

Security heads, the regional office and admins (the audit readers) may ask who looked; officers may not
(they are among the people whose looks are listed). An inmate elsewhere is a 404; a number is not scoped
(the answer lists only the records in the caller's logs). Erasure is the data-protection officer's act:
the regional office for its region, admins nationally; a number held elsewhere is a 404.
"""

from __future__ import annotations

import itertools

from tests.authz import SAME, Case, World

AUDITORS = frozenset({"security", "regional", "admin"})
ERASERS = frozenset({"regional", "admin"})
_n = itertools.count(1)

CASES = [
    Case("GET", "/api/v1/access/inmates/{inmate_id}", AUDITORS),
    Case("GET", "/api/v1/access/unusual", AUDITORS, foreign=SAME),
    Case("POST", "/api/v1/access/number", AUDITORS, body={"number": "{unique_phone}"}, foreign=SAME),
    Case(
        "POST",
        "/api/v1/privacy/erasures",
        ERASERS,
        body={"number": "{held_number}", "reason": "permintaan"},
        fresh=("held_number",),
    ),
    Case("GET", "/api/v1/privacy/retention?region_id={region_id}", ERASERS),
    Case(
        "PUT",
        "/api/v1/privacy/retention/{region_id}",
        ERASERS,
        body={"released_family_years": 2, "unverified_contact_days": 90},
    ),
    Case("GET", "/api/v1/privacy/erasures?region_id={region_id}", ERASERS),
]


async def _held_number(world: World, scope: str, principal: str) -> str:
    """A number held by a contact of the scope's inmate, made anew (an erased one cannot be erased twice)."""
    number = f"+62819{next(_n):08d}"
    await world.factory.contact(world.scopes[scope]["inmate_id"], number, verified=False)
    return number


FRESH = {"held_number": _held_number}
