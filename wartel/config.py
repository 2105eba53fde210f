"""Settings: one object, read from ``WARTEL_*`` environment variables, passed explicitly everywhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be told. Tests build ``Settings(**overrides)``."""

    model_config = SettingsConfigDict(env_prefix="WARTEL_", extra="ignore")

    # Database. With no URL the service starts its own PostgreSQL under ``data_dir``.
    database_url: str | None = Field(
        default=None, description="Service role connection (INSERT/SELECT only on the audit log)."
    )
    migrate_database_url: str | None = Field(
        default=None, description="Owner role connection used for migrations; defaults to database_url."
    )
    data_dir: Path = Path(".wartel")
    db_pool_min: int = 2
    db_pool_max: int = 10
    # A request that cannot get a connection in this long answers 503 instead of queueing without bound.
    db_acquire_timeout_s: float = 5.0
    # Statement budgets per class of work (PostgreSQL statement_timeout, set per pool, so no round trip):
    # jobs and command-line pools; interactive requests (everything a user clicks); heavy requests (reports,
    # searches, link views, imports), which also get their own small pool so that a few of them can never
    # take the connections interactive requests need.
    db_statement_timeout_ms: int = 15_000
    request_statement_timeout_ms: int = Field(default=5_000, ge=100)
    heavy_statement_timeout_ms: int = Field(default=15_000, ge=100)
    heavy_pool_max: int = Field(default=2, ge=1, le=50)
    # A heavy request that finds every heavy connection busy this long answers 503 with Retry-After.
    heavy_acquire_timeout_s: float = 2.0

    # On a Patroni cluster (docs/operations.md): commits are expected to wait for a synchronous standby, so
    # /readyz reports "degraded" when they do not (the standbys are gone and writes have one copy).
    expect_synchronous_replication: bool = False

    host: str = "127.0.0.1"
    port: int = 8080
    # Serving processes on the one port (SO_REUSEPORT); 0: one per CPU core.
    workers: int = Field(default=1, ge=0, le=64)
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    secret_key_file: Path | None = Field(
        default=None, description="Key for session signing and keyed hashes; created under data_dir if unset."
    )
    signing_key_file: Path | None = Field(
        default=None, description="Ed25519 key for audit checkpoints; created under data_dir if unset."
    )
    # Witnesses of the audit log (docs/audit.md): JSON list of {"name", "url", "public_key" (hex) or
    # "public_key_file"}; each new checkpoint is submitted to each, and verification asks each what it holds.
    audit_witnesses: list[dict[str, str]] = Field(default_factory=list)
    demo: bool = True
    scheduler: bool = True
    cookie_secure: bool = False
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 10_485_760
    request_timeout_s: float = 30.0
    login_max_failures: int = 5
    login_window_s: int = 900
    session_ttl_s: int = 12 * 3600
    # How long a create's Idempotency-Key answers retries with the first response (then it is deleted).
    idempotency_key_ttl_h: int = Field(default=24, ge=1)
    default_language: Literal["id", "en"] = "id"

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.data_dir / "audit-signing.key"
