"""The public transparency-log formats Wartel's logs are witnessed in (C2SP), so other tools can check them.

- ``tlog-checkpoint``: a checkpoint is the note text ``<origin>\\n<size>\\n<base64 root>\\n``; each Wartel
  log's origin is ``wartel-audit/<log name>`` (e.g. ``wartel-audit/facility:3``).
- ``signed-note``: the text, an empty line, and signature lines ``— <key name> base64(key id ‖ signature)``;
  the log signs with its Ed25519 checkpoint key (type 0x01), under the key name of its origin.
- ``tlog-cosignature`` v1: a witness's timestamped Ed25519 signature (type 0x04) over
  ``cosignature/v1\\ntime <t>\\n`` followed by the checkpoint text.
- ``tlog-witness``: the ``add-checkpoint`` request body ``old <size>\\n<proof lines>\\n<signed checkpoint>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ORIGIN_PREFIX = "wartel-audit/"
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_PROOF_LINES = 63
_DASH = "\u2014"


class NoteError(ValueError):
    """A malformed note, checkpoint or request body."""


def origin_of(log_name: str) -> str:
    return ORIGIN_PREFIX + log_name


def log_name_of(origin: str) -> str | None:
    return origin[len(ORIGIN_PREFIX) :] if origin.startswith(ORIGIN_PREFIX) else None


def checkpoint_text(origin: str, size: int, root: bytes) -> bytes:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()


@dataclass(frozen=True)
class CheckpointNote:
    origin: str
    size: int
    root: bytes
    text: bytes  # the note text, exactly as signed
    signatures: tuple[str, ...]  # the signature lines, without their newline


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"not base64: {text[:20]!r}") from exc


def parse_checkpoint(note: bytes) -> CheckpointNote:
    """A signed checkpoint note: text, an empty line, one or more signature lines."""
    try:
        decoded = note.decode()
    except UnicodeDecodeError as exc:
        raise NoteError("the note is not UTF-8") from exc
    text, sep, sigs = decoded.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise NoteError("a signed note is text, an empty line, and newline-terminated signature lines")
    lines = text.split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("a checkpoint has at least three non-empty lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")) or len(size_text) > 19:
        raise NoteError("the tree size is not a decimal without leading zeroes")
    root = _b64(root_text)
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    signatures = tuple(sigs[:-1].split("\n"))
    if not signatures or any(not s.startswith(_DASH + " ") for s in signatures):
        raise NoteError("signature lines start with an em dash and a space")
    return CheckpointNote(origin, int(size_text), root, (text + "\n").encode(), signatures)


def key_id(name: str, signature_type: int, public_raw: bytes) -> bytes:
    """signed-note key ID: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_raw).digest()[:4]


def sign_note(text: bytes, name: str, private: Ed25519PrivateKey, public_raw: bytes) -> str:
    """An Ed25519 (0x01) signature line over the note text."""
    sig = private.sign(text)
    return f"{_DASH} {name} {base64.b64encode(key_id(name, 1, public_raw) + sig).decode()}"


def _split_signature(line: str) -> tuple[str, bytes]:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _DASH:
        raise NoteError("a signature line is: em dash, key name, base64")
    return parts[1], _b64(parts[2])


def note_signed_by(note: CheckpointNote, name: str, public_raw: bytes) -> bool | None:
    """Whether the note carries a valid 0x01 signature of this key (``None``: no line of this key at all;
    ``False``: a line of this key whose signature does not verify, which makes the note malformed)."""
    wanted = key_id(name, 1, public_raw)
    found: bool | None = None
    for line in note.signatures:
        line_name, blob = _split_signature(line)
        if line_name != name or blob[:4] != wanted:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_raw).verify(blob[4:], note.text)
        except (InvalidSignature, ValueError):
            return False
        found = True
    return found


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text


def cosign(text: bytes, name: str, private: Ed25519PrivateKey, public_raw: bytes, timestamp: int) -> str:
    """A tlog-cosignature/v1 line (type 0x04) over the checkpoint text, at ``timestamp`` (POSIX seconds)."""
    sig = private.sign(cosignature_message(text, timestamp))
    blob = key_id(name, 4, public_raw) + struct.pack(">Q", timestamp) + sig
    return f"{_DASH} {name} {base64.b64encode(blob).decode()}"


def verify_cosignature(text: bytes, line: str, name: str, public_raw: bytes) -> int | None:
    """The cosignature's timestamp when ``line`` is this witness's valid cosignature over ``text``."""
    try:
        line_name, blob = _split_signature(line)
    except NoteError:
        return None
    if line_name != name or len(blob) != 4 + 8 + 64 or blob[:4] != key_id(name, 4, public_raw):
        return None
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(blob[12:], cosignature_message(text, timestamp))
    except (InvalidSignature, ValueError):
        return None
    return timestamp


def add_checkpoint_body(old_size: int, proof: list[bytes], signed_note: bytes) -> bytes:
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n").encode() + signed_note


def parse_add_checkpoint(body: bytes) -> tuple[int, list[bytes], bytes]:
    """(old size, consistency proof, signed checkpoint note) of an add-checkpoint request body."""
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise NoteError("the request is an old size line, proof lines, an empty line and a checkpoint")
    lines = head.decode("ascii", errors="replace").split("\n")
    first = lines[0]
    if (
        not first.startswith("old ")
        or not first[4:].isdigit()
        or (first[4:] != "0" and first[4:].startswith("0"))
    ):
        raise NoteError("the first line is 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise NoteError("more than 63 proof lines")
    proof = [_b64(line) for line in lines[1:]]
    if any(len(h) != 32 for h in proof):
        raise NoteError("a proof line is not a 32-byte hash")
    return int(first[4:]), proof, note
