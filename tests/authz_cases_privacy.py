"""Authorisation cases for privacy: who looked at an inmate's or a number's data (issue 21).

Security heads, the regional office and admins (the audit readers) may ask; officers may not (they are among
the people whose looks are listed). An inmate elsewhere is a 404; a number is not scoped (the answer lists
only the records in the caller's logs).
"""

from __future__ import annotations

from tests.authz import SAME, Case

AUDITORS = frozenset({"security", "regional", "admin"})

CASES = [
    Case("GET", "/api/v1/access/inmates/{inmate_id}", AUDITORS),
    Case("POST", "/api/v1/access/number", AUDITORS, body={"number": "{unique_phone}"}, foreign=SAME),
]
