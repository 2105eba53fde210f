"""Schemathesis against the live OpenAPI document, as a user of each role: the service never errs on input.

Every generated request (valid by the schema, and deliberately invalid) is sent over real HTTP to the
service on 127.0.0.1. Each answer must be below 500; every 4xx must be problem+json; and a refused request
must leave every table and every audit log exactly as it was. The run is bounded: ``WARTEL_HOSTILE_CASES``
requests in total (spread over operations and both generation modes, the role drawn per request); ``make test-faults`` runs a
larger one.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.faults.probe import WriteProbe, is_problem
from tests.faults.report import record
from tests.hostile_report import Tally

ROLES = ("officer", "security", "regional", "admin")
DEFAULT_CASES = 800
MIN_EXAMPLES = 4  # per operation and generation mode, however many operations there are


@dataclass
class Findings:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    not_problem: list[str] = field(default_factory=list)
    written_on_refusal: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)
    slowest_s: float = 0.0

    def failures(self) -> list[str]:
        return (
            self.server_errors
            + self.not_problem
            + self.written_on_refusal
            + self.transport_errors
            + self.over_budget
        )


async def _world(factory: Any) -> dict[str, Any]:
    """Two regions, facilities with booths, inmates and contacts, so that small ids hit real rows."""
    region = await factory.region()
    other_region = await factory.region()
    fid = await factory.facility(region)
    other_fid = await factory.facility(other_region)
    for f in (fid, other_fid):
        await factory.booth(f)
        await factory.booth(f, kind="video")
        inmate = await factory.inmate(f)
        await factory.contact(inmate)
    return {"region": region, "facility": fid}


async def _tokens(factory: Any, world: dict[str, Any]) -> dict[str, str]:
    scope = {
        "officer": {"facility_id": world["facility"]},
        "security": {"facility_id": world["facility"]},
        "regional": {"region_id": world["region"]},
        "admin": {},
    }
    return {role: (await factory.as_role(role, **scope[role])).token for role in ROLES}


def _bind(exercise: Any, mode: Any) -> Any:
    def run_case(case: Any, role: str) -> None:
        exercise(case, role, mode)

    return run_case


def run_schemathesis(
    spec: dict[str, Any],
    base_url: str,
    tokens: dict[str, str],
    total_cases: int,
    loop: asyncio.AbstractEventLoop,
    probe: WriteProbe,
    reissue: Any,
) -> Findings:
    """Runs in a worker thread: the service and the probe live on ``loop``, which stays free meanwhile."""
    import requests
    import schemathesis
    from schemathesis import GenerationMode

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    schema = schemathesis.openapi.from_dict(spec)
    operations = [r.ok() for r in schema.get_all_operations()]
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    per_run = max(MIN_EXAMPLES, total_cases // max(1, len(operations) * len(modes)))
    found = Findings()
    session = requests.Session()
    # One fingerprint per request: the one taken after a request is the "before" of the next.
    last = {"snapshot": on_loop(probe.snapshot())}

    def exercise(case: Any, role: str, mode: Any) -> None:
        label = f"{role} {mode.value} {case.method} {case.formatted_path}"
        before = last["snapshot"]
        try:
            resp = case.call(
                base_url=base_url,
                session=session,
                timeout=15,
                headers={"Authorization": f"Bearer {tokens[role]}"},
            )
        except requests.RequestException as exc:
            found.transport_errors.append(f"{label}: {type(exc).__name__}: {exc}")
            return
        status = resp.status_code
        found.requests += 1
        # Each class's answer comes within its connection wait plus its statement budget (defaults), plus slack.
        heavy = spec["paths"].get(case.operation.path, {}).get(case.method.lower(), {}).get("x-request-class")
        budget = (2 + 15 if heavy == "heavy" else 5 + 5) + 3
        elapsed = resp.elapsed if isinstance(resp.elapsed, float) else resp.elapsed.total_seconds()
        found.slowest_s = max(found.slowest_s, elapsed)
        if elapsed > budget:
            found.over_budget.append(f"{label} took {elapsed:.1f}s > {budget}s")
        found.by_status[status] = found.by_status.get(status, 0) + 1
        body = resp.content
        after = last["snapshot"] = on_loop(probe.snapshot())
        if case.formatted_path == "/readyz" and status == 503:
            return  # readiness is an answer, not an error: the database or migrations are not there yet
        if status >= 500:
            found.server_errors.append(f"{label} -> {status} {body[:600]!r}")
        if status >= 400:
            ctype = next(
                (
                    v[0] if isinstance(v, list) else v
                    for k, v in resp.headers.items()
                    if k.lower() == "content-type"
                ),
                "",
            )
            wrong = is_problem(status, ctype, body)
            if wrong:
                found.not_problem.append(f"{label} -> {status}: {wrong}")
        if 400 <= status < 500:
            changed = WriteProbe.changed(before, after)
            if changed:
                found.written_on_refusal.append(f"{label} -> {status} changed {changed}")
        if status == 401 and b"invalid_token" in body:
            # A generated DELETE revoked this role's own token (a legitimate 2xx earlier): re-issue.
            tokens[role] = on_loop(reissue(role))
            last["snapshot"] = on_loop(probe.snapshot())

    for op in operations:
        for mode in modes:
            run = given(case=op.as_strategy(generation_mode=mode), role=st.sampled_from(ROLES))(
                settings(
                    max_examples=per_run,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(_bind(exercise, mode))
            )
            try:
                run()
            except Unsatisfiable:
                pass  # nothing to negate (no parameters and no body)
    session.close()
    return found


async def test_generated_requests_never_break_the_service(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    world = await _world(factory)
    tokens = await _tokens(factory, world)
    scope = {
        "officer": {"facility_id": world["facility"]},
        "security": {"facility_id": world["facility"]},
        "regional": {"region_id": world["region"]},
        "admin": {},
    }

    async def reissue(role: str) -> str:
        return (await factory.as_role(role, **scope[role])).token

    spec = await (await client.get("/api/openapi.json")).json()
    base_url = str(client.make_url("")).rstrip("/")
    total = int(os.environ.get("WARTEL_HOSTILE_CASES", DEFAULT_CASES))
    probe = WriteProbe(owner_conn)
    started = time.monotonic()
    found = await asyncio.to_thread(
        run_schemathesis, spec, base_url, tokens, total, asyncio.get_running_loop(), probe, reissue
    )
    elapsed = time.monotonic() - started
    print(
        f"schemathesis: {found.requests} requests in {elapsed:.1f}s, statuses {sorted(found.by_status.items())}"
    )
    record(
        "hostile_schemathesis",
        requests=found.requests,
        server_errors=len(found.server_errors),
        not_problem=len(found.not_problem),
        written_on_refusal=len(found.written_on_refusal),
        transport_errors=len(found.transport_errors),
        seconds=round(elapsed, 1),
        statuses={str(k): v for k, v in sorted(found.by_status.items())},
    )
    tally = Tally(
        "hostile_schemathesis",
        requests=found.requests,
        server_errors=len(found.server_errors),
        writes_from_refused=len(found.written_on_refusal),
        over_budget=len(found.over_budget),
        slowest_ms=round(found.slowest_s * 1000, 1),
        started=started,
    )
    tally.record(not_problem=len(found.not_problem), transport_errors=len(found.transport_errors))
    assert found.requests > 0
    assert not found.failures(), "\n".join(found.failures()[:40])


@pytest.mark.faults
async def test_generated_requests_larger_run(client, factory, owner_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WARTEL_HOSTILE_CASES", os.environ.get("WARTEL_HOSTILE_FAULT_CASES", "1200"))
    await test_generated_requests_never_break_the_service(client, factory, owner_conn)


def _sequences(
    base: Any,
    role: str,
    base_url: str,
    session: Any,
    tokens: dict[str, str],
    on_loop: Any,
    probe: WriteProbe,
    tally: Tally,
    reissue: Any,
) -> Any:
    """The schema's state machine, calling the service as ``role`` and checking every answer."""

    class Sequences(base):  # type: ignore[valid-type, misc]
        before: dict[str, tuple[int, str]] = {}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {
                "base_url": base_url,
                "session": session,
                "timeout": 15,
                "headers": {"Authorization": f"Bearer {tokens[role]}"},
            }

        def before_call(self, case: Any) -> None:
            Sequences.before = on_loop(probe.snapshot())

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            label = f"{role} stateful {case.method} {case.formatted_path}"
            status = response.status_code
            written = WriteProbe.changed(Sequences.before, on_loop(probe.snapshot()))
            if case.formatted_path == "/readyz" and status == 503:
                return
            tally.answered(label, status, float(getattr(response, "elapsed", 0) or 0), written=written)
            if status >= 400:
                ctype = response.headers.get("Content-Type", response.headers.get("content-type", [""]))
                wrong = is_problem(status, ctype[0] if isinstance(ctype, list) else ctype, response.content)
                if wrong:
                    tally.findings.append(f"{label} -> {status}: {wrong}")
            if status == 401 and b"invalid_token" in response.content:
                tokens[role] = on_loop(reissue(role))  # a generated DELETE revoked this role's own token

    return Sequences


