"""Verification: recompute every log's tree from its entries' columns and hold it against the signed checkpoints.

A log holds when its sequence numbers run 1..n without a gap, every entry's stored leaf hash is the hash of
the canonical text the verifier itself derives from the entry's raw columns (audit/canonical.py: nothing the
database defines, neither the generated canonical column nor any function in the audit schema, takes part),
and the root over the stored leaf hashes of the first s entries equals the root of every checkpoint of size s
(stored in the database, or exported to the regional office). The first sequence number that does not hold
is named: the first row that fails its own checks, or — when rows pass but a checkpoint's root does not
(a forged row slipped in with a correct hash) — the first entry after the last checkpoint that still holds,
whichever comes first. The finer the checkpoints, the closer that is. A log that should exist (every
facility, every region, the nation, every log a checkpoint names) and is missing or empty fails too.

The database is read in chunks of 2**12 entries, one round trip each, and the chunks are combined through
their subtree roots, which are complete subtrees of the RFC 6962 tree. Given a DSN, worker processes (one
per core) each read their chunks on a connection of their own and hash them, so the texts go from the
database straight to the process that hashes them and only roots come back; the database's and the
hashing's work then overlap across processes on every core. Without one (inside the service, in tests),
the caller's connections read and the hashing runs in the same process or on a thread. Should a built-in the
fast path's query uses have been redefined (or the table's primary key dropped), every row is checked in
Python from its columns instead. Offline, the same checks run on an export (:func:`verify_export`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.util import Finalize
from typing import IO, Any

import asyncpg

from audit.canonical import canonical_text
from audit.checkpoints import (
    Checkpoint,
    checkpoint_from_json,
    key_retirements,
    public_keys,
    signature_holds,
    signed_after_retirement,
)
from audit.entries import ROWS_SQL, canonical_problem, derivation_problem, fetch_chunk, row_problem
from audit.errors import ExportInvalid
from audit.log import LogRef
from audit.merkle import MerkleTree, fold, joined_leaf_hashes
from audit.signing import format_time, parse_time
from audit.tlog import checkpoint_text, origin_of, verify_cosignature
from audit.witnessing import WitnessedCheckpoint, WitnessRef

CHUNK = 1 << 12
EXPORT_FORMAT = "wartel-audit-export/v1"
Progress = Callable[[int, int, str], None]


@dataclass
class LogResult:
    log_name: str
    log_id: int | None
    size: int
    ok: bool = True
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints_checked: int = 0
    present: int | None = None  # entries 1..present are all there (None: all ``size``)
    notes: list[str] = field(default_factory=list)
    witnessed: dict[str, set[int]] = field(default_factory=dict)  # witness -> sizes it cosigned that hold

    def fail(self, seq: int | None, problem: str) -> None:
        """Record a failure; the earliest sequence number wins, the others become notes."""
        self.ok = False
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            if self.problem is not None:
                self.notes.append(self.problem)
            self.first_bad_seq, self.problem = seq, problem
        elif self.problem is None:
            self.problem = problem
        else:
            self.notes.append(problem)

    def witness_report(self) -> str:
        """Which checkpoints each witness cosigned, e.g. ``, witness kanwil cosigned 3 checkpoints (4, 7, 13)``."""
        parts = []
        for w, sizes in sorted(self.witnessed.items()):
            shown = sorted(sizes)
            listed = ", ".join(map(str, shown[:3] + (["…"] if len(shown) > 4 else []) + shown[3:][-1:]))
            parts.append(f", witness {w} cosigned {len(shown)} checkpoint{'s' * (len(shown) != 1)} ({listed})")
        return "".join(parts)

    def summary(self) -> str:
        if self.ok:
            return (f"{self.log_name}: {self.size} entries hold, {self.checkpoints_checked} checkpoints match"
                    + self.witness_report())
        where = f" at seq {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"{self.log_name}: FAILED{where}: {self.problem}"


@dataclass
class ChunkResult:
    lo: int
    bad_seq: int | None  # first row failing its own checks
    problem: str | None
    missing_seq: int | None  # first sequence number absent: no root can be computed past it
    root: bytes | None  # over the stored leaves of the whole chunk, when it is complete
    cut_roots: dict[int, bytes]  # global size s -> MTH of the chunk's stored leaves lo..s


def hash_chunk(lo: int, canonical: bytes, leaves: bytes, count: int, cuts: tuple[int, ...],
               full: bool) -> ChunkResult:
    """Check and hash one complete chunk read by the fast path. Runs in a worker: plain data in and out."""
    computed = joined_leaf_hashes(canonical) if count else []
    if len(computed) != count or len(leaves) != 32 * count:
        return ChunkResult(lo, None, "recheck", None, None, {})
    if b"".join(computed) == leaves:
        return _roots(lo, computed, cuts, full, None, None, None)
    # The fast path's text is exact only for strings that need no escape; a control character (a tab in a
    # request id) would differ here without anything being wrong. The exact path decides, and names the row.
    return ChunkResult(lo, None, "recheck", None, None, {})


def _roots(lo: int, stored: list[bytes], cuts: Iterable[int], full: bool, bad_seq: int | None,
           problem: str | None, missing_seq: int | None) -> ChunkResult:
    tree = MerkleTree(stored)
    cut_roots = {s: tree.root(s - lo + 1) for s in cuts if s - lo + 1 <= tree.size}
    root = tree.root() if full and missing_seq is None else None
    return ChunkResult(lo, bad_seq, problem, missing_seq, root, cut_roots)


def check_rows(lo: int, hi: int, rows: list[Any], cuts: Iterable[int], full: bool, log_name: str) -> ChunkResult:
    """The slow, exact path, row by row in Python: for chunks the fast path found wanting, and for every
    chunk when a built-in the fast path's query relies on was redefined."""
    stored: list[bytes] = []
    by_seq = {r["seq"]: r for r in rows}
    bad_seq = problem = None
    for seq in range(lo, hi + 1):
        row = by_seq.get(seq)
        if row is None:
            return _roots(lo, stored, cuts, False, bad_seq or seq,
                          problem or f"sequence number {seq} is missing", seq)
        if bad_seq is None:
            problem = row_problem(row, seq, log_name)
            if problem is not None:
                bad_seq = seq
        stored.append(bytes(row["leaf_hash"]))
    return _roots(lo, stored, cuts, full, bad_seq, problem, None)


