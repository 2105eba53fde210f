"""``wartel witness``: a witness the service cannot rewrite (C2SP tlog-witness, ``add-checkpoint``).

Run by the regional office (and optionally a national body) as a process of its own, with its own Ed25519
key and its own storage — a SQLite file in its own directory, never the service's database. For every log
it keeps the latest checkpoint it cosigned (size, root, the note and its cosignature). A submitted
checkpoint is cosigned only if it is signed by a log key the witness was told to trust and is consistent
with what the witness cosigned before (a consistency proof from that size); a rollback (a size below the
stored one) or a fork (another root for a size, or a proof that does not verify) is refused with the
status codes of the specification (409, 422), recorded in the witness's own refusals table as evidence,
and never cosigned.

``GET /logs`` lists every log the witness knows with its latest cosigned checkpoint and cosignature (the
monitoring side: verification fetches it, so a log that vanished from the service, or was rolled back
below what the witness saw, fails whatever the service's database says).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.merkle import verify_consistency
from audit.signing import SigningKey, load_or_create
from audit.tlog import (
    EMPTY_ROOT,
    NoteError,
    cosign,
    log_name_of,
    note_signed_by,
    parse_add_checkpoint,
    parse_checkpoint,
)

MAX_BODY = 16_384  # 63 proof lines and a checkpoint with a few signatures fit many times over
_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size >= 0),
    root       BLOB NOT NULL,
    note       BLOB NOT NULL,
    cosignature TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    at         INTEGER NOT NULL,
    origin     TEXT NOT NULL,
    status     INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    old_size   INTEGER,
    size       INTEGER,
    root       BLOB
);
"""


@dataclass(frozen=True)
class WitnessConfig:
    name: str
    directory: Path
    log_keys: tuple[bytes, ...] = ()  # raw Ed25519 public keys trusted for every wartel-audit/ origin
    # Files holding a trusted key (hex public key, or for the demo beside the service its PEM key file), read
    # again when they change: a key the service rotates to is trusted once the file holds it.
    log_key_files: tuple[Path, ...] = ()


