"""No existence oracle: for every scoped endpoint, "not yours" and "does not exist" answer alike.

The authorisation matrix (``tests/authz_cases_*.py``) already names, for every endpoint, the request a caller
makes on another region's facility, inmate, booking, flag … and expects 404. Here the same request is sent
twice by each non-admin principal the endpoint admits: once with the foreign ids, once with ids that do not
exist. Status, ``code``, ``field`` and ``detail`` (with numbers blanked) must be the same, or the answer
tells the caller that something exists out of their sight. Each difference counts as a scope leak.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.authz import PRINCIPALS, ROLE_OF, SAME, Case, World, fill
from tests.hostile_report import Tally
from tests.test_authz_matrix import CASES, world  # noqa: F401  (the matrix's module-scoped world fixture)

# Placeholders that hold an id of something in a scope; the missing variant replaces them.
_ID_PLACEHOLDERS = frozenset(
    {
        "bk_booth",
        "bk_contact",
        "bk_inmate",
        "booking_id",
        "booth_id",
        "closure_id",
        "contact_id",
        "device_id",
        "entry_id",
        "facility_id",
        "flag_id",
        "inmate_id",
        "policy_id",
        "region_id",
        "sanction_id",
        "token_id",
        "other_facility_id",
    }
)
_MISSING = 900_000_000
_DIGITS = re.compile(r"\d+")


def _missing(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for i, name in enumerate(sorted(_ID_PLACEHOLDERS & values.keys())):
        if isinstance(values[name], int):
            out[name] = _MISSING + i
    if isinstance(values.get("log"), str):
        out["log"] = _DIGITS.sub(str(_MISSING), values["log"])
    if isinstance(values.get("facility_code"), str):
        out["facility_code"] = "ZZ-NOWHERE"
    return out


async def _answer(mx: World, principal: str, case: Case, values: dict[str, Any]) -> tuple[Any, ...]:
    kwargs: dict[str, Any] = {}
    if isinstance(case.body, str):
        kwargs["data"] = fill(case.body, values).encode()
        kwargs["headers"] = {"Content-Type": case.content_type or "text/plain"}
    elif case.body is not None:
        kwargs["json"] = fill(case.body, values)
    r = await mx.clients[principal].request(case.method, fill(case.path, values), **kwargs)
    body = await r.read()
    problem: dict[str, Any] = json.loads(body) if r.content_type == "application/problem+json" else {}
    return (
        r.status,
        problem.get("code"),
        problem.get("field"),
        _DIGITS.sub("N", str(problem.get("detail", ""))),
    )


async def test_foreign_and_missing_answer_alike_on_every_scoped_endpoint(world: World) -> None:  # noqa: F811
    tally = Tally("hostile_scope")
    compared = 0
    for _, case in CASES:
        if case.foreign in (SAME, "ok") or case.foreign != 404:
            continue
        for principal in PRINCIPALS:
            if principal == "admin" or ROLE_OF[principal] not in case.roles:
                continue
            foreign_values = await world.values(case, "foreign", principal)
            foreign = await _answer(world, principal, case, foreign_values)
            missing = await _answer(world, principal, case, _missing(foreign_values))
            tally.answered(f"{principal} {case.key} foreign", foreign[0])
            tally.answered(f"{principal} {case.key} missing", missing[0])
            compared += 1
            if foreign != missing:
                tally.leak(f"{principal} {case.key}: foreign {foreign} vs missing {missing}")
    tally.record(compared=compared)
    assert compared > 50, compared
    assert not tally.findings, "\n".join(tally.findings)
