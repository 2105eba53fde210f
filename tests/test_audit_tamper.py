"""Tampering with the audit log is detected, naming the first sequence number that does not hold."""

from __future__ import annotations

import io
import json
from pathlib import Path

import asyncpg
import pytest

from audit import Actor, LogRef, append, verification_status
from audit.checkpoints import TreeCache, export_document, make_checkpoint, public_keys, read_export_document
from audit.errors import HistoryRewritten
from audit.signing import SigningKey, load_or_create
from audit.verify import LogResult, export_log_lines, verify_database, verify_export

ACTOR = Actor(type="user", id="7", role="officer", request_id="req-t")
LOG = LogRef.facility(1)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_or_create(tmp_path / "signing.key")


async def _seed(conn: asyncpg.Connection, n: int = 10, log: LogRef = LOG) -> int:
    for i in range(1, n + 1):
        async with conn.transaction():
            entry = await append(conn, log, action="booking.created", subject_type="booking", subject_id=100 + i,
                                 payload={"booth_id": 3, "n": i, "slot": "2026-01-05T09:00:00+07:00"}, actor=ACTOR)
    return entry.log_id


async def _checkpoint_at(conn: asyncpg.Connection, key: SigningKey, log_id: int, size: int) -> None:
    """A checkpoint of the first ``size`` entries, as the job would have made it when the log was that big."""
    from datetime import UTC, datetime

    from audit.merkle import MerkleTree
    from audit.signing import checkpoint_message

    leaves = [bytes(r["leaf_hash"]) for r in await conn.fetch(
        "SELECT leaf_hash FROM audit.entries WHERE log_id = $1 AND seq <= $2 ORDER BY seq", log_id, size)]
    root = MerkleTree(leaves).root()
    at = datetime.now(UTC)
    await conn.execute("INSERT INTO audit.signing_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       key.key_id, key.public_raw)
    await conn.execute(
        "INSERT INTO audit.checkpoints (log_id, size, root_hash, signed_at, key_id, signature) "
        "VALUES ($1, $2, $3, $4, $5, $6)", log_id, size, root, at, key.key_id,
        key.sign(checkpoint_message(f"facility:{LOG.scope_id}", size, root, at)))


async def _tamper(owner: asyncpg.Connection, log_id: int, *statements: str) -> None:
    """As a superuser with triggers switched off: what the database cannot prevent. ``$1`` is the log."""
    async with owner.transaction():
        await owner.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            if "$1" in statement:
                await owner.execute(statement, log_id)
            else:
                await owner.execute(statement)


async def _verify(conn: asyncpg.Connection, log: str = "facility:1", **kw) -> LogResult:  # type: ignore[no-untyped-def]
    """The result of ``log``; every other log (the national one, empty, exists from the start) must hold."""
    results = {r.log_name: r for r in await verify_database(conn, **kw)}
    assert all(r.ok for name, r in results.items() if name != log), [r.summary() for r in results.values()]
    return results[log]


async def test_an_untouched_log_verifies_and_the_result_is_kept(app_conn, key) -> None:
    log_id = await _seed(app_conn)
    await _checkpoint_at(app_conn, key, log_id, 4)
    await make_checkpoint(app_conn, key, log_id)
    result = await _verify(app_conn)
    assert result.ok, result.summary()
    assert (result.size, result.checkpoints_checked) == (10, 2)
    status = await verification_status(app_conn, [LOG, log_id, LogRef.facility(99)])
    assert status[LOG] is not None and status[LOG].ok and status[LOG].size == 10
    assert status[log_id] == status[LOG] and status[LogRef.facility(99)] is None


async def test_a_changed_byte_in_a_payload_is_named(app_conn, owner_conn) -> None:
    log_id = await _seed(app_conn)
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET payload = jsonb_set(payload, '{n}', '7') "
                                      "WHERE log_id = $1 AND seq = 6")
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 6), result.summary()
    assert "leaf hash" in result.problem


async def test_the_canonical_text_cannot_be_edited_even_by_a_superuser(app_conn, owner_conn) -> None:
    log_id = await _seed(app_conn)
    with pytest.raises(asyncpg.GeneratedAlwaysError):
        await _tamper(owner_conn, log_id, "UPDATE audit.entries SET canonical = 'x' WHERE log_id = $1")


