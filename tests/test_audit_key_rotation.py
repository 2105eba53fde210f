"""`wartel audit rotate-key`: a new key signs from then on, the old one is retired, recorded and watched."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from audit import Actor, LogRef, append
from audit.checkpoints import key_retirements
from audit.merkle import MerkleTree
from audit.signing import checkpoint_message, install_successor, load_or_create, retired_path
from tests.factory import Factory
from tests.test_audit_cli import _wartel
from wartel.audit_service import signing_key
from wartel.config import Settings


async def _append(conn, facility: int, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        async with conn.transaction():
            await append(conn, LogRef.facility(facility), action="booking.created", subject_type="booking",
                         subject_id=i, actor=Actor.system("test"))


async def test_rotating_the_key_retires_the_old_one_and_a_late_signature_by_it_is_caught(
        database, owner_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    facility = await Factory(owner_conn).facility(code="LP-KUNCI", hours=False)
    await _append(owner_conn, facility, 3)
    code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
    assert code == 0, (out, err)
    old = load_or_create(tmp_path / "signing.key")

    code, out, err = await _wartel(database, tmp_path, "audit", "rotate-key", "--reason", "jadwal tahunan")
    assert code == 0, (out, err)
    new = load_or_create(tmp_path / "signing.key")
    assert new.key_id != old.key_id and f"retired key {old.key_id}" in out and new.key_id in out
    aside = retired_path(tmp_path / "signing.key", old.key_id)
    assert aside.stat().st_mode & 0o777 == 0o600 and load_or_create(aside).key_id == old.key_id
    row = await owner_conn.fetchrow("SELECT successor_key_id, reason FROM audit.key_retirements WHERE key_id = $1",
                                    old.key_id)
    assert dict(row) == {"successor_key_id": new.key_id, "reason": "jadwal tahunan"}
    rotated = await owner_conn.fetchrow(
        "SELECT payload::text AS payload FROM audit.entries WHERE log_name = 'national:0' "
        "AND action = 'audit.signing_key_rotated'")
    assert json.loads(rotated["payload"]) == {"retired_key_id": old.key_id, "new_key_id": new.key_id}
    # The rotation's own record is checkpointed at once, with the new key.
    assert await owner_conn.fetchval(
        "SELECT key_id FROM audit.checkpoints c JOIN audit.logs l USING (log_id) WHERE l.scope = 'national' "
        "ORDER BY c.size DESC LIMIT 1") == new.key_id

    # From now on the new key signs; the old checkpoints still verify.
    await _append(owner_conn, facility, 2)
    code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
    assert code == 0 and f"facility:{facility} at size 5" in out, (out, err)
    keys_used = [r["key_id"] for r in await owner_conn.fetch(
        "SELECT key_id FROM audit.checkpoints WHERE log_id = (SELECT log_id FROM audit.logs WHERE scope = 'facility' "
        "AND scope_id = $1) ORDER BY size", facility)]
    assert keys_used == [old.key_id, new.key_id]
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "LP-KUNCI")
    assert code == 0, (out, err)
    code, out, err = await _wartel(database, tmp_path, "audit", "export", "--checkpoints-only", "--all")
    listed = {k["key_id"]: k for k in json.loads(out)["public_keys"]}
    assert "retired_at" in listed[old.key_id] and "retired_at" not in listed[new.key_id], listed

    # Whoever kept the retired private key cannot sign with it under a current date unnoticed.
    await _append(owner_conn, facility, 1)
    log_id = await owner_conn.fetchval("SELECT log_id FROM audit.logs WHERE scope = 'facility' AND scope_id = $1",
                                       facility)
    leaves = [bytes(r["leaf_hash"]) for r in await owner_conn.fetch(
        "SELECT leaf_hash FROM audit.entries WHERE log_id = $1 ORDER BY seq", log_id)]
    root = MerkleTree(leaves).root()
    at = (await key_retirements(owner_conn))[old.key_id] + timedelta(minutes=5)
    await owner_conn.execute(
        "INSERT INTO audit.checkpoints (log_id, size, root_hash, signed_at, key_id, signature) "
        "VALUES ($1, 6, $2, $3, $4, $5)", log_id, root, at, old.key_id,
        old.sign(checkpoint_message(f"facility:{facility}", 6, root, at)))
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "LP-KUNCI")
    assert code == 1 and "after that key was retired" in out, (out, err)

    # A key file restored from before the rotation holds a retired key: nothing is signed with it, and it is
    # not rotated out twice.
    install_successor(tmp_path / "signing.key", new, old)
    await _append(owner_conn, facility, 1)
    code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
    assert code == 1 and err.startswith("error: signing key") and "was retired" in err, (out, err)
    code, out, err = await _wartel(database, tmp_path, "audit", "rotate-key", "--reason", "lagi")
    assert code == 1 and "retired before" in err, (out, err)


def test_a_running_service_signs_with_the_replaced_key_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, signing_key_file=tmp_path / "k.key")
    first = signing_key(settings)
    assert signing_key(settings) is first  # read once, not on every checkpoint
    successor = load_or_create(tmp_path / "successor.key")
    install_successor(tmp_path / "k.key", first, successor)
    assert signing_key(settings).key_id == successor.key_id