# Worker processes of a verification with a DSN: one connection each, opened when the process starts and
# closed when it exits; the planner is kept to the primary key (a chunk is a narrow range of it, and a
# bitmap scan would sort what the index already gives in order) and to one process per query. Text comes
# as raw UTF-8 bytes (the bytes that are hashed; no decoding to str and back).
_READER_SETTINGS = {"application_name": "wartel-audit-verify", "enable_bitmapscan": "off",
                    "max_parallel_workers_per_gather": "0"}
_reader: dict[str, Any] = {}
# glibc's malloc hands freed heap back to the kernel as soon as more than 128 kB sit free at its top, and
# serves blocks above 128 kB with mmap, until it sees a large mmapped block freed; then it raises both
# limits to that block's size (at most 32 MB). A chunk moves a few MB of text through the backend and the
# reader (aggregate, result, socket buffers), so without that every chunk would fault all its pages in
# afresh: perf showed a third of the backend's time in page faults. One 16 MB block allocated and freed at
# the start of each reading session in the backend raises the limits for the rest of it (the reading
# process sets them directly, :func:`_raise_malloc_limits`). Both processes end with the verification, so the memory they keep is given back then. The block is
# built from 64 kB pieces: repeat('x', 16777216) copies one byte at a time and cost the backend 55 ms, a
# tenth of a microsecond per entry of a million-entry run for two backends; this costs about 3 ms.
_WARM_UP_SQL = "SELECT pg_catalog.octet_length(pg_catalog.repeat(pg_catalog.repeat('x', 65536), 256))"