async def test_a_canonical_column_cut_loose_from_its_columns_is_detected(app_conn, owner_conn) -> None:
    log_id = await _seed(app_conn)
    await _tamper(owner_conn, log_id, "ALTER TABLE audit.entries ALTER COLUMN canonical DROP EXPRESSION",
                  "UPDATE audit.entries SET action = 'booking.cancelled' WHERE log_id = $1 AND seq = 3")
    result = await _verify(app_conn)
    # The verifier derives the text from the columns itself: the stored text kept the old action, the
    # columns say another, and the row is named.
    assert (result.ok, result.first_bad_seq) == (False, 3), result.summary()
    assert "leaf hash does not match the entry's columns" in result.problem


_LYING_TEXT = """
    CREATE OR REPLACE FUNCTION audit.canonical_text(
        log_name text, seq bigint, recorded_at timestamptz, actor_type text, actor_id text,
        actor_role text, action text, subject_type text, subject_id text, payload jsonb, request_id text
    ) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        -- The attack of issue 14: the original text for one entry, the real text for every other.
        IF seq = {seq} THEN RETURN {original}; END IF;
        RETURN audit.canonical_entry(log_name, seq, recorded_at, actor_type, actor_id, actor_role, action,
                                     subject_type, subject_id, payload, request_id);
    END $$"""


async def test_a_redefined_generation_function_cannot_hide_an_edit(app_conn, owner_conn, key, database) -> None:
    """The owner points the canonical column's function at one that returns the original text for entry 6,
    then edits that entry's payload and actor with triggers off: the stored text and leaf hash still agree,
    and the checkpoints too, but the verifier derives the text from the columns and names the row."""
    log_id = await _seed(app_conn)
    await make_checkpoint(app_conn, key, log_id)
    original = await owner_conn.fetchval("SELECT canonical FROM audit.entries WHERE log_id = $1 AND seq = 6",
                                         log_id)
    quoted = await owner_conn.fetchval("SELECT quote_literal($1::text)", original)
    await owner_conn.execute(_LYING_TEXT.format(seq=6, original=quoted))
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET payload = '{\"booth_id\": 9}', actor_id = '99' "
                                      "WHERE log_id = $1 AND seq = 6")
    row = await owner_conn.fetchrow("SELECT canonical, actor_id FROM audit.entries WHERE log_id = $1 AND seq = 6",
                                    log_id)
    assert row["canonical"] == original and row["actor_id"] == "99"  # the attack worked on the column
    for way in ({}, {"workers": 2, "dsn": database.app_dsn, "chunk": 4}):
        result = await _verify(app_conn, store=False, **way)
        assert (result.ok, result.first_bad_seq) == (False, 6), (way, result.summary())
        assert "columns" in result.problem


async def test_a_re_added_canonical_column_cannot_hide_an_edit(app_conn, owner_conn, key) -> None:
    """Dropping the generated column and adding it back with a lying expression changes nothing either."""
    log_id = await _seed(app_conn)
    await make_checkpoint(app_conn, key, log_id)
    original = await owner_conn.fetchval("SELECT canonical FROM audit.entries WHERE log_id = $1 AND seq = 2",
                                         log_id)
    quoted = await owner_conn.fetchval("SELECT quote_literal($1::text)", original)
    await owner_conn.execute(_LYING_TEXT.format(seq=2, original=quoted).replace("audit.canonical_text(",
                                                                                "audit.lying_text("))
    await _tamper(owner_conn, log_id,
                  "UPDATE audit.entries SET action = 'booking.cancelled', actor_id = '1' WHERE log_id = $1 AND seq = 2",
                  "ALTER TABLE audit.entries DROP COLUMN canonical",
                  "ALTER TABLE audit.entries ADD COLUMN canonical text GENERATED ALWAYS AS (audit.lying_text("
                  "log_name, seq, recorded_at, actor_type, actor_id, actor_role, action, subject_type, subject_id, "
                  "payload, request_id)) STORED")
    result = await _verify(app_conn, store=False)
    assert (result.ok, result.first_bad_seq) == (False, 2), result.summary()


