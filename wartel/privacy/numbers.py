"""Keyed references to phone numbers that can be shredded.

A number's reference in the audit log is HMAC(its own random key, number). The key is found from the number
through a lookup hash under the service's secret (``number_keys.lookup``), so the table never holds a number.
Deleting the key row (:func:`shred_number_key`) makes every reference ever written for that number
unmatchable, while the log's hashes — over the reference, not the number — still verify.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import asyncpg

_LOOKUP_CONTEXT = b"wartel number-key lookup:"
_REF_CONTEXT = b"wartel number ref:"


def _lookup(secret: bytes, e164: str) -> bytes:
    return hmac.new(secret, _LOOKUP_CONTEXT + e164.encode(), hashlib.sha256).digest()


def ref_with_key(key: bytes, e164: str) -> str:
    """The reference a number gets under ``key`` (24 hex characters, as the older ``phone_ref``)."""
    return hmac.new(key, _REF_CONTEXT + e164.encode(), hashlib.sha256).hexdigest()[:24]


async def number_ref(
    conn: asyncpg.Connection, secret: bytes, e164: str, *, create: bool = True
) -> str | None:
    """The shreddable reference of ``e164``; its key is made on first use (``None`` if absent and not ``create``).

    Two first uses at once agree: the insert's conflict returns the row the other one wrote.
    """
    lookup = _lookup(secret, e164)
    key = await conn.fetchval("SELECT key FROM number_keys WHERE lookup = $1", lookup)
    if key is None and create:
        key = await conn.fetchval(
            "INSERT INTO number_keys (lookup, key) VALUES ($1, $2)"
            " ON CONFLICT ON CONSTRAINT number_key_lookup_once DO UPDATE SET lookup = EXCLUDED.lookup RETURNING key",
            lookup,
            os.urandom(32),
        )
    return None if key is None else ref_with_key(bytes(key), e164)


async def shred_number_key(conn: asyncpg.Connection, secret: bytes, e164: str) -> bool:
    """Destroy the number's key (in the caller's transaction); whether there was one."""
    return (
        await conn.fetchval("DELETE FROM number_keys WHERE lookup = $1 RETURNING true", _lookup(secret, e164))
        is not None
    )