def _raise_malloc_limits() -> None:
    """In the reading process: what the 16 MB block does in the backend, set directly (glibc's mallopt), so
    nothing is allocated and zeroed for it (a 16 MB bytearray cost 11 ms). Elsewhere, the block itself."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        # M_TRIM_THRESHOLD (-1) and M_MMAP_THRESHOLD (-3), both to glibc's own upper limit of 32 MB.
        if mallopt(-1, 32 << 20) == 1 and mallopt(-3, 32 << 20) == 1:
            return
    except (OSError, AttributeError):
        pass
    bytearray(16 << 20)


# Python's own allocator has the same habit for small objects (a chunk's texts, leaf and node hashes: a few
# MB of them): it maps memory in 1 MB arenas and unmaps an arena as soon as it is empty, so every chunk
# mapped and faulted its arenas in again (60,000-77,000 page faults per million entries, a sixth of the
# reading processes' time). Filling 8 MB of arenas at the start and keeping a few objects in each keeps
# them mapped, with their pages in, for the objects of every chunk after (measured: 17,700 faults, most of
# them these 8 MB and a 16 MB block the process then allocated where it now calls mallopt).
_ARENA_BALLAST: list[bytes] = []


def _keep_arenas(megabytes: int = 8) -> None:
    filler = [bytes(340) for _ in range(megabytes * 2800)]  # ~2,700 such objects fill a 1 MB arena
    _ARENA_BALLAST.extend(filler[::500])


def _reader_start(dsn: str) -> None:
    _raise_malloc_limits()
    _keep_arenas()
    loop = _new_loop()
    conn = loop.run_until_complete(asyncpg.connect(dsn, server_settings=_READER_SETTINGS))
    loop.run_until_complete(_raw_text(conn))
    loop.run_until_complete(conn.execute(_WARM_UP_SQL))
    _reader.update(loop=loop, conn=conn)
    Finalize(None, _reader_stop, exitpriority=10)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is there (as in ``wartel serve``): it receives each chunk's megabytes with less
    work than asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _raw_text(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("text", schema="pg_catalog", format="binary", encoder=str.encode, decoder=bytes)


def _reader_stop() -> None:
    loop, conn = _reader.pop("loop", None), _reader.pop("conn", None)
    if loop is not None and conn is not None:
        loop.run_until_complete(conn.close(timeout=5))
        loop.close()


# Chunks handed to a reading process at a time: fewer calls to move between the processes (each one costs
# the main process a future, a lock and a wake-up), still small enough to spread the work evenly.
READ_BATCH = 8


def read_and_check_chunks(log_id: int, name: str,
                          chunks: list[tuple[int, int, tuple[int, ...], bool]]) -> list[ChunkResult]:
    """In a worker process: :func:`read_and_check_chunk` for each of a log's (lo, hi, cuts, full)."""
    return [read_and_check_chunk(log_id, name, *c) for c in chunks]


def read_and_check_chunk(log_id: int, name: str, lo: int, hi: int, cuts: tuple[int, ...],
                         full: bool) -> ChunkResult:
    """In a worker process: read one chunk on the worker's own connection, check and hash it."""
    loop, conn = _reader["loop"], _reader["conn"]
    data = loop.run_until_complete(fetch_chunk(conn, log_id, lo, hi, name, raw_text=True))
    if data.complete:
        res = hash_chunk(lo, data.canonical, data.leaves, data.count, cuts, full)
        if res.problem != "recheck":
            return res
    # The exact path compares columns as Python values: text as str again for this chunk.
    loop.run_until_complete(conn.reset_type_codec("text", schema="pg_catalog"))
    try:
        rows = loop.run_until_complete(conn.fetch(ROWS_SQL, log_id, lo, hi))
    finally:
        loop.run_until_complete(_raw_text(conn))
    return check_rows(lo, hi, rows, cuts, full, name)