async def test_a_redefined_builtin_is_reported_and_rows_are_checked_one_by_one(app_conn, owner_conn) -> None:
    """A superuser can repoint a built-in the verifier's query uses (here jsonb's text output, through the
    catalog); that is reported for every log, and the rows are then checked in Python, which still names
    an edited one."""
    log_id = await _seed(app_conn)
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET action = 'other' WHERE log_id = $1 AND seq = 4")
    await owner_conn.execute("UPDATE pg_catalog.pg_proc SET prosrc = 'textcat' "
                             "WHERE oid = 'pg_catalog.strpos(text,text)'::regprocedure")
    try:
        results = {r.log_name: r for r in await verify_database(app_conn, store=False)}
    finally:
        await owner_conn.execute("UPDATE pg_catalog.pg_proc SET prosrc = 'textpos' "
                                 "WHERE oid = 'pg_catalog.strpos(text,text)'::regprocedure")
    assert all(not r.ok and ("strpos" in (r.problem or "") or any("strpos" in n for n in r.notes))
               for r in results.values()), [r.summary() for r in results.values()]
    assert results["facility:1"].first_bad_seq == 4, results["facility:1"].summary()


async def test_a_dropped_primary_key_is_detected(app_conn, owner_conn) -> None:
    """The fast path counts a chunk's rows to know it whole, which holds only while (log, seq) is unique:
    without the key a copy of entry 4 could stand in for a deleted 5. Dropping the key is reported, and the
    rows are then checked one by one, which names the missing entry."""
    log_id = await _seed(app_conn)
    await _tamper(owner_conn, log_id, "ALTER TABLE audit.entries DROP CONSTRAINT audit_entries_pkey",
                  "DELETE FROM audit.entries WHERE log_id = $1 AND seq = 5",
                  "INSERT INTO audit.entries (log_id, seq, log_name, leaf_hash, recorded_at, actor_type, actor_id, "
                  "actor_role, action, subject_type, subject_id, payload, request_id) "
                  "SELECT log_id, seq, log_name, leaf_hash, recorded_at, actor_type, actor_id, actor_role, action, "
                  "subject_type, subject_id, payload, request_id FROM audit.entries WHERE log_id = $1 AND seq = 4")
    result = {r.log_name: r for r in await verify_database(app_conn, store=False)}["facility:1"]
    assert (result.ok, result.first_bad_seq) == (False, 5), result.summary()
    assert "missing" in result.problem
    assert any("primary key" in note for note in result.notes), result.notes


async def test_a_superuser_edit_with_triggers_off_is_named(app_conn, owner_conn) -> None:
    log_id = await _seed(app_conn)
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET action = 'booking.cancelled' WHERE log_id = $1 "
                              "AND seq = 8")
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 8), result.summary()
    # The canonical text followed the edited column, so the stored leaf hash gives the edit away.
    assert "leaf hash" in result.problem


async def test_a_deleted_row_is_named(app_conn, owner_conn) -> None:
    log_id = await _seed(app_conn)
    await _tamper(owner_conn, log_id, "DELETE FROM audit.entries WHERE log_id = $1 AND seq = 5")
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 5), result.summary()
    assert "missing" in result.problem


async def test_two_swapped_rows_are_named(app_conn, owner_conn) -> None:
    log_id = await _seed(app_conn)
    # Whole rows change places (every column moves with its row): only the order changed.
    await _tamper(
        owner_conn, log_id,
        "UPDATE audit.entries SET seq = 1000000 WHERE log_id = $1 AND seq = 4",
        "UPDATE audit.entries SET seq = 4 WHERE log_id = $1 AND seq = 7",
        "UPDATE audit.entries SET seq = 7 WHERE log_id = $1 AND seq = 1000000",
    )
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 4), result.summary()


async def test_a_truncated_tail_is_named_from_the_checkpoint(app_conn, owner_conn, key) -> None:
    log_id = await _seed(app_conn)
    await make_checkpoint(app_conn, key, log_id)
    await _tamper(owner_conn, log_id, "DELETE FROM audit.entries WHERE log_id = $1 AND seq > 7",
                  "UPDATE audit.logs SET size = 7 WHERE log_id = $1")
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 8), result.summary()


