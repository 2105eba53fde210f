"""Demo data for `make run`: three regions, six facilities across WIB, WITA and WIT, booths, hours, a
holiday, about 30 inmates per facility with contacts, and one login per role.

Loading is idempotent: a second run finds the demo regions, writes nothing and returns the logins again.
Everything goes through the registry's domain functions, so the audit log holds the demo's history too.
"""

from __future__ import annotations

import asyncio
import random
from datetime import date, datetime, time, timedelta

import asyncpg

from audit import Actor
from wartel.auth.passwords import hash_password
from wartel.auth.principal import Principal
from wartel.registry import contacts, facilities, hours, inmates, regions
from wartel.users import UserInput, create_user

ACTOR = Actor.system("demo")
_LOCK_KEY = 0x57A7_DE40

REGIONS = [
    ("SUMBAR", "Kanwil Ditjenpas Sumatera Barat"),
    ("SULSEL", "Kanwil Ditjenpas Sulawesi Selatan"),
    ("PAPUA", "Kanwil Ditjenpas Papua"),
]
# (region, code, name, kind, class, time zone)
FACILITIES = [
    ("SUMBAR", "LP-PADANG", "Lapas Kelas IIA Padang", "lapas", "IIA", "Asia/Jakarta"),
    ("SUMBAR", "RUTAN-BUKITTINGGI", "Rutan Kelas IIB Bukittinggi", "rutan", "IIB", "Asia/Jakarta"),
    ("SUMBAR", "LPKA-TANJUNGPATI", "LPKA Kelas II Tanjung Pati", "lpka", None, "Asia/Jakarta"),
    ("SULSEL", "LP-MAKASSAR", "Lapas Kelas I Makassar", "lapas", "I", "Asia/Makassar"),
    ("SULSEL", "LPP-SUNGGUMINASA", "Lapas Perempuan Kelas IIA Sungguminasa", "lapas_perempuan", "IIA",
     "Asia/Makassar"),
    ("PAPUA", "LP-ABEPURA", "Lapas Kelas IIA Abepura", "lapas", "IIA", "Asia/Jayapura"),
]
# (username, password, full name, role, facility code, region code, what to print)
USERS = [
    ("admin", "demo-admin-2026", "Administrator Nasional", "admin", None, None, "admin (national)"),
    ("kanwil.sumbar", "demo-kanwil-2026", "Rina Kusumawati", "regional", None, "SUMBAR", "regional (SUMBAR)"),
    ("kamtib.sumbar", "demo-kamtib-2026", "Hendra Saputra", "security", None, "SUMBAR",
     "security, region (SUMBAR)"),
    ("kamtib.padang", "demo-kamtib-2026", "Yusuf Harahap", "security", "LP-PADANG", None,
     "security, facility (LP-PADANG)"),
    ("petugas.padang", "demo-petugas-2026", "Dedi Firmansyah", "officer", "LP-PADANG", None,
     "officer (LP-PADANG, WIB)"),
    ("petugas.makassar", "demo-petugas-2026", "Andi Pratama", "officer", "LP-MAKASSAR", None,
     "officer (LP-MAKASSAR, WITA)"),
    ("petugas.abepura", "demo-petugas-2026", "Yohanes Wenda", "officer", "LP-ABEPURA", None,
     "officer (LP-ABEPURA, WIT)"),
]
HOLIDAYS = [(date(2026, 12, 25), "Hari Raya Natal"), (date(2027, 1, 1), "Tahun Baru 2027")]
INMATES_PER_FACILITY = 30

_FIRST = ["Agus", "Budi", "Dedi", "Eko", "Fajar", "Hendra", "Irfan", "Joko", "Rizky", "Slamet", "Teguh", "Wahyu",
          "Yusuf", "Andi", "Bayu", "Dimas", "Gilang", "Hadi", "Imam", "Putra", "Rahmat", "Sutrisno", "Yohanes",
          "Markus", "Arif", "Nur", "Iwan", "Ridwan", "Taufik", "Zainal"]
_FEMALE = ["Siti", "Dewi", "Sri", "Rina", "Wulan", "Ayu", "Fitri", "Indah", "Lestari", "Maria", "Nurul", "Putri",
           "Ratna", "Yuni", "Kartika", "Anisa"]
_LAST = ["Santoso", "Wijaya", "Saputra", "Hidayat", "Siregar", "Nasution", "Harahap", "Pratama", "Kurniawan",
         "Setiawan", "Gunawan", "Hakim", "Lubis", "Tanjung", "Syahputra", "Rahman", "Daeng", "Wenda", "Kogoya",
         "Rumbiak", "Pattiasina", "Sembiring", "Simanjuntak", "Halim", "Mahmud"]
_MOBILE_PREFIXES = ["811", "812", "813", "821", "822", "852", "853", "856", "857", "878", "877", "895", "896"]
_RELATIONS = ["spouse", "parent", "child", "sibling", "relative"]