class _ChunkRoots:
    """Roots of prefixes of one log, from its chunks' roots (complete subtrees of ``chunk`` leaves)."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self.tree = MerkleTree()
        self.cut_roots: dict[int, bytes] = {}

    def root_at(self, size: int) -> bytes | None:
        q = (size - 1) // self.chunk
        if q > self.tree.size or size not in self.cut_roots:
            return None
        return fold(self.tree.pieces(0, q) + [self.cut_roots[size]])


def check_checkpoints(result: LogResult, checkpoints: list[tuple[Checkpoint, dict[str, bytes] | None, str]],
                      root_at: Callable[[int], bytes | None], retired: dict[str, datetime] | None = None) -> None:
    """Hold the roots over the stored leaf hashes against each checkpoint, smallest first.

    A checkpoint whose signature does not verify is itself reported (someone wrote it who does not hold the
    key), and so is one signed with a key after that key was retired (``retired``: key id -> time). A checkpoint beyond a missing entry cannot be computed; the missing entry is named. The first root
    that disagrees names the first entry after the last checkpoint that held.
    """
    held: list[int] = [0]  # sizes of the checkpoints that matched so far
    present = result.size if result.present is None else result.present
    for cp, keys, origin in sorted(checkpoints, key=lambda c: c[0].size):
        # A witness's checkpoint comes with ``keys`` None: its cosignature was verified with the witness's
        # key when it was read (audit/witnessing.py); the log key's signature is not what it rests on.
        if keys is not None and not signature_holds(cp, keys):
            result.fail(None, f"{origin} checkpoint at size {cp.size} has no valid signature (key {cp.key_id})")
            continue
        late = signed_after_retirement(cp, retired or {}) if keys is not None else None
        if late is not None:
            result.fail(None, f"{origin} checkpoint at size {cp.size} was signed with key {cp.key_id} at "
                              f"{cp.signed_at.isoformat()}, after that key was retired at {late.isoformat()}")
            continue
        if cp.size > present:
            result.fail(present + 1, f"the {origin} checkpoint covers {cp.size} entries; sequence number "
                                     f"{present + 1} is missing")
            continue
        root = root_at(cp.size)
        if root is None:
            continue
        if root != cp.root_hash:
            # From the largest smaller checkpoint that held: one of the same size that held (two signed roots
            # for one size, a fork) proves nothing about which of the two the entries are.
            last_good = max(s for s in held if s < cp.size)
            problem = (f"entries {last_good + 1}..{cp.size} do not match the {origin} checkpoint signed at "
                       f"{cp.signed_at.isoformat()}")
            if result.first_bad_seq is not None and last_good < result.first_bad_seq <= cp.size:
                # A row in the span already fails its own check: it explains the mismatch and is the more
                # exact pointer (a swapped pair names its first entry, not the span's start).
                result.notes.append(problem)
            else:
                result.fail(last_good + 1, problem)
            return
        held.append(cp.size)
        result.checkpoints_checked += 1
        if origin.startswith("witness "):
            result.witnessed.setdefault(origin.split(" ")[1], set()).add(cp.size)


def _reader_pool(dsn: str | None, total: int, workers: int | None, chunk: int) -> ProcessPoolExecutor | None:
    """Worker processes that read and hash chunks themselves, when there is a DSN and enough to do.

    One per core by default (at least two): while one waits for its chunk the database works on it and the
    other hashes, so every core is busy (measured: two, three and four on two cores came out alike, and
    more processes only cost the database more)."""
    cores = os.cpu_count() or 1
    workers = workers if workers is not None else max(2, cores)
    if dsn is None or workers < 1 or (workers == 1 and cores == 1) or total < 4 * chunk:
        return None
    methods = get_all_start_methods()
    return ProcessPoolExecutor(max_workers=workers, initializer=_reader_start, initargs=(dsn,),
                               mp_context=get_context("fork" if "fork" in methods else methods[0]))


def _executor(total: int, workers: int | None, chunk: int) -> Executor | None:
    if workers == 0:
        # Inside the service: hash on a thread, so the event loop keeps serving requests in between.
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify")
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or total < 4 * chunk:
        return None
    # fork: the workers need nothing but hashlib and this module, already imported; spawning would cost more
    # than hashing a small database.
    methods = get_all_start_methods()
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=get_context("fork" if "fork" in methods else methods[0]))


async def _stored_cosignatures(conn: asyncpg.Connection, witnesses: list[WitnessRef], log_ids: list[int] | None,
                               by_log: dict[str, list[tuple[Checkpoint, dict[str, bytes] | None, str]]]) -> None:
    """The cosignatures kept in the database, each checked with its witness's key over the checkpoint it
    names; one that does not verify is itself reported (as a checkpoint whose signature fails)."""
    keys = {w.name: w.public_key for w in witnesses}
    rows = await conn.fetch(
        "SELECT w.*, l.scope, l.scope_id FROM audit.witness_cosignatures w JOIN audit.logs l USING (log_id) "
        "WHERE $1::bigint[] IS NULL OR w.log_id = ANY($1)", log_ids)
    for r in rows:
        if r["witness"] not in keys:
            continue
        name = _name(r)
        root = bytes(r["root_hash"])
        text = checkpoint_text(origin_of(name), r["size"], root)
        ok = verify_cosignature(text, r["cosignature"], r["witness"], keys[r["witness"]]) is not None
        cp = Checkpoint(r["log_id"], name, r["size"], root, r["cosigned_at"], f"witness:{r['witness']}", b"")
        by_log.setdefault(name, []).append((cp, None if ok else {}, f"witness {r['witness']} (stored)"))


def _name(row: Any) -> str:
    """A log's name from its scope, as the canonical text and the checkpoints carry it."""
    return f"{row['scope']}:{row['scope_id']}"