def run_stateful(
    spec: dict[str, Any],
    base_url: str,
    tokens: dict[str, str],
    examples: int,
    loop: asyncio.AbstractEventLoop,
    probe: WriteProbe,
    tally: Tally,
    reissue: Any,
) -> None:
    """Schemathesis' stateful phase: sequences that follow the document's links (a create, then the operations
    on what it created), once per role. Same checks as the stateless run, counted in ``tally``."""
    import requests
    import schemathesis

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    schema = schemathesis.openapi.from_dict(spec)
    session = requests.Session()
    for role in ROLES:
        machine = _sequences(
            schema.as_state_machine(), role, base_url, session, tokens, on_loop, probe, tally, reissue
        )
        machine.run(
            settings=settings(
                max_examples=examples,
                stateful_step_count=6,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
        )
    session.close()


async def test_stateful_sequences_never_break_the_service(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    world = await _world(factory)
    tokens = await _tokens(factory, world)
    scope = {
        "officer": {"facility_id": world["facility"]},
        "security": {"facility_id": world["facility"]},
        "regional": {"region_id": world["region"]},
        "admin": {},
    }

    async def reissue(role: str) -> str:
        return (await factory.as_role(role, **scope[role])).token

    spec = await (await client.get("/api/openapi.json")).json()
    links = sum(
        len(r.get("links", {}))
        for ops in spec["paths"].values()
        for op in ops.values()
        for r in op["responses"].values()
    )
    assert links > 50, links
    tally = Tally("hostile_schemathesis_stateful")
    base_url = str(client.make_url("")).rstrip("/")
    examples = int(os.environ.get("WARTEL_HOSTILE_STATEFUL_EXAMPLES", 15))
    try:
        await asyncio.to_thread(
            run_stateful,
            spec,
            base_url,
            tokens,
            examples,
            asyncio.get_running_loop(),
            WriteProbe(owner_conn),
            tally,
            reissue,
        )
    finally:
        tally.record(links=links)
    assert tally.requests > 0
    assert not tally.findings, "\n".join(tally.findings[:40])