def _logins() -> list[str]:
    return [f"{label:32} {username} / {password}" for username, password, _, _, _, _, label in USERS]


def _mobile(rng: random.Random) -> str:
    return f"+62{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**7, 10**8)}"


async def load_demo(conn: asyncpg.Connection) -> list[str]:
    """Load the demo (once) and return the login lines to print."""
    async with conn.transaction():
        # Two processes starting at once (serve and demo) must not both load it.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        if await conn.fetchval("SELECT true FROM regions WHERE code = $1", REGIONS[0][0]):
            return _logins()
        await _load(conn)
    return _logins()


async def _load(conn: asyncpg.Connection) -> None:
    rng = random.Random(2026)
    region_ids: dict[str, int] = {}
    for code, name in REGIONS:
        region_ids[code] = (await regions.create_region(conn, code=code, name=name, actor=ACTOR))["id"]
    facility_ids: dict[str, int] = {}
    for region, code, name, kind, klass, tz in FACILITIES:
        row = await facilities.create_facility(conn, {"region_id": region_ids[region], "code": code, "name": name,
                                                      "kind": kind, "class": klass, "time_zone": tz}, actor=ACTOR)
        fid = facility_ids[code] = row["id"]
        for name_, kind_ in (("Telepon 1", "phone"), ("Telepon 2", "phone"), ("Video 1", "video")):
            await facilities.create_booth(conn, fid, name=name_, kind=kind_, actor=ACTOR)
        windows = [hours.Window(d, time(8), time(12)) for d in range(1, 7)]
        windows += [hours.Window(d, time(13), time(15)) for d in range(1, 6)]
        await hours.replace_opening_hours(conn, fid, windows, actor=ACTOR)
        for day, reason in HOLIDAYS:
            start = datetime.combine(day, time())
            await hours.add_closure(conn, fid, starts_local=start, ends_local=start + timedelta(days=1),
                                    kind="holiday", reason=reason, created_by=None, actor=ACTOR)
    # argon2 is slow on purpose; hash the few distinct passwords on all cores at once.
    distinct = sorted({u[1] for u in USERS})
    hashes = dict(zip(distinct, await asyncio.gather(*[asyncio.to_thread(hash_password, p) for p in distinct]),
                      strict=True))
    user_ids: dict[str, int] = {}
    for username, password, full_name, role, fcode, rcode, _ in USERS:
        user_ids[username] = await create_user(conn, UserInput(
            username=username, full_name=full_name, role=role, password=password, facility_code=fcode,
            region_code=rcode, password_hash=hashes[password]), actor=ACTOR)
    admin = Principal(user_id=user_ids["admin"], username="admin", role="admin", facility_id=None,
                      region_id=None, via="token")
    for _, code, _, kind, _, _ in FACILITIES:
        await _inmates(conn, rng, admin, facility_ids[code], code, women=kind == "lapas_perempuan")


async def _inmates(conn: asyncpg.Connection, rng: random.Random, admin: Principal, facility_id: int, code: str,
                   *, women: bool) -> None:
    for n in range(1, INMATES_PER_FACILITY + 1):
        first = rng.choice(_FEMALE if women else _FIRST)
        inmate = await inmates.create_inmate(conn, admin, {
            "registration_no": f"{code}/{rng.choice([2023, 2024, 2025, 2026])}/{n:04d}",
            "full_name": f"{first} {rng.choice(_LAST)}",
            "facility_id": facility_id,
            "admitted_on": date(2022, 1, 1) + timedelta(days=rng.randrange(0, 1400)),
            "block": f"{rng.choice('ABCD')}-{rng.randint(1, 4)}",
            "risk_level": rng.choices(["low", "medium", "high"], weights=[6, 3, 1])[0],
        }, actor=ACTOR)
        for _ in range(rng.randint(1, 3)):
            relation = rng.choice(_RELATIONS)
            family = f"{rng.choice(_FEMALE if relation in ('spouse', 'parent') and not women else _FIRST)} " \
                     f"{rng.choice(_LAST)}"
            contact = await contacts.register_contact(conn, admin, inmate["id"], phone=_mobile(rng), name=family,
                                                      relation=relation, actor=ACTOR)
            if rng.random() < 0.75:  # a quarter stay pending, waiting for an officer to check the KTP
                await contacts.verify_contact(conn, admin, contact["id"], method=rng.choice(["ktp", "callback"]),
                                              actor=ACTOR)
        if n == 1:
            counsel = await contacts.register_contact(
                conn, admin, inmate["id"], phone=f"+6221{rng.randrange(10**7, 10**8)}",
                name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}, S.H.", relation="legal_counsel", actor=ACTOR)
            await contacts.verify_contact(conn, admin, counsel["id"], method="bar_card", actor=ACTOR)