async def expected_logs(conn: asyncpg.Connection) -> dict[str, str]:
    """Every log that must exist, and why: the nation, every region and every facility in the registry."""
    expected = {"national:0": "the national log always exists"}
    for r in await conn.fetch("SELECT id FROM public.regions"):
        expected[f"region:{r['id']}"] = f"region {r['id']} is in the registry"
    for r in await conn.fetch("SELECT id, code FROM public.facilities"):
        expected[f"facility:{r['id']}"] = f"facility {r['code']} is in the registry"
    return expected


def _missing(name: str, why: str, checkpoints: list[tuple[Checkpoint, dict[str, bytes] | None, str]]) -> LogResult:
    """The result for a log that must exist and does not; what its checkpoints covered is gone with it."""
    size = max((c[0].size for c in checkpoints), default=0)
    result = LogResult(name, None, size, present=0)
    result.fail(1 if size else None, f"the log is missing from the database, but {why}"
                + (f"; its checkpoints cover {size} entries" if size else ""))
    return result


async def verify_database(conn: asyncpg.Connection, *, log_ids: list[int] | None = None,
                          names: list[str] | None = None,
                          external: list[Checkpoint] | None = None,
                          external_keys: dict[str, bytes] | None = None,
                          progress: Progress | None = None, workers: int | None = None,
                          chunk: int = CHUNK, store: bool = True,
                          more_conns: Iterable[asyncpg.Connection] = (),
                          dsn: str | None = None,
                          witnesses: list[WitnessRef] | None = None,
                          witnessed: list[WitnessedCheckpoint] | None = None) -> list[LogResult]:
    """Verify every log (or ``log_ids``, or the logs ``names``) in the database; store each log's outcome
    unless ``store`` is off. Every log that must exist (:func:`expected_logs`, and any a checkpoint names) and
    is missing fails, naming the log.

    ``witnessed``: what the witnesses hold (:func:`audit.witnessing.fetch_witnessed`), held like exported
    checkpoints: a log shorter than, or inconsistent with, what a witness cosigned fails. ``witnesses``: their
    keys, to check the cosignatures stored in the database too; each log reports what each witness cosigned.

    ``dsn``: where worker processes connect to read and hash chunks themselves (``workers`` of them, default
    one per core, at least two); they see what is committed. Without it, ``conn`` and ``more_conns`` read
    the chunks (the server's share of the work then runs on more than one core) and ``workers`` processes
    hash them (default one per core); 0 hashes on a thread, for use inside the service.
    """
    if names is not None:
        # Scoped by name (``wartel audit verify --facility``): the log is expected whether or not its row is
        # still there, so a wiped log fails instead of leaving nothing to verify.
        log_ids = [r["log_id"] for r in await conn.fetch(
            "SELECT log_id, scope, scope_id FROM audit.logs") if _name(r) in names]
    rows = await conn.fetch(
        "SELECT log_id, scope, scope_id, size, "
        "(SELECT max(seq) FROM audit.entries e WHERE e.log_id = l.log_id) AS last_seq "
        "FROM audit.logs l WHERE $1::bigint[] IS NULL OR log_id = ANY($1) ORDER BY log_id", log_ids)
    # Names are made here, not by audit.log_name: nothing the audit schema defines takes part.
    logs = [{**dict(r), "name": _name(r)} for r in rows]
    db_keys = await public_keys(conn)
    retired = await key_retirements(conn)
    stored = await conn.fetch(
        "SELECT c.*, l.scope, l.scope_id FROM audit.checkpoints c "
        "JOIN audit.logs l USING (log_id) WHERE $1::bigint[] IS NULL OR c.log_id = ANY($1)", log_ids)
    by_log: dict[str, list[tuple[Checkpoint, dict[str, bytes] | None, str]]] = {}
    for r in stored:
        cp = Checkpoint(r["log_id"], _name(r), r["size"], bytes(r["root_hash"]), r["signed_at"],
                        r["key_id"], bytes(r["signature"]))
        by_log.setdefault(cp.log_name, []).append((cp, db_keys, "stored"))
    for cp in external or []:
        by_log.setdefault(cp.log_name, []).append((cp, external_keys or {}, "exported"))
    for w in witnessed or []:
        cp = Checkpoint(0, w.log_name, w.size, w.root, w.cosigned_at, f"witness:{w.witness}", b"")
        by_log.setdefault(w.log_name, []).append((cp, None, f"witness {w.witness}"))
    await _stored_cosignatures(conn, witnesses or [], log_ids, by_log)
    schema_problem = await derivation_problem(conn)

    results: list[LogResult] = []
    present = {r["name"] for r in logs}
    expected = await expected_logs(conn)
    for name, why in sorted(expected.items()):
        if name not in present and (names is None or name in names) and (log_ids is None or names is not None):
            results.append(_missing(name, why, by_log.get(name, [])))
    for name in sorted(set(by_log) - present - set(expected)):
        if (names is None and log_ids is None) or (names is not None and name in names):
            results.append(_missing(name, "it has exported or witnessed checkpoints", by_log[name]))
    for name in sorted(set(names or ()) - present - set(expected) - set(by_log)):
        results.append(_missing(name, "it was asked for", []))

    plan = []
    for r in logs:
        cps = by_log.get(r["name"], [])
        size = max([r["size"], r["last_seq"] or 0, *(c[0].size for c in cps)])
        plan.append((r, cps, size))
    total = sum(p[2] for p in plan)
    done = 0
    readers_pool = None if schema_problem or workers == 0 else _reader_pool(dsn, total, workers, chunk)
    executor = None if schema_problem or readers_pool is not None else _executor(total, workers, chunk)
    loop = asyncio.get_running_loop()
    readers: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
    for c in (conn, *(more_conns or ())):
        readers.put_nowait(c)
    # Bounded read-ahead: at most two chunks per worker in flight, so memory stays a few chunks' worth.
    hashers = (os.cpu_count() or 1) if workers is None else max(workers, 1)
    window = asyncio.Semaphore(2 * max(hashers, readers.qsize()))

    async def checked(reader: asyncpg.Connection, lo: int, hi: int, log_id: int, name: str,
                      cuts: tuple[int, ...]) -> ChunkResult:
        rows = await reader.fetch(ROWS_SQL, log_id, lo, hi)
        return check_rows(lo, hi, rows, cuts, hi - lo + 1 == chunk, name)

    async def read_batch(log_id: int, name: str,
                         specs: list[tuple[int, int, tuple[int, ...], bool]]) -> list[ChunkResult]:
        """Chunks of one log read and hashed by a reading process."""
        nonlocal done
        res = await loop.run_in_executor(readers_pool, read_and_check_chunks, log_id, name, specs)
        done += sum(hi - lo + 1 for lo, hi, _, _ in specs)
        if progress is not None:
            progress(done, total, name)
        return res

    async def one_chunk(log_id: int, name: str, lo: int, hi: int, cuts: tuple[int, ...]) -> list[ChunkResult]:
        """Read a chunk on whichever connection is free, then hash it in a worker (or check it row by row)."""
        nonlocal done
        async with window:
            reader = await readers.get()
            try:
                if schema_problem:
                    res = await checked(reader, lo, hi, log_id, name, cuts)
                else:
                    data = await fetch_chunk(reader, log_id, lo, hi, name)
                    res = None if data.complete else await checked(reader, lo, hi, log_id, name, cuts)
            finally:
                readers.put_nowait(reader)
            if res is None:
                args = (lo, data.canonical, data.leaves, data.count, cuts, hi - lo + 1 == chunk)
                res = hash_chunk(*args) if executor is None else await loop.run_in_executor(
                    executor, hash_chunk, *args)
                if res.problem == "recheck":
                    reader = await readers.get()
                    try:
                        res = await checked(reader, lo, hi, log_id, name, cuts)
                    finally:
                        readers.put_nowait(reader)
        done += hi - lo + 1
        if progress is not None:
            progress(done, total, name)
        return [res]

    scheduled: list[tuple[Any, Any, int, list[asyncio.Future[list[ChunkResult]]]]] = []
    try:
        # Every chunk of every log is scheduled at once (the window bounds how many are read ahead), so
        # reading, hashing and several connections overlap across logs too.
        for r, cps, size in plan:
            cuts = sorted({c[0].size for c in cps})
            specs = [(lo, min(lo + chunk - 1, size), tuple(s for s in cuts if lo <= s <= lo + chunk - 1),
                      min(lo + chunk - 1, size) - lo + 1 == chunk) for lo in range(1, size + 1, chunk)]
            if readers_pool is not None:
                tasks = [asyncio.ensure_future(read_batch(r["log_id"], r["name"], specs[i:i + READ_BATCH]))
                         for i in range(0, len(specs), READ_BATCH)]
            else:
                tasks = [asyncio.ensure_future(one_chunk(r["log_id"], r["name"], lo, hi, cut))
                         for lo, hi, cut, _ in specs]
            scheduled.append((r, cps, size, tasks))
        for r, cps, size, tasks in scheduled:
            result = LogResult(r["name"], r["log_id"], size)
            if schema_problem:
                result.fail(None, schema_problem)
            if r["size"] < size:
                result.notes.append(f"the log claims {r['size']} entries, its rows or checkpoints {size}")
            roots = _ChunkRoots(chunk)
            for res in (res for batch in await asyncio.gather(*tasks) for res in batch):
                if res.bad_seq is not None:
                    result.fail(res.bad_seq, res.problem or "does not hold")
                if res.missing_seq is not None and result.present is None:
                    result.present = res.missing_seq - 1
                roots.cut_roots.update(res.cut_roots)
                if res.root is not None and roots.tree.size == (res.lo - 1) // chunk:
                    roots.tree.extend([res.root])
            check_checkpoints(result, cps, roots.root_at, retired)
            results.append(result)
    finally:
        for _, _, _, tasks in scheduled:
            for task in tasks:
                task.cancel()
        for pool in (executor, readers_pool):
            if pool is not None:
                pool.shutdown()
    if store:
        await store_results(conn, [r for r in results if r.log_id is not None])
    return results


