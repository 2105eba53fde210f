"""Keys kept on disk under the data directory: the service secret and the audit signing key."""

from __future__ import annotations

import secrets
from pathlib import Path

from audit.signing import write_once


def load_or_create_secret(path: Path) -> bytes:
    """32 random bytes, created once with mode 0600. Signs nothing public; keys the personal-data hashes."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    # Several processes may start at once: the first to link its file wins, and all read the same key.
    return bytes.fromhex(write_once(path, secrets.token_bytes(32).hex().encode()).decode().strip())
