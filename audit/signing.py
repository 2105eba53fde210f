"""The Ed25519 key that signs checkpoints, and the exact bytes a checkpoint signature covers."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.errors import SigningKeyUnsafe

NOTE_ORIGIN = "wartel-audit-checkpoint/v1"


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public_raw: bytes
    key_id: str

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def key_id_of(public_raw: bytes) -> str:
    """Short, stable name of a public key: the first 8 bytes of its SHA-256, in hex."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _from_private(private: Ed25519PrivateKey) -> SigningKey:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(private=private, public_raw=raw, key_id=key_id_of(raw))


def load_or_create(path: Path) -> SigningKey:
    """Load the PEM key at ``path``, creating it (mode 0600) on first use.

    A key file others can read is refused: whoever holds it can sign a rewritten history.
    """
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SigningKeyUnsafe(f"audit signing key {path} has mode {mode:o}; chmod 600 it",
                                   code="audit_signing_key_unsafe")
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningKeyUnsafe(f"{path} is not an Ed25519 key", code="audit_signing_key_wrong_type")
        return _from_private(private)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    if write_once(path, pem) != pem:  # another process created it a moment ago: use theirs
        return load_or_create(path)
    return _from_private(private)


def _pem(key: SigningKey) -> bytes:
    return key.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def generate() -> SigningKey:
    return _from_private(Ed25519PrivateKey.generate())


def retired_path(path: Path, key_id: str) -> Path:
    """Where a rotation leaves the retired private key, for the operator to move offline or destroy."""
    return path.with_name(f"{path.name}.retired-{key_id}")


def install_successor(path: Path, old: SigningKey, new: SigningKey) -> Path:
    """Put ``new`` in place of ``old`` at ``path``; ``old`` moves aside (mode 0600) and its path is returned.

    The new key is written to a private temporary file and renamed over the old one, so a process reading
    the key file sees one key or the other, never a mixture or nothing."""
    aside = retired_path(path, old.key_id)
    write_once(aside, _pem(old))
    temporary = _private_copy(path, _pem(new))
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return aside


def _private_copy(path: Path, data: bytes) -> str:
    """``data`` in a new file (mode 0600, synced) beside ``path``, to be linked or renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return temporary


def write_once(path: Path, data: bytes) -> bytes:
    """Create ``path`` (mode 0600) holding ``data`` unless it exists; return what the file holds.

    The bytes go to a private temporary file first, which is then linked into place: another process never
    reads a half-written key, and of several processes starting at once (``WARTEL_WORKERS``) the first link
    wins and all use its key.
    """
    temporary = _private_copy(path, data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        os.unlink(temporary)
    return data


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time` (as exports carry times)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def checkpoint_message(log_name: str, size: int, root_hash: bytes, signed_at: datetime) -> bytes:
    """What a checkpoint signature covers: origin, log, size, root and time, one per line."""
    root = base64.b64encode(root_hash).decode()
    return f"{NOTE_ORIGIN}\n{log_name}\n{size}\n{root}\n{format_time(signed_at)}\n".encode()


def verify_signature(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
