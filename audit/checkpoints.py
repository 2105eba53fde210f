"""Signed checkpoints (tree heads), proofs against them, and their export for the regional office."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from audit.entries import verified_leaves
from audit.errors import (
    CheckpointNotFound,
    EntryNotFound,
    ExportInvalid,
    HistoryRewritten,
    KeyAlreadyRetired,
    LogNotFound,
    NoCheckpointYet,
)
from audit.log import Actor, LogRef, append
from audit.merkle import MerkleTree
from audit.signing import SigningKey, checkpoint_message, format_time, parse_time, verify_signature

FETCH_CHUNK = 8_192
EXPORT_FORMAT = "wartel-audit-checkpoints/v1"


@dataclass(frozen=True)
class Checkpoint:
    log_id: int
    log_name: str
    size: int
    root_hash: bytes
    signed_at: datetime
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return checkpoint_message(self.log_name, self.size, self.root_hash, self.signed_at)

    def to_json(self) -> dict[str, Any]:
        return {"log": self.log_name, "size": self.size, "root_hash": self.root_hash.hex(),
                "signed_at": format_time(self.signed_at), "key_id": self.key_id,
                "signature": self.signature.hex()}


def checkpoint_from_json(doc: dict[str, Any]) -> Checkpoint:
    """An exported checkpoint (``log_id`` is unknown outside the database and left 0)."""
    return Checkpoint(log_id=0, log_name=str(doc["log"]), size=int(doc["size"]),
                      root_hash=bytes.fromhex(doc["root_hash"]),
                      signed_at=parse_time(doc["signed_at"]),
                      key_id=str(doc["key_id"]), signature=bytes.fromhex(doc["signature"]))


_LATEST = """
SELECT c.*, audit.log_name(l.scope, l.scope_id) AS log_name
FROM audit.checkpoints c JOIN audit.logs l USING (log_id)
WHERE c.log_id = $1 ORDER BY c.size DESC LIMIT 1
"""
_AT = """
SELECT c.*, audit.log_name(l.scope, l.scope_id) AS log_name
FROM audit.checkpoints c JOIN audit.logs l USING (log_id)
WHERE c.log_id = $1 AND c.size = $2
"""
_LIST = """
SELECT c.*, audit.log_name(l.scope, l.scope_id) AS log_name
FROM audit.checkpoints c JOIN audit.logs l USING (log_id)
WHERE ($1::bigint[] IS NULL OR c.log_id = ANY($1)) AND c.size > coalesce($2, 0)
  AND (NOT $4 OR c.size = (SELECT max(size) FROM audit.checkpoints m WHERE m.log_id = c.log_id))
