"""Shared set-up for the schedules tests: a facility with booths, an inmate with contacts, slot times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.factory import As, Factory


@dataclass
class Site:
    facility_id: int
    region_id: int
    booths: list[int]
    inmate_id: int
    contact_id: int
    officer: As
    officer_id: int
    tz: str


def slot_start(tz: str, days_ahead: int = 2, at: time = time(9, 0)) -> datetime:
    """A slot start ``days_ahead`` facility-local days from now, at a local time inside 08:00-16:00."""
    zone = ZoneInfo(tz)
    day: date = datetime.now(zone).date() + timedelta(days=days_ahead)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


async def make_site(factory: Factory, *, tz: str = "Asia/Jakarta", booths: int = 2, slot_minutes: int = 15) -> Site:
    region_id = await factory.region()
    fid = await factory.facility(region_id, time_zone=tz, slot_minutes=slot_minutes)
    booth_ids = [await factory.booth(fid) for _ in range(booths)]
    inmate = await factory.inmate(fid)
    contact = await factory.contact(inmate)
    officer_id = await factory.user("officer", facility_id=fid)
    officer = await factory.login(officer_id)
    return Site(fid, region_id, booth_ids, inmate, contact, officer, officer_id, tz)


def booking_body(site: Site, starts_at: datetime, *, booth: int = 0, inmate_id: int | None = None,
                 contact_id: int | None = None, **extra: object) -> dict[str, object]:
    return {"facility_id": site.facility_id, "booth_id": site.booths[booth],
            "inmate_id": inmate_id or site.inmate_id, "contact_id": contact_id or site.contact_id,
            "starts_at": starts_at.isoformat(), **extra}


async def open_all_day(factory: Factory, facility_id: int) -> None:
    """Replace the facility's hours by 00:00-23:59:59 every day, so tests can book the next slot."""
    await factory.conn.execute("DELETE FROM opening_hours WHERE facility_id = $1", facility_id)
    for weekday in range(1, 8):
        await factory.opening_hours(facility_id, weekday, time(0, 0), time(23, 59, 59))


def next_slot(tz: str, minutes: int = 15, *, skip: int = 0) -> datetime:
    """The first slot start after now (slots run from local midnight), plus ``skip`` slots."""
    zone = ZoneInfo(tz)
    now = datetime.now(zone)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    n = int((now - midnight).total_seconds() // (minutes * 60)) + 1 + skip
    start = midnight + timedelta(minutes=minutes * n)
    # The day's last window ends at 23:59:59, so a slot ending at midnight does not exist: use the next day.
    while (start + timedelta(minutes=minutes)).date() != start.date() and start.time() != time(0):
        start = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC)


async def set_policy(factory: Factory, *, facility_id: int | None = None, region_id: int | None = None,
                     allowance: str = "family", risk_level: str | None = None, **settings: object) -> tuple[int, int]:
    """Set a policy directly through the domain (as the owner); returns (policy_id, version)."""
    from audit import Actor
    from schedules.policy import PolicySettings
    from schedules.policy import set_policy as domain_set_policy

    values: dict[str, object] = {"period": "week", "calls_allowed": 2, "max_minutes": 15, "min_lead_minutes": 0,
                                 "max_days_ahead": 14, "cancel_cutoff_minutes": 120, "no_show_consumes": True,
                                 "booth_kinds": ("phone", "video")}
    values.update(settings)
    values["booth_kinds"] = tuple(values["booth_kinds"])  # type: ignore[arg-type]
    user = await factory._system_user()
    scope = "facility" if facility_id else "region" if region_id else "national"
    async with factory.conn.transaction():
        p = await domain_set_policy(factory.conn, scope=scope, region_id=region_id, facility_id=facility_id,  # type: ignore[arg-type]
                                    risk_level=risk_level, allowance=allowance, settings=PolicySettings(**values),  # type: ignore[arg-type]
                                    note=None, user_id=user, actor=Actor.system("test"))
    return p.policy_id, p.version


async def make_live_site(factory: Factory, *, tz: str = "Asia/Jakarta", booths: int = 2, **policy: object) -> Site:
    """A site open all day whose policy allows booking the very next slot."""
    site = await make_site(factory, tz=tz, booths=booths)
    await open_all_day(factory, site.facility_id)
    await set_policy(factory, facility_id=site.facility_id, **policy)
    return site


async def used(site: Site, inmate_id: int | None = None, allowance: str = "family") -> int:
    r = await site.officer.get(f"/api/v1/inmates/{inmate_id or site.inmate_id}/call-rights")
    assert r.status == 200, await r.text()
    return next(a["used"] for a in (await r.json())["allowances"] if a["allowance"] == allowance)
