"""Key files under the data directory: processes starting at once (WARTEL_WORKERS) end up with one key."""

from __future__ import annotations

import stat
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from audit.signing import load_or_create
from wartel.secrets import load_or_create_secret


def _secret_at(path: Path, start: float) -> str:
    time.sleep(max(0.0, start - time.time()))
    return load_or_create_secret(path).hex()


def _signing_key_at(path: Path, start: float) -> str:
    time.sleep(max(0.0, start - time.time()))
    return load_or_create(path).key_id


def test_processes_starting_together_share_one_secret_and_one_signing_key(tmp_path: Path) -> None:
    for attempt in range(3):  # three fresh races, each with every process released at the same instant
        secret, signing = tmp_path / f"secret-{attempt}.key", tmp_path / f"signing-{attempt}.key"
        start = time.time() + 0.5
        with ProcessPoolExecutor(max_workers=8) as pool:
            secrets = list(pool.map(_secret_at, [secret] * 8, [start] * 8))
            key_ids = list(pool.map(_signing_key_at, [signing] * 8, [start + 0.5] * 8))
        assert len(set(secrets)) == 1 and secrets[0] == load_or_create_secret(secret).hex()
        assert len(set(key_ids)) == 1 and key_ids[0] == load_or_create(signing).key_id
        for path in (secret, signing):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"secret-{n}.key" for n in range(3)] + [f"signing-{n}.key" for n in range(3)])  # no temporary left
