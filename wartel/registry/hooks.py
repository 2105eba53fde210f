"""Facility-side changes other areas react to, inside the same transaction.

When a booth goes out of service, a closure is added, an inmate leaves a facility or a contact is
withdrawn, bookings that can no longer happen must be cancelled (and credited) by the booking area.
The registry does not know bookings: it calls every hook listed in :func:`facility_change_hooks` with
the change, in the transaction that made it, so the cancellation commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from audit import Actor
from schedules.booking import on_facility_change

ChangeKind = Literal["booth_out_of_service", "closure_added", "hours_changed", "inmate_left", "contact_withdrawn"]


@dataclass(frozen=True)
class FacilityChange:
    """What changed. ``during`` (UTC, half-open) is set for closures; ids for the rest."""

    kind: ChangeKind
    facility_id: int
    booth_id: int | None = None
    during: tuple[datetime, datetime] | None = None
    inmate_id: int | None = None
    contact_id: int | None = None


FacilityChangeHook = Callable[[asyncpg.Connection, FacilityChange, Actor], Awaitable[None]]


def facility_change_hooks() -> list[FacilityChangeHook]:
    """The hooks to call; the booking area adds its facility-side cancellation here (one-line edit)."""
    return [on_facility_change]


async def notify(conn: asyncpg.Connection, change: FacilityChange, actor: Actor) -> None:
    for hook in facility_change_hooks():
        await hook(conn, change, actor)
