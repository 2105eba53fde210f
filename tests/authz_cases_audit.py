"""Authorisation cases for the audit log: security, regional and admin read it, each within their scope."""

from __future__ import annotations

import tempfile
from pathlib import Path

from audit import Actor, LogRef, append
from audit.checkpoints import make_checkpoint
from audit.signing import load_or_create
from tests.authz import SAME, Case, World

READERS = frozenset({"security", "regional", "admin"})
LOG = "/api/v1/audit/logs/{log}"

CASES = [
    Case("GET", "/api/v1/audit/entries?facility_id={facility_id}", READERS),
    Case("GET", "/api/v1/audit/logs", READERS, foreign=SAME),
    Case("GET", LOG + "/entries/{seq}", READERS),
    Case("GET", LOG + "/checkpoints", READERS),
    Case("GET", LOG + "/consistency?old_size=1&new_size=2", READERS),
    Case("POST", "/api/v1/audit/checkpoints", READERS, body={"log": "{log}"}),
    Case("GET", "/api/v1/audit/checkpoints/export?log={log}", READERS),
]


async def extend_world(world: World) -> None:
    """Each scope's facility log gets two entries and a checkpoint after each."""
    conn = world.factory.conn
    key = load_or_create(Path(tempfile.mkdtemp()) / "signing.key")
    for scope in ("own", "foreign"):
        facility_id = world.scopes[scope]["facility_id"]
        for i in range(2):
            async with conn.transaction():
                entry = await append(conn, LogRef.facility(facility_id), action="matrix.seeded",
                                     subject_type="facility", subject_id=facility_id, payload={"i": i},
                                     actor=Actor.system("test"))
            await make_checkpoint(conn, key, entry.log_id)
        world.scopes[scope].update({"log": f"facility-{facility_id}", "seq": 1})