async def test_a_forged_row_inserted_in_the_middle_is_named(app_conn, owner_conn, key) -> None:
    log_id = await _seed(app_conn)
    await _checkpoint_at(app_conn, key, log_id, 5)
    await make_checkpoint(app_conn, key, log_id)
    # Shift 6..10 up by one and put a well-formed forged entry, with a correct leaf hash, at 6.
    statements = ["UPDATE audit.entries SET seq = seq + 1000 WHERE log_id = $1 AND seq >= 6",
                  "UPDATE audit.entries SET seq = seq - 999 WHERE log_id = $1 AND seq > 1000"]
    statements.append("""
        INSERT INTO audit.entries (log_id, seq, log_name, recorded_at, actor_type, actor_id, actor_role, action,
                                   subject_type, subject_id, payload, request_id, leaf_hash)
        SELECT $1, 6, 'facility:1', now(), 'user', '7', 'officer', 'booking.created', 'booking', '999', '{}',
               NULL, sha256('\\x00'::bytea || convert_to(audit.canonical_text(
                   'facility:1', 6, now(), 'user', '7', 'officer', 'booking.created', 'booking', '999', '{}',
                   NULL), 'UTF8'))""")
    statements.append("UPDATE audit.logs SET size = 11 WHERE log_id = $1")
    await _tamper(owner_conn, log_id, *statements)
    result = await _verify(app_conn)
    # The shifted entries carry their new numbers in their columns, so 7 is the first to fail its own check;
    # the checkpoint narrows it to 6..10, and says so.
    assert (result.ok, result.first_bad_seq) == (False, 7), result.summary()
    assert any("entries 6..10 do not match" in note for note in result.notes), result.notes
    # A forger who also rehashes the shifted entries leaves only the checkpoint: its span's start is named.
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET leaf_hash = sha256('\\x00'::bytea || convert_to("
                                      "canonical, 'UTF8')) WHERE log_id = $1 AND seq > 6")
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 6), result.summary()
    assert "checkpoint" in result.problem


async def test_a_rewrite_that_recomputes_every_hash_is_caught_by_the_checkpoints(app_conn, owner_conn, key) -> None:
    log_id = await _seed(app_conn)
    await _checkpoint_at(app_conn, key, log_id, 2)
    await make_checkpoint(app_conn, key, log_id)
    await _tamper(owner_conn, log_id, """
        UPDATE audit.entries SET payload = '{"booth_id": 9}' WHERE log_id = $1 AND seq = 3""",
        "UPDATE audit.entries SET leaf_hash = sha256('\\x00'::bytea || convert_to(canonical, 'UTF8')) "
        "WHERE log_id = $1 AND seq = 3")
    result = await _verify(app_conn)
    assert (result.ok, result.first_bad_seq) == (False, 3), result.summary()
    assert "checkpoint" in result.problem
    # And the job refuses to sign over the rewritten past.
    async with app_conn.transaction():
        await append(app_conn, LOG, action="x", subject_type="y", subject_id=1, actor=ACTOR)
    with pytest.raises(HistoryRewritten):
        await make_checkpoint(app_conn, key, log_id)


async def test_exported_checkpoints_catch_what_the_database_hides(app_conn, owner_conn, key) -> None:
    log_id = await _seed(app_conn)
    cp = await make_checkpoint(app_conn, key, log_id)
    document = json.loads(json.dumps(export_document([cp], key, await public_keys(app_conn))))
    # The superuser removes the tail and every stored checkpoint: the database alone now looks consistent.
    await _tamper(owner_conn, log_id, "DELETE FROM audit.entries WHERE log_id = $1 AND seq > 6",
                  "UPDATE audit.logs SET size = 6 WHERE log_id = $1",
                  "DELETE FROM audit.checkpoints")
    assert (await _verify(app_conn)).ok
    external, keys = read_export_document(document)
    result = await _verify(app_conn, external=external, external_keys=keys)
    assert (result.ok, result.first_bad_seq) == (False, 7), result.summary()


