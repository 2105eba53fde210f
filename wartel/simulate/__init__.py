"""A simulated region with every detection pattern injected at known places (``wartel simulate``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg

from wartel.simulate.audit_trail import write_service_audit
from wartel.simulate.generate import Region, generate_region
from wartel.simulate.inject import Truth, inject_patterns


async def simulate(
    conn: asyncpg.Connection,
    *,
    facilities: int,
    inmates: int,
    days: int,
    seed: int,
    end: date | None = None,
    booking_days: int | None = None,
    lookalikes: bool = False,
    service_audit: bool = False,
) -> tuple[Region, Truth]:
    """Generate a region's normal traffic, inject every pattern, return the region and its ground truth.

    ``lookalikes``: also the benign situations that resemble patterns (holiday surge, migrant workers'
    families abroad, an outage, a facility going live, a new officer, a shift change, large families).

    ``service_audit``: also the audit entries the service writes for every booking, check-in,
    cancellation and call (``wartel.simulate.audit_trail``), as realistic input for the officer rules; not
    with look-alikes, which change rows after the trail is written.

    ``conn`` must be the schema owner's connection (the simulation writes rows directly).
    """
    if facilities < 4 or inmates < 40 * facilities or days < 56:
        raise ValueError("simulate needs >= 4 facilities, >= 40 inmates per facility and >= 56 days")
    if lookalikes and days < 77:
        raise ValueError(
            "look-alikes need >= 77 days (a holiday with four weeks of history, patterns after it)"
        )
    if lookalikes and service_audit:
        raise ValueError("the service's audit trail is written before look-alikes change rows: choose one")
    end = end or datetime.now(UTC).date()
    region = await generate_region(
        conn, facilities=facilities, inmates=inmates, days=days, seed=seed, end=end, booking_days=booking_days
    )
    if service_audit:
        await write_service_audit(conn, region.facility_ids)
    truth = await inject_patterns(conn, region, lookalikes=lookalikes)
    for table in ("sim_plan", "sim_inmate", "sim_officer"):
        await conn.execute(f"DROP TABLE IF EXISTS {table}")  # fixed names
    return region, truth


__all__ = ["Region", "Truth", "simulate"]
