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