ORDER BY c.log_id, c.size LIMIT $3
"""


def _checkpoint(row: asyncpg.Record) -> Checkpoint:
    return Checkpoint(log_id=row["log_id"], log_name=row["log_name"], size=row["size"],
                      root_hash=bytes(row["root_hash"]), signed_at=row["signed_at"], key_id=row["key_id"],
                      signature=bytes(row["signature"]))


class TreeCache:
    """Merkle trees of recently used logs, grown as the logs grow, so a proof costs O(log n) after the first.

    Leaves are taken in only after their hash was recomputed from the entry's columns, and a cached leaf is
    never re-read: a row changed in the database after it was cached does not change the cached tree.
    """

    def __init__(self, max_logs: int = 64) -> None:
        self.max_logs = max_logs
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}

    async def tree(self, conn: asyncpg.Connection, log_id: int, size: int) -> MerkleTree:
        lock = self._locks.setdefault(log_id, asyncio.Lock())
        async with lock:
            tree = self._trees.get(log_id) or MerkleTree()
            name = await conn.fetchval("SELECT audit.log_name(scope, scope_id) FROM audit.logs WHERE log_id = $1",
                                       log_id) if tree.size < size else None
            while tree.size < size:
                lo = tree.size + 1
                hi = min(size, tree.size + FETCH_CHUNK)
                leaves = await verified_leaves(conn, log_id, lo, hi, name or "")
                if leaves is None:
                    raise HistoryRewritten(
                        f"log {log_id}: entries {lo}..{hi} do not hold; run `wartel audit verify`",
                        code="audit_log_damaged", log_id=log_id)
                tree.extend(leaves)
            self._trees[log_id] = tree
            self._trees.move_to_end(log_id)
            while len(self._trees) > self.max_logs:
                old, _ = self._trees.popitem(last=False)
                self._locks.pop(old, None)
            return tree


_CACHES: OrderedDict[int, tuple[Any, TreeCache]] = OrderedDict()


def tree_cache_for(owner: Any) -> TreeCache:
    """The tree cache of ``owner`` (a pool): one per database the process talks to, a few at most."""
    held = _CACHES.get(id(owner))
    if held is None or held[0] is not owner:
        held = _CACHES[id(owner)] = (owner, TreeCache())
    _CACHES.move_to_end(id(owner))
    while len(_CACHES) > 4:
        _CACHES.popitem(last=False)
    return held[1]


async def register_key(conn: asyncpg.Connection, key: SigningKey) -> None:
    await conn.execute("INSERT INTO audit.signing_keys (key_id, public_key) VALUES ($1, $2) "
                       "ON CONFLICT (key_id) DO NOTHING", key.key_id, key.public_raw)


async def latest_checkpoint(conn: asyncpg.Connection, log_id: int) -> Checkpoint | None:
    row = await conn.fetchrow(_LATEST, log_id)
    return _checkpoint(row) if row else None


async def checkpoint_at(conn: asyncpg.Connection, log_id: int, size: int) -> Checkpoint:
    row = await conn.fetchrow(_AT, log_id, size)
    if row is None:
        raise CheckpointNotFound(f"no checkpoint of log {log_id} at size {size}", field="size")
    return _checkpoint(row)


async def list_checkpoints(conn: asyncpg.Connection, log_ids: list[int] | None = None, *,
                           after_size: int | None = None, limit: int | None = 100,
                           latest_only: bool = False) -> list[Checkpoint]:
    """Checkpoints of the given logs (all logs: ``None``), by log and size, after ``after_size``."""
    rows = await conn.fetch(_LIST, log_ids, after_size, limit, latest_only)
    return [_checkpoint(r) for r in rows]


async def make_checkpoint(conn: asyncpg.Connection, key: SigningKey, log_id: int,
                          cache: TreeCache | None = None) -> Checkpoint | None:
    """Sign the log's current tree head, unless the last checkpoint already covers every entry.

    Refuses (:class:`HistoryRewritten`) when the log no longer extends its last checkpoint: a rewritten past
    is reported, never signed over. Returns ``None`` for an empty log.
    """
    row = await conn.fetchrow("SELECT size, audit.log_name(scope, scope_id) AS name FROM audit.logs "
                              "WHERE log_id = $1", log_id)
    if row is None:
        raise LogNotFound(f"audit log {log_id} not found", field="log_id")
    size, name = row["size"], row["name"]
    last = await latest_checkpoint(conn, log_id)
    if size == 0:
        return None
    if last is not None and last.size >= size:
        return last
    if await conn.fetchval("SELECT true FROM audit.key_retirements WHERE key_id = $1", key.key_id):
        # A key file restored from before a rotation: nothing is signed with it (verification would report
        # every such checkpoint); the key file needs the successor again.
        raise KeyAlreadyRetired(f"signing key {key.key_id} was retired; put its successor's key file back",
                                field="key_id")
    tree = await (cache or TreeCache()).tree(conn, log_id, size)
    if last is not None and tree.root(last.size) != last.root_hash:
        raise HistoryRewritten(f"log {name} no longer extends its checkpoint at size {last.size}",
                               log=name, size=last.size)
    signed_at = datetime.now(UTC)
    root = tree.root(size)
    signature = key.sign(checkpoint_message(name, size, root, signed_at))
    await register_key(conn, key)
    inserted = await conn.fetchval(
        "INSERT INTO audit.checkpoints (log_id, size, root_hash, signed_at, key_id, signature) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (log_id, size) DO NOTHING RETURNING true",
        log_id, size, root, signed_at, key.key_id, signature)
    if not inserted:  # another process signed the same size a moment ago
        return await checkpoint_at(conn, log_id, size)
    return Checkpoint(log_id, name, size, root, signed_at, key.key_id, signature)


async def make_checkpoints(conn: asyncpg.Connection, key: SigningKey, log_ids: list[int] | None = None,
                           cache: TreeCache | None = None) -> tuple[list[Checkpoint], list[str]]:
    """Checkpoint every (given) log that grew since its last checkpoint.

    Returns the new checkpoints and the problems of logs that could not be signed (damaged history).
    """
    rows = await conn.fetch(
        "SELECT l.log_id FROM audit.logs l WHERE l.size > 0 AND ($1::bigint[] IS NULL OR l.log_id = ANY($1)) "
        "AND l.size > coalesce((SELECT max(size) FROM audit.checkpoints c WHERE c.log_id = l.log_id), 0) "
        "ORDER BY l.log_id", log_ids)
    cache = cache or TreeCache()
    made: list[Checkpoint] = []
    problems: list[str] = []
    for r in rows:
        try:
            cp = await make_checkpoint(conn, key, r["log_id"], cache)
        except HistoryRewritten as exc:
            problems.append(exc.detail)
            continue
        if cp is not None:
            made.append(cp)
    return made, problems


# A checkpoint signed by a retired key this long after its retirement is reported: a process that loaded
# the old key just before the rotation may still sign with it for a moment.
RETIREMENT_GRACE = timedelta(minutes=1)


async def retire_key(conn: asyncpg.Connection, old: SigningKey, new: SigningKey, *, reason: str,
                     actor: Actor) -> datetime:
    """Record in the caller's transaction that ``new`` replaces ``old`` from now on, with an audit entry in
    the national log; returns the time of retirement. The caller swaps the key files before committing."""
    await register_key(conn, old)
    await register_key(conn, new)
    retired_at = await conn.fetchval(
        "INSERT INTO audit.key_retirements (key_id, retired_at, successor_key_id, reason) "
        "VALUES ($1, clock_timestamp(), $2, $3) ON CONFLICT (key_id) DO NOTHING RETURNING retired_at",
        old.key_id, new.key_id, reason)
    if retired_at is None:
        raise KeyAlreadyRetired(f"signing key {old.key_id} was retired before", field="key_id")
    await append(conn, LogRef.national(), action="audit.signing_key_rotated", subject_type="signing_key",
                 subject_id=new.key_id, actor=actor, payload={"retired_key_id": old.key_id,
                                                                "new_key_id": new.key_id})
    return retired_at


async def key_retirements(conn: asyncpg.Connection) -> dict[str, datetime]:
    return {r["key_id"]: r["retired_at"]
            for r in await conn.fetch("SELECT key_id, retired_at FROM audit.key_retirements")}


def signed_after_retirement(cp: Checkpoint, retired: dict[str, datetime]) -> datetime | None:
    """When the checkpoint's key was retired, if the checkpoint was signed after that (beyond the grace)."""
    at = retired.get(cp.key_id)
    return at if at is not None and cp.signed_at > at + RETIREMENT_GRACE else None