def _public_key_in(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data.startswith(b"-----BEGIN"):
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            return None
        return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = bytes.fromhex(data.decode().strip())
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


class Witness:
    """The witness's state: its key and its SQLite file, both under its own directory."""

    def __init__(self, config: WitnessConfig) -> None:
        config.directory.mkdir(parents=True, exist_ok=True)
        self.name = config.name
        self.key: SigningKey = load_or_create(config.directory / "witness.key")
        (config.directory / "witness.pub").write_text(self.key.public_raw.hex() + "\n")
        self.static_keys = config.log_keys
        self.key_files = config.log_key_files
        self._file_keys: dict[Path, tuple[float, bytes | None]] = {}
        # One writer: the check against the stored size and the update happen in one IMMEDIATE transaction
        # (tlog-witness: else two submissions could roll the stored size back).
        self.db = sqlite3.connect(config.directory / "witness.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")  # the state is persisted before the cosignature leaves
        self.db.executescript(_SCHEMA)

    def add_checkpoint(self, body: bytes, now: int | None = None) -> tuple[int, str, str]:
        """(HTTP status, content type, body) for an add-checkpoint request."""
        try:
            old_size, proof, signed = parse_add_checkpoint(body)
            note = parse_checkpoint(signed)
        except NoteError as exc:
            return 400, "text/plain", f"{exc}\n"
        if log_name_of(note.origin) is None:
            return 404, "text/plain", "unknown origin\n"
        verdicts = [note_signed_by(note, note.origin, key) for key in self.log_keys()]
        if False in verdicts or True not in verdicts:
            return 403, "text/plain", "no valid signature of a trusted log key\n"
        if old_size > note.size:
            return 400, "text/plain", "old size exceeds the checkpoint size\n"
        if note.size == 0 and note.root != EMPTY_ROOT:
            return 422, "text/plain", "an empty tree has the empty root\n"
        at = int(time.time()) if now is None else now
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT size, root FROM logs WHERE origin = ?", (note.origin,)).fetchone()
            stored_size, stored_root = (row[0], bytes(row[1])) if row else (0, EMPTY_ROOT)
            refusal = self._refusal(old_size, proof, note.size, note.root, stored_size, stored_root)
            if refusal is not None:
                status, reason = refusal
                self.db.execute(
                    "INSERT INTO refusals VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (at, note.origin, status, reason, old_size, note.size, note.root),
                )
                self.db.execute("COMMIT")
                if status == 409:
                    return 409, "text/x.tlog.size", f"{stored_size}\n"
                return status, "text/plain", f"{reason}\n"
            line = cosign(note.text, self.name, self.key.private, self.key.public_raw, at)
            self.db.execute(
                "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, "
                "root = excluded.root, note = excluded.note, cosignature = excluded.cosignature, "
                "updated_at = excluded.updated_at",
                (note.origin, note.size, note.root, note.text, line, at),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return 200, "text/plain", line + "\n"

    def log_keys(self) -> list[bytes]:
        keys = list(self.static_keys)
        for path in self.key_files:
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            held = self._file_keys.get(path)
            if held is None or held[0] != mtime:
                held = self._file_keys[path] = (mtime, _public_key_in(path))
            if held[1] is not None:
                keys.append(held[1])
        return keys

    @staticmethod
    def _refusal(
        old_size: int, proof: list[bytes], size: int, root: bytes, stored_size: int, stored_root: bytes
    ) -> tuple[int, str] | None:
        if old_size != stored_size:
            return 409, f"old size {old_size} is not the cosigned size {stored_size}"
        if old_size == 0:
            return (422, "a proof from size 0 must be empty") if proof else None
        if old_size == size:
            return None if root == stored_root else (422, "another root for the cosigned size: a fork")
        if not verify_consistency(old_size, size, stored_root, root, proof):
            return 422, "the consistency proof does not verify: a fork or a rewritten history"
        return None

    def forget(self, origin: str, reason: str, now: int | None = None) -> int | None:
        """The witness operator's decision after a legitimate rollback (a restore from backup): drop what
        it holds for ``origin`` (recorded in its refusals table with the reason), so the log is cosigned
        again from size 0. Returns the size it held, ``None`` if it held nothing."""
        at = int(time.time()) if now is None else now
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT size, root FROM logs WHERE origin = ?", (origin,)).fetchone()
            if row is not None:
                self.db.execute("INSERT INTO refusals VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (at, origin, 0, f"forgotten by the operator: {reason}", row[0], None, row[1]))
                self.db.execute("DELETE FROM logs WHERE origin = ?", (origin,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return None if row is None else int(row[0])

    def logs(self) -> str:
        """Every log's latest cosigned checkpoint: the note and its cosignature, notes separated by a line
        holding only ``--``."""
        rows = self.db.execute("SELECT note, cosignature FROM logs ORDER BY origin").fetchall()
        return "".join(bytes(note).decode() + "\n" + line + "\n--\n" for note, line in rows)


def create_witness_app(config: WitnessConfig) -> web.Application:
    witness = Witness(config)
    app = web.Application(client_max_size=MAX_BODY)

    async def add_checkpoint(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="request too large\n")
        status, content_type, text = witness.add_checkpoint(body)
        # The exact media type the specification names (text/x.tlog.size has no charset parameter).
        return web.Response(status=status, body=text.encode(), headers={"Content-Type": content_type})

    async def logs(request: web.Request) -> web.Response:
        return web.Response(text=witness.logs(), content_type="text/plain", charset="utf-8")

    async def key(request: web.Request) -> web.Response:
        return web.Response(
            text=f"{witness.name} {witness.key.public_raw.hex()}\n", content_type="text/plain"
        )

    app.router.add_post("/add-checkpoint", add_checkpoint)
    app.router.add_get("/logs", logs)
    app.router.add_get("/key", key)
    app.on_cleanup.append(lambda _app: _close(witness))
    return app


async def _close(witness: Witness) -> None:
    witness.db.close()