async def store_results(conn: asyncpg.Connection, results: list[LogResult]) -> None:
    await conn.executemany(
        "INSERT INTO audit.verifications (log_id, size, ok, first_bad_seq, checkpoints_checked, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [(r.log_id, r.size, r.ok, r.first_bad_seq, r.checkpoints_checked,
          None if r.ok else "; ".join([r.problem or "", *r.notes])[:2000]) for r in results])


@dataclass(frozen=True)
class VerificationStatus:
    log_id: int
    verified_at: datetime
    size: int
    ok: bool
    first_bad_seq: int | None
    checkpoints_checked: int
    detail: str | None


async def verification_status(conn: asyncpg.Connection,
                              logs: Iterable[LogRef | int]) -> dict[LogRef | int, VerificationStatus | None]:
    """The last verification result of each log, for reports (``None``: never verified, or no such log)."""
    wanted = list(logs)
    ids = [w for w in wanted if isinstance(w, int)]
    refs = [w for w in wanted if isinstance(w, LogRef)]
    rows = await conn.fetch(
        "SELECT DISTINCT ON (v.log_id) v.*, l.scope, l.scope_id FROM audit.verifications v "
        "JOIN audit.logs l USING (log_id) "
        "WHERE v.log_id = ANY($1) OR (l.scope, l.scope_id) IN (SELECT * FROM unnest($2::text[], $3::bigint[])) "
        "ORDER BY v.log_id, v.verified_at DESC",
        ids, [r.scope for r in refs], [r.scope_id for r in refs])
    found: dict[Any, VerificationStatus] = {}
    for r in rows:
        status = VerificationStatus(r["log_id"], r["verified_at"], r["size"], r["ok"], r["first_bad_seq"],
                                    r["checkpoints_checked"], r["detail"])
        found[r["log_id"]] = status
        found[LogRef(r["scope"], r["scope_id"])] = status
    return {w: found.get(w) for w in wanted}