async def test_a_checkpoint_with_a_bad_signature_is_reported(app_conn, key, tmp_path) -> None:
    log_id = await _seed(app_conn)
    cp = await make_checkpoint(app_conn, key, log_id)
    other = load_or_create(tmp_path / "other.key")
    document = export_document([cp], key, {})
    document["public_keys"][0]["public_key"] = other.public_raw.hex()
    external, keys = read_export_document(document)
    result = await _verify(app_conn, external=external, external_keys=keys)
    assert not result.ok and "signature" in result.problem, result.summary()


async def test_chunked_and_parallel_verification_agree_with_the_simple_one(app_conn, owner_conn, key,
                                                                          database) -> None:
    log_id = await _seed(app_conn, 37)
    for size in (3, 4, 16, 17, 33):
        await _checkpoint_at(app_conn, key, log_id, size)
    await make_checkpoint(app_conn, key, log_id)
    # Hashing in this process, in hashing processes, and in processes that read their chunks themselves.
    ways = [{"workers": 1}, {"workers": 2}, {"workers": 3, "dsn": database.app_dsn}]
    for way in ways:
        result = await _verify(app_conn, chunk=4, store=False, **way)
        assert result.ok and result.checkpoints_checked == 6, (way, result.summary())
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET action = 'other' WHERE log_id = $1 "
                              "AND seq = 22")
    for way in [*ways, {"workers": 1, "more_conns": [owner_conn]}]:
        result = await _verify(app_conn, chunk=4, store=False, **way)
        assert (result.ok, result.first_bad_seq) == (False, 22), (way, result.summary())


async def test_reading_processes_name_missing_swapped_and_foreign_rows(app_conn, owner_conn, key, database) -> None:
    """The processes that read their own chunks take the exact row-by-row path wherever a chunk is not
    exactly lo..hi in order under its own log's name."""
    log_id = await _seed(app_conn, 40)
    await make_checkpoint(app_conn, key, log_id)
    await _tamper(owner_conn, log_id,
                  "UPDATE audit.entries SET log_name = 'facility:2' WHERE log_id = $1 AND seq = 30",
                  "UPDATE audit.entries SET seq = 1000000 WHERE log_id = $1 AND seq = 13",
                  "UPDATE audit.entries SET seq = 13 WHERE log_id = $1 AND seq = 14",
                  "UPDATE audit.entries SET seq = 14 WHERE log_id = $1 AND seq = 1000000",
                  "DELETE FROM audit.entries WHERE log_id = $1 AND seq = 21")
    result = await _verify(app_conn, chunk=4, workers=2, store=False, dsn=database.app_dsn)
    assert (result.ok, result.first_bad_seq) == (False, 13), result.summary()
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET seq = 1000000 WHERE log_id = $1 AND seq = 13",
                  "UPDATE audit.entries SET seq = 13 WHERE log_id = $1 AND seq = 14",
                  "UPDATE audit.entries SET seq = 14 WHERE log_id = $1 AND seq = 1000000")
    result = await _verify(app_conn, chunk=4, workers=2, store=False, dsn=database.app_dsn)
    assert (result.ok, result.first_bad_seq) == (False, 21), result.summary()
    assert "missing" in result.problem


async def test_offline_export_verifies_without_the_database_and_names_tampering(app_conn, key) -> None:
    log_id = await _seed(app_conn)
    await _seed(app_conn, 3, LogRef.region(1))
    await make_checkpoint(app_conn, key, log_id)
    text = "".join([block async for block in export_log_lines(app_conn)])
    results = verify_export(io.StringIO(text))
    assert all(r.ok for r in results) and len(results) == 3, [r.summary() for r in results]
    assert {r.log_name: r.checkpoints_checked for r in results} == {"facility:1": 1, "region:1": 0,
                                                                    "national:0": 0}

    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if '"seq": 4' in line and "facility:1" in line)
    lines[index] = lines[index].replace("booth_id", "booth_ix")
    bad = verify_export(io.StringIO("\n".join(lines)))
    assert [(r.log_name, r.first_bad_seq) for r in bad if not r.ok] == [("facility:1", 4)]

    dropped = [line for i, line in enumerate(lines) if i != index]
    bad = verify_export(io.StringIO("\n".join(dropped)))
    assert [(r.log_name, r.first_bad_seq) for r in bad if not r.ok] == [("facility:1", 4)]


