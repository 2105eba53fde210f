"""Scheduled jobs (APScheduler, in process). Each run happens once across service processes.

Every job takes a PostgreSQL advisory lock named after it for the length of its run: a second process
whose scheduler fires at the same moment finds the lock taken and skips that run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from audit.detection.engine import incremental_job
from schedules import jobs as schedules_jobs
from wartel import audit_service
from wartel.config import Settings
from wartel.http import idempotency
from wartel.privacy import retention
from wartel.reports.archive import produce_monthly_reports

log = structlog.get_logger("wartel.jobs")

JobFunc = Callable[[asyncpg.Pool, Settings], Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    every_s: float
    jitter_s: int = 0


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"wartel-job:{name}".encode()).digest()[:8], "big", signed=True)


async def run_once(pool: asyncpg.Pool, settings: Settings, job: JobSpec, metrics: Any = None) -> bool:
    """Run ``job`` if no other process is running it now. Returns whether this process ran it."""
    async with pool.acquire() as lock_conn:
        got = await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(job.name))
        if not got:
            if metrics is not None:
                metrics.job_runs.labels(job.name, "skipped").inc()
            return False
        try:
            await job.func(pool, settings)
            if metrics is not None:
                metrics.job_runs.labels(job.name, "ok").inc()
            return True
        except Exception:
            log.exception("job failed", job=job.name)
            if metrics is not None:
                metrics.job_runs.labels(job.name, "error").inc()
            return True
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", lock_key(job.name))


def all_jobs() -> list[JobSpec]:
    """Every scheduled job of the service; each area adds its jobs here."""

    return [
        JobSpec(schedules_jobs.NO_SHOW_JOB, schedules_jobs.no_show_job, every_s=60, jitter_s=5),
        JobSpec(schedules_jobs.OVERDUE_JOB, schedules_jobs.overdue_call_job, every_s=15, jitter_s=2),
        JobSpec("audit_checkpoints", audit_service.checkpoint_job, every_s=audit_service.CHECKPOINT_EVERY_S,
                jitter_s=10),
        JobSpec("audit_verify", audit_service.verification_job, every_s=audit_service.VERIFY_EVERY_S, jitter_s=60),
        JobSpec("detection_incremental", incremental_job, every_s=2),
        JobSpec("monthly_compliance_report", produce_monthly_reports, every_s=3600, jitter_s=60),
        JobSpec(idempotency.JOB_NAME, idempotency.expiry_job, every_s=idempotency.EVERY_S, jitter_s=30),
        JobSpec(retention.JOB_NAME, retention.retention_job, every_s=retention.EVERY_S, jitter_s=60),
    ]


def start_scheduler(pool: asyncpg.Pool, settings: Settings, metrics: Any = None) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in all_jobs():
        scheduler.add_job(run_once, IntervalTrigger(seconds=job.every_s, jitter=job.jitter_s or None),
                          args=[pool, settings, job, metrics], id=job.name, name=job.name,
                          max_instances=1, coalesce=True, misfire_grace_time=30)
    scheduler.start()
    return scheduler
