"""A witness the service cannot rewrite: a real `wartel witness` process with its own key and storage.

Checkpoints are submitted with consistency proofs (C2SP tlog-witness), cosigned, reported by verification;
a rollback re-signed with the service's own key and a fork are refused, flagged and fail verification; a
witness that is down stops nothing, and catches up when it is back.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from audit import Actor, LogRef, append
from audit.checkpoints import TreeCache, make_checkpoint
from audit.detection.catalogue import BY_ID
from audit.detection.engine import run_rule
from audit.signing import SigningKey, load_or_create
from audit.tlog import checkpoint_text, cosign, parse_add_checkpoint, verify_cosignature
from audit.verify import LogResult, verify_database
from audit.witnessing import REFUSED_ACTION, WitnessRef, fetch_witnessed, signed_note, submit_checkpoints

WARTEL = str(Path(sys.executable).with_name("wartel"))
ACTOR = Actor(type="user", id="7", role="officer", request_id="req-w")
LOG = LogRef.facility(1)


@dataclass
class WitnessProcess:
    ref: WitnessRef
    directory: Path
    port: int
    key_file: Path
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            WARTEL,
            "witness",
            "--dir",
            str(self.directory),
            "--name",
            self.ref.name,
            "--port",
            str(self.port),
            "--log-key-file",
            str(self.key_file),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "WARTEL_LOG_LEVEL": "WARNING"},
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{self.ref.url}/key") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("the witness did not start")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        self.proc = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_or_create(tmp_path / "signing.key")


@pytest.fixture
async def witness(tmp_path: Path, key: SigningKey) -> AsyncIterator[WitnessProcess]:
    port = _free_port()
    directory = tmp_path / "witness"
    w = WitnessProcess(
        WitnessRef("kanwil-test", f"http://127.0.0.1:{port}", b""), directory, port, tmp_path / "signing.key"
    )
    await w.start()
    w.ref = WitnessRef(w.ref.name, w.ref.url, bytes.fromhex((directory / "witness.pub").read_text().strip()))
    try:
        yield w
    finally:
        await w.stop()


@pytest.fixture
async def pool(database) -> AsyncIterator[asyncpg.Pool]:  # type: ignore[no-untyped-def]
    p = await asyncpg.create_pool(database.app_dsn, min_size=1, max_size=3)
    try:
        yield p
    finally:
        await p.close()


async def _seed(conn: asyncpg.Connection, n: int) -> int:
    for i in range(n):
        async with conn.transaction():
            entry = await append(
                conn,
                LOG,
                action="booking.created",
                subject_type="booking",
                subject_id=i,
                payload={"booth_id": 3, "n": i},
                actor=ACTOR,
            )
    return entry.log_id


async def _tamper(owner: asyncpg.Connection, *statements: str) -> None:
    async with owner.transaction():
        await owner.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            await owner.execute(statement)


async def _verify(conn: asyncpg.Connection, w: WitnessProcess) -> LogResult:
    witnessed, problems = await fetch_witnessed([w.ref])
    assert not problems, problems
    results = {
        r.log_name: r
        for r in await verify_database(conn, store=False, witnesses=[w.ref], witnessed=witnessed)
    }
    return results["facility:1"]


async def _witness_state(w: WitnessProcess) -> dict[str, int]:
    witnessed, _ = await fetch_witnessed([w.ref])
    return {c.log_name: c.size for c in witnessed}


async def test_checkpoints_are_cosigned_with_consistency_proofs_and_reported(
    app_conn, pool, key, witness
) -> None:
    log_id = await _seed(app_conn, 10)
    await make_checkpoint(app_conn, key, log_id)
    outcome = await submit_checkpoints(pool, key, [witness.ref])
    assert outcome.cosigned == [("facility:1", 10)] and not outcome.refused, outcome
    await _seed(app_conn, 5)
    await make_checkpoint(app_conn, key, log_id)
    outcome = await submit_checkpoints(pool, key, [witness.ref])  # proof from 10 to 15
    assert outcome.cosigned == [("facility:1", 15)], outcome
    assert await _witness_state(witness) == {"facility:1": 15}
    stored = await app_conn.fetch("SELECT size, cosignature FROM audit.witness_cosignatures ORDER BY size")
    assert [r["size"] for r in stored] == [10, 15]
    result = await _verify(app_conn, witness)
    assert result.ok and result.witnessed == {"kanwil-test": {10, 15}}, result.summary()
    assert "witness kanwil-test cosigned 2 checkpoints (10, 15)" in result.summary()
    # Nothing new: nothing submitted.
    assert (await submit_checkpoints(pool, key, [witness.ref])).cosigned == []


async def test_a_witness_that_is_down_stops_nothing_and_catches_up(app_conn, pool, key, witness) -> None:
    log_id = await _seed(app_conn, 4)
    await make_checkpoint(app_conn, key, log_id)
    await submit_checkpoints(pool, key, [witness.ref])
    await witness.stop()
    for _ in range(3):  # three checkpoint runs while the witness is down: signing goes on
        await _seed(app_conn, 3)
        assert await make_checkpoint(app_conn, key, log_id) is not None
        outcome = await submit_checkpoints(pool, key, [witness.ref])
        assert outcome.unreachable == ["kanwil-test"] and not outcome.cosigned and not outcome.refused
    assert [r["size"] for r in await app_conn.fetch("SELECT size FROM audit.checkpoints ORDER BY size")] == [
        4,
        7,
        10,
        13,
    ]
    await witness.start()  # same directory: same key, same state
    outcome = await submit_checkpoints(pool, key, [witness.ref])
    assert outcome.cosigned == [("facility:1", 13)], outcome  # one proof from 4 covers every checkpoint since
    result = await _verify(app_conn, witness)
    assert result.ok and result.witnessed == {"kanwil-test": {4, 13}} and result.checkpoints_checked >= 5, (
        result.summary()
    )


async def test_a_rollback_re_signed_with_the_service_key_is_refused_flagged_and_fails(
    app_conn, owner_conn, pool, key, witness
) -> None:
    """Someone with the database and the key file takes the log back to 7 entries, deletes every trace
    (checkpoints, stored cosignatures) and signs the old state again: the database alone is consistent, and
    no export exists; the witness saw 10."""
    log_id = await _seed(app_conn, 10)
    await make_checkpoint(app_conn, key, log_id)
    await submit_checkpoints(pool, key, [witness.ref])
    await _tamper(
        owner_conn,
        "DELETE FROM audit.entries WHERE seq > 7",
        "UPDATE audit.logs SET size = 7 WHERE size = 10",
        "DELETE FROM audit.checkpoints",
        "DELETE FROM audit.witness_cosignatures",
    )
    assert (await make_checkpoint(app_conn, key, log_id, TreeCache())).size == 7
    plain = await verify_database(app_conn, store=False)
    assert all(r.ok for r in plain), [r.summary() for r in plain]  # without the witness: clean

    result = await _verify(app_conn, witness)
    assert (result.ok, result.first_bad_seq) == (False, 8), result.summary()
    assert any(
        "witness kanwil-test checkpoint covers 10 entries" in n for n in [result.problem, *result.notes]
    )

    outcome = await submit_checkpoints(pool, key, [witness.ref], TreeCache())
    assert [(name, status) for name, status, _ in outcome.refused] == [("facility:1", 409)], outcome
    flag = await app_conn.fetchrow(
        "SELECT payload->>'severity' AS severity, payload->>'witness' AS witness "
        "FROM audit.entries WHERE log_id = $1 AND action = $2",
        log_id,
        REFUSED_ACTION,
    )
    assert flag is not None and (flag["severity"], flag["witness"]) == ("high", "kanwil-test"), flag
    assert await _witness_state(witness) == {"facility:1": 10}  # the witness keeps what it saw
    # Detection raises it as a high-severity flag (rule audit_tamper), in the window around the refusal.
    at = await app_conn.fetchval("SELECT recorded_at FROM audit.entries WHERE action = $1", REFUSED_ACTION)
    async with app_conn.transaction():
        await run_rule(
            app_conn, BY_ID["audit_tamper"], since=at - timedelta(days=1), until=at + timedelta(days=1)
        )
    flagged = await app_conn.fetch("SELECT severity FROM detection_flags WHERE rule_id = 'audit_tamper'")
    assert flagged and all(r["severity"] == "high" for r in flagged), flagged
    # Refused again at the next run: flagged once, not once per run.
    await submit_checkpoints(pool, key, [witness.ref], TreeCache())
    assert (
        await app_conn.fetchval("SELECT count(*) FROM audit.entries WHERE action = $1", REFUSED_ACTION) == 1
    )
    # The whole log gone, row and all: the witness still names it.
    await _tamper(
        owner_conn,
        "DELETE FROM audit.entries WHERE log_name = 'facility:1'",
        "DELETE FROM audit.checkpoints",
        "DELETE FROM audit.witness_cosignatures",
        "DELETE FROM audit.logs WHERE scope = 'facility' AND scope_id = 1",
    )
    witnessed, _ = await fetch_witnessed([witness.ref])
    gone = {r.log_name: r for r in await verify_database(app_conn, store=False, witnessed=witnessed)}
    assert not gone["facility:1"].ok and "missing" in gone["facility:1"].problem, gone["facility:1"].summary()


async def test_a_fork_shown_to_the_witness_is_refused_and_fails(
    app_conn, owner_conn, pool, key, witness
) -> None:
    """The same 10 entries with entry 3 rewritten (hashes recomputed, checkpoints signed afresh): the
    witness refuses the other root for size 10 and a proof from its root to a grown forged log."""
    log_id = await _seed(app_conn, 10)
    await make_checkpoint(app_conn, key, log_id)
    await submit_checkpoints(pool, key, [witness.ref])
    # (facility:1 is the only log with entries here.)
    await _tamper(
        owner_conn,
        "UPDATE audit.entries SET payload = '{\"booth_id\": 9}' WHERE seq = 3",
        "UPDATE audit.entries SET leaf_hash = sha256('\\x00'::bytea || convert_to(canonical, 'UTF8')) "
        "WHERE seq = 3",
        "DELETE FROM audit.checkpoints",
    )
    await make_checkpoint(app_conn, key, log_id, TreeCache())  # a forged checkpoint at 10
    result = await _verify(app_conn, witness)
    assert (result.ok, result.first_bad_seq) == (False, 1), result.summary()
    assert "witness kanwil-test" in result.problem

    await _seed(app_conn, 2)
    await make_checkpoint(app_conn, key, log_id, TreeCache())  # and at 12, extending the fork
    outcome = await submit_checkpoints(pool, key, [witness.ref], TreeCache())
    assert [(name, status) for name, status, _ in outcome.refused] == [("facility:1", 422)], outcome
    assert await _witness_state(witness) == {"facility:1": 10}


async def test_the_witness_refuses_what_the_protocol_refuses(tmp_path, key, witness) -> None:
    """Straight at the HTTP interface: unknown origin 404, no trusted signature 403, old size above the
    checkpoint 400, a stale old size 409 with the size, a bad proof 422; a good one is cosigned."""
    from audit.checkpoints import Checkpoint
    from audit.merkle import MerkleTree
    from audit.tlog import add_checkpoint_body

    leaves = [bytes([i]) * 32 for i in range(8)]
    tree = MerkleTree(leaves)
    cp = lambda size: Checkpoint(0, "facility:9", size, tree.root(size), None, "", b"")  # type: ignore[arg-type]  # noqa: E731
    other = load_or_create(tmp_path / "other.key")
    async with aiohttp.ClientSession() as session:

        async def post(body: bytes) -> tuple[int, str, str]:
            async with session.post(f"{witness.ref.url}/add-checkpoint", data=body) as r:
                return r.status, r.headers.get("Content-Type", ""), await r.text()

        foreign = signed_note(cp(4), key).replace(b"wartel-audit/", b"elsewhere/")
        assert (await post(add_checkpoint_body(0, [], foreign)))[0] == 404
        assert (await post(add_checkpoint_body(0, [], signed_note(cp(4), other))))[0] == 403
        assert (await post(add_checkpoint_body(5, [], signed_note(cp(4), key))))[0] == 400
        status, _, body = await post(add_checkpoint_body(0, [], signed_note(cp(4), key)))
        assert status == 200
        text = checkpoint_text("wartel-audit/facility:9", 4, tree.root(4))
        assert verify_cosignature(text, body.strip(), witness.ref.name, witness.ref.public_key) is not None
        status, content_type, body = await post(add_checkpoint_body(0, [], signed_note(cp(6), key)))
        assert (status, content_type, body) == (409, "text/x.tlog.size", "4\n")
        bad = [bytes(32)] + tree.consistency_proof(4, 6)[1:]
        assert (await post(add_checkpoint_body(4, bad, signed_note(cp(6), key))))[0] == 422
        assert (await post(add_checkpoint_body(4, tree.consistency_proof(4, 6), signed_note(cp(6), key))))[
            0
        ] == 200
        status, _, _ = await post(b"garbage")
        assert status == 400
    # The body format round-trips, and a cosignature is what the specification says it is.
    assert parse_add_checkpoint(add_checkpoint_body(4, tree.consistency_proof(4, 6), b"x"))[0] == 4
    line = cosign(text, "w", key.private, key.public_raw, 1_700_000_000)
    assert verify_cosignature(text, line, "w", key.public_raw) == 1_700_000_000


async def test_the_regional_offices_nightly_check_with_a_witness(
    database, owner_conn, tmp_path, witness
) -> None:
    """`wartel audit checkpoint` and `wartel audit verify` as the operator and the Kanwil run them, the
    witness configured through WARTEL_AUDIT_WITNESSES: cosigned, reported; after a rollback re-signed with
    the service's key and every trace in the database removed, the check without any export fails."""
    from tests.factory import Factory
    from tests.test_audit_cli import _wartel

    facility = await Factory(owner_conn).facility(code="LP-SAKSI", hours=False)
    for i in range(6):
        async with owner_conn.transaction():
            await append(
                owner_conn,
                LogRef.facility(facility),
                action="booking.created",
                subject_type="booking",
                subject_id=i,
                actor=Actor.system("test"),
            )
    config = (
        f'[{{"name": "{witness.ref.name}", "url": "{witness.ref.url}", '
        f'"public_key_file": "{witness.directory / "witness.pub"}"}}]'
    )
    os.environ["WARTEL_AUDIT_WITNESSES"] = config
    try:
        code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
        assert code == 0 and f"cosigned facility:{facility} at size 6" in out, (out, err)
        code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "LP-SAKSI")
        assert code == 0 and "witness kanwil-test cosigned 1 checkpoint (6)" in out, (out, err)

        await _tamper(
            owner_conn,
            "DELETE FROM audit.entries WHERE seq > 4 AND log_name LIKE 'facility:%'",
            "UPDATE audit.logs SET size = 4 WHERE size = 6",
            "DELETE FROM audit.checkpoints",
            "DELETE FROM audit.witness_cosignatures",
        )
        code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")  # re-signed at 4: refused
        assert code == 1 and "REFUSED by a witness" in err, (out, err)
        code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "LP-SAKSI")
        # The refusal itself was recorded as entry 5 of the rolled-back log; the witness saw 6.
        assert code == 1 and "FAILED  LP-SAKSI" in out and "first bad seq 6" in out, (out, err)
        assert "witness kanwil-test checkpoint covers 6 entries" in out, out
    finally:
        del os.environ["WARTEL_AUDIT_WITNESSES"]