async def public_keys(conn: asyncpg.Connection) -> dict[str, bytes]:
    return {r["key_id"]: bytes(r["public_key"])
            for r in await conn.fetch("SELECT key_id, public_key FROM audit.signing_keys")}


def signature_holds(cp: Checkpoint, keys: dict[str, bytes]) -> bool:
    public = keys.get(cp.key_id)
    return public is not None and verify_signature(public, cp.signature, cp.message())


@dataclass(frozen=True)
class InclusionProof:
    entry_seq: int
    leaf_index: int
    leaf_hash: bytes
    checkpoint: Checkpoint
    path: list[bytes]


async def inclusion_proof(conn: asyncpg.Connection, log_id: int, seq: int,
                          cache: TreeCache | None = None) -> InclusionProof:
    """Proof that entry ``seq`` is in the log's latest checkpoint."""
    leaf = await conn.fetchval("SELECT leaf_hash FROM audit.entries WHERE log_id = $1 AND seq = $2", log_id, seq)
    if leaf is None:
        raise EntryNotFound(f"entry {seq} not found", field="seq")
    cp = await latest_checkpoint(conn, log_id)
    if cp is None or cp.size < seq:
        raise NoCheckpointYet(f"entry {seq} is not covered by a checkpoint yet", field="seq")
    tree = await (cache or TreeCache()).tree(conn, log_id, cp.size)
    return InclusionProof(entry_seq=seq, leaf_index=seq - 1, leaf_hash=tree.levels[0][seq - 1],
                          checkpoint=cp, path=tree.inclusion_proof(seq - 1, cp.size))


async def consistency_proof(conn: asyncpg.Connection, log_id: int, old_size: int, new_size: int,
                            cache: TreeCache | None = None) -> tuple[Checkpoint, Checkpoint, list[bytes]]:
    """Proof that the checkpoint at ``new_size`` extends the one at ``old_size``."""
    old = await checkpoint_at(conn, log_id, old_size)
    new = await checkpoint_at(conn, log_id, new_size)
    if old_size > new_size:
        raise CheckpointNotFound("old_size must not exceed new_size", code="audit_sizes_reversed",
                                 field="old_size")
    tree = await (cache or TreeCache()).tree(conn, log_id, new_size)
    return old, new, tree.consistency_proof(old_size, new_size)


def export_document(checkpoints: list[Checkpoint], key: SigningKey | None, keys: dict[str, bytes],
                    labels: dict[str, str] | None = None,
                    retired: dict[str, datetime] | None = None) -> dict[str, Any]:
    """The small JSON document the regional office keeps outside the facility.

    Carries the public keys that signed the checkpoints, so it can be checked without the service.
    """
    used = {cp.key_id for cp in checkpoints} | ({key.key_id} if key else set())
    all_keys = dict(keys)
    if key is not None:
        all_keys[key.key_id] = key.public_raw
    items = []
    for cp in checkpoints:
        item = cp.to_json()
        if labels and cp.log_name in labels:
            item["label"] = labels[cp.log_name]
        items.append(item)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": format_time(datetime.now(UTC)),
        "public_keys": [{"key_id": k, "algorithm": "ed25519", "public_key": all_keys[k].hex(),
                         **({"retired_at": format_time(retired[k])} if retired and k in retired else {})}
                        for k in sorted(used) if k in all_keys],
        "checkpoints": items,
    }


def read_export_document(doc: Any) -> tuple[list[Checkpoint], dict[str, bytes]]:
    """Checkpoints and public keys of an exported document (as produced by :func:`export_document`)."""

    try:
        if doc.get("format") != EXPORT_FORMAT:
            raise ExportInvalid(f"not a {EXPORT_FORMAT} document", field="format")
        keys = {k["key_id"]: bytes.fromhex(k["public_key"]) for k in doc["public_keys"]}
        return [checkpoint_from_json(c) for c in doc["checkpoints"]], keys
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ExportInvalid(f"checkpoint document is malformed: {exc}", field="checkpoints") from exc