# Offline: an export is JSON lines — a header with the public keys, then per log its entries and its
# checkpoints. Nothing else is needed to check it.

async def export_log_lines(conn: asyncpg.Connection, log_ids: list[int] | None = None) -> AsyncIterator[str]:
    """Yield the export of every (given) log as JSON lines."""
    keys = await public_keys(conn)
    retired = await key_retirements(conn)
    lines = [json.dumps({"type": "header", "format": EXPORT_FORMAT,
                         "public_keys": [{"key_id": k, "algorithm": "ed25519", "public_key": v.hex(),
                                          **({"retired_at": format_time(retired[k])} if k in retired else {})}
                                         for k, v in sorted(keys.items())]})]
    logs = await conn.fetch(
        "SELECT log_id, scope, scope_id, size FROM audit.logs "
        "WHERE $1::bigint[] IS NULL OR log_id = ANY($1) ORDER BY log_id", log_ids)
    for row in logs:
        log = {**dict(row), "name": _name(row)}
        lines.append(json.dumps({"type": "log", "log": log["name"], "size": log["size"]}))
        async with conn.transaction(readonly=True):
            # The text derived from the columns (never the stored canonical column), beside the stored leaf:
            # a row that no longer matches its leaf is caught offline too.
            async for row in conn.cursor(ROWS_SQL, log["log_id"], 1, 1 << 62, prefetch=5000):
                lines.append(json.dumps({"type": "entry", "log": log["name"], "seq": row["seq"],
                                         "canonical": canonical_text(row), "leaf_hash": row["leaf_hash"].hex()},
                                        ensure_ascii=False))
                if len(lines) >= 5000:
                    yield "\n".join(lines) + "\n"
                    lines = []
        for cp in await conn.fetch(
                "SELECT c.*, $2::text AS log_name FROM audit.checkpoints c WHERE log_id = $1 ORDER BY size",
                log["log_id"], log["name"]):
            item = Checkpoint(cp["log_id"], cp["log_name"], cp["size"], bytes(cp["root_hash"]),
                              cp["signed_at"], cp["key_id"], bytes(cp["signature"])).to_json()
            lines.append(json.dumps({"type": "checkpoint", **item}))
    yield "\n".join(lines) + "\n"


