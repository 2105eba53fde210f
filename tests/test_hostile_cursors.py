"""Property: any cursor given to any list endpoint is either one it can use or a 400 ``invalid_cursor``.

Every endpoint whose query model takes a ``cursor`` is found from the endpoint table (a new list endpoint is
covered without touching this file). Hypothesis draws cursors of three kinds: any text; base64 of any JSON
value; and base64 of arrays of the endpoint's arity with values of every JSON type (the case that used to
reach ``datetime.fromisoformat`` and ``int()`` unchecked). The answer is 200 or 400 with code
``invalid_cursor`` on field ``cursor``, never a 5xx, and nothing is written.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.probe import WriteProbe
from tests.hostile_report import Tally
from wartel import keys

EXAMPLES_PER_ENDPOINT = 60

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
            "notadate",
            "2026-13-45",
        ]
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def cursors() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=80),
        _json.map(_b64),
        st.integers(min_value=1, max_value=3)
        .flatmap(lambda n: st.lists(_json, min_size=n, max_size=n))
        .map(_b64),
        st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    )


def _list_endpoints(app: Any, log_key: str) -> list[str]:
    paths = []
    for ep in app[keys.ENDPOINTS]:
        if ep.method == "GET" and ep.query is not None and "cursor" in ep.query.model_fields:
            paths.append(re.sub(r"{log}", log_key, ep.path))
    return paths


async def test_any_cursor_is_used_or_refused_with_400(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    tally = Tally("hostile_cursors")
    region = await factory.region()
    fid = await factory.facility(region)
    admin = await factory.as_role("admin")
    paths = _list_endpoints(client.server.app, f"facility-{fid}")
    assert len(paths) >= 6, paths  # bookings, inmates, users, flags, audit entries, audit checkpoints
    probe = WriteProbe(owner_conn)
    before = await probe.snapshot()
    loop = asyncio.get_running_loop()
    bad: list[str] = []

    async def ask(path: str, cursor: str) -> None:
        r = await admin.get(path, params={"cursor": cursor})
        body = await r.read()
        tally.answered(f"GET {path} cursor={cursor!r}", r.status)
        if r.status == 200:
            return
        problem = json.loads(body) if r.content_type == "application/problem+json" else {}
        if (r.status, problem.get("code"), problem.get("field")) != (400, "invalid_cursor", "cursor"):
            bad.append(f"{path} cursor={cursor!r}: {r.status} {body[:200]!r}")

    def run(path: str) -> None:
        @settings(
            max_examples=EXAMPLES_PER_ENDPOINT,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(cursor=cursors())
        def one(cursor: str) -> None:
            asyncio.run_coroutine_threadsafe(ask(path, cursor), loop).result(timeout=30)

        one()

    for path in paths:
        await asyncio.to_thread(run, path)
    written = WriteProbe.changed(before, await probe.snapshot())
    if written:
        tally.writes_from_refused += 1
        tally.findings.append(f"cursor requests wrote {written}")
    tally.findings.extend(bad)
    tally.record(endpoints=len(paths))
    assert not tally.findings, "\n".join(tally.findings[:30])