async def test_a_cached_tree_keeps_the_genuine_history(app_conn, owner_conn, key) -> None:
    log_id = await _seed(app_conn)
    cache = TreeCache()
    await make_checkpoint(app_conn, key, log_id, cache)
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET action = 'other' WHERE log_id = $1 "
                              "AND seq = 2")
    async with app_conn.transaction():
        await append(app_conn, LOG, action="x", subject_type="y", subject_id=1, actor=ACTOR)
    cp = await make_checkpoint(app_conn, key, log_id, cache)
    assert cp is not None and cp.size == 11
    # A fresh process reads the damaged row and refuses.
    with pytest.raises(HistoryRewritten):
        await TreeCache().tree(app_conn, log_id, 11)


async def test_a_swapped_pair_under_a_checkpoint_names_the_first_swapped_entry(app_conn, owner_conn, key) -> None:
    """Issue 14's case: two entries' sequence numbers swapped under a checkpoint of 25. Each fails its own
    check (its text, derived from its columns, now carries the other number), so the first of them is named,
    not the start of the checkpoint's span."""
    log_id = await _seed(app_conn, 25)
    await make_checkpoint(app_conn, key, log_id)
    await _tamper(owner_conn, log_id, "UPDATE audit.entries SET seq = 1000000 WHERE log_id = $1 AND seq = 9",
                  "UPDATE audit.entries SET seq = 9 WHERE log_id = $1 AND seq = 17",
                  "UPDATE audit.entries SET seq = 17 WHERE log_id = $1 AND seq = 1000000")
    result = await _verify(app_conn, store=False)
    assert (result.ok, result.first_bad_seq) == (False, 9), result.summary()
    assert "columns" in result.problem


async def test_row_security_in_front_of_the_table_is_reported(app_conn, owner_conn) -> None:
    """A policy could show the verifier (the service's role) other rows than the API reads: reported."""
    await _seed(app_conn, 3)
    await owner_conn.execute("ALTER TABLE audit.entries ENABLE ROW LEVEL SECURITY")
    await owner_conn.execute("CREATE POLICY everything ON audit.entries USING (true)")
    results = await verify_database(app_conn, store=False)
    assert results and all(not r.ok and "plain table" in (r.problem or "") for r in results), \
        [r.summary() for r in results]


async def test_strings_that_need_escaping_verify_and_an_edit_among_them_is_named(app_conn, owner_conn,
                                                                               database) -> None:
    """Quotes, backslashes and control characters in the columns (a tab in a request id, a quote in a
    payload string): the fast path hands such chunks to the exact path, which derives the text in Python."""
    odd = Actor(type="user", id='7"x', role="officer", request_id="req\tid\x01")
    for i in range(1, 11):
        async with app_conn.transaction():
            await append(app_conn, LOG, action="booking.created", subject_type="booking", subject_id=f"b\\{i}",
                         payload={"note": 'say "hi"\\', "n": i, "ctl": "\x02"}, actor=odd if i % 2 else ACTOR)
    # Only a tab (no quote, no backslash anywhere in the chunk): the fast path's text differs from the
    # genuine one, which escaped it; not a failure (facility:2 must hold, _verify checks every other log).
    tab = Actor(type="device", id="kiosk-1", role=None, request_id="req\twith-tab")
    for i in range(1, 9):
        async with app_conn.transaction():
            await append(app_conn, LogRef.facility(2), action="call.ended", subject_type="call", subject_id=i,
                         payload={"n": i}, actor=tab)
    for way in ({}, {"workers": 2, "dsn": database.app_dsn, "chunk": 4}):
        result = await _verify(app_conn, store=False, **way)
        assert result.ok, (way, result.summary())
    await _tamper(owner_conn, 0, "UPDATE audit.entries SET request_id = 'req\tother' WHERE seq = 7 AND log_name = 'facility:1'")
    for way in ({}, {"workers": 2, "dsn": database.app_dsn, "chunk": 4}):
        result = await _verify(app_conn, store=False, **way)
        assert (result.ok, result.first_bad_seq) == (False, 7), (way, result.summary())