def verify_export(stream: IO[str], *, external: list[Checkpoint] | None = None,
                  external_keys: dict[str, bytes] | None = None,
                  progress: Progress | None = None) -> list[LogResult]:
    """Verify an export without the database: the same checks, on the canonical texts it carries."""
    keys: dict[str, bytes] = {}
    retired: dict[str, datetime] = {}
    claimed: dict[str, int] = {}
    entries: dict[str, list[tuple[int, str, bytes]]] = {}
    checkpoints: dict[str, list[tuple[Checkpoint, dict[str, bytes], str]]] = {}
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            kind = item["type"]
            if kind == "header":
                if item.get("format") != EXPORT_FORMAT:
                    raise ExportInvalid(f"line {number}: not a {EXPORT_FORMAT} export", field="format")
                keys.update({k["key_id"]: bytes.fromhex(k["public_key"]) for k in item["public_keys"]})
                retired.update({k["key_id"]: parse_time(k["retired_at"]) for k in item["public_keys"]
                                if k.get("retired_at")})
            elif kind == "log":
                claimed[item["log"]] = int(item["size"])
            elif kind == "entry":
                entries.setdefault(item["log"], []).append(
                    (int(item["seq"]), item["canonical"], bytes.fromhex(item["leaf_hash"])))
            elif kind == "checkpoint":
                checkpoints.setdefault(item["log"], []).append((checkpoint_from_json(item), keys, "stored"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportInvalid(f"line {number} of the export is malformed: {exc}", field="line") from exc
    for cp in external or []:
        checkpoints.setdefault(cp.log_name, []).append((cp, external_keys or {}, "exported"))

    results = []
    names = sorted(set(claimed) | set(entries) | set(checkpoints))
    total = sum(len(v) for v in entries.values())
    done = 0
    for name in names:
        rows = entries.get(name, [])
        cps = checkpoints.get(name, [])
        size = max([claimed.get(name, 0), len(rows), *(c[0].size for c in cps)])
        result = LogResult(name, None, size)
        leaves: list[bytes] = []
        for expected, (seq, canonical, leaf) in enumerate(sorted(rows), 1):
            if seq != expected:
                break
            if result.first_bad_seq is None:
                problem = canonical_problem(name, seq, canonical, leaf)
                if problem is not None:
                    result.fail(seq, problem)
            leaves.append(leaf)
        if len(leaves) < size:
            result.present = len(leaves)
            result.fail(len(leaves) + 1, f"sequence number {len(leaves) + 1} is missing")
        tree = MerkleTree(leaves)
        check_checkpoints(result, cps, lambda s, t=tree: t.root(s) if s <= t.size else None, retired)
        results.append(result)
        done += len(rows)
        if progress is not None:
            progress(done, total, name)
    return results