async def test_after_a_confirmed_restore_the_witness_operator_forgets_and_cosigning_resumes(
    app_conn, owner_conn, pool, key, witness
) -> None:
    log_id = await _seed(app_conn, 10)
    await make_checkpoint(app_conn, key, log_id)
    await submit_checkpoints(pool, key, [witness.ref])
    # A restore from a backup taken at 7 entries, as far as the witness can tell.
    await _tamper(
        owner_conn,
        "DELETE FROM audit.entries WHERE seq > 7",
        "UPDATE audit.logs SET size = 7 WHERE size = 10",
        "DELETE FROM audit.checkpoints WHERE size > 7",
        "DELETE FROM audit.witness_cosignatures",
    )
    await make_checkpoint(app_conn, key, log_id, TreeCache())
    assert (await submit_checkpoints(pool, key, [witness.ref], TreeCache())).refused
    proc = await asyncio.create_subprocess_exec(
        WARTEL,
        "witness",
        "--dir",
        str(witness.directory),
        "--name",
        witness.ref.name,
        "--forget",
        "facility:1",
        "--reason",
        "restore confirmed by the Kanwil",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and b"forgot size 10" in out, out
    await make_checkpoint(app_conn, key, log_id, TreeCache())  # the refusal's own entry made it 8
    outcome = await submit_checkpoints(pool, key, [witness.ref], TreeCache())
    assert outcome.cosigned == [("facility:1", 8)] and not outcome.refused, outcome
