"""Prometheus metrics, one registry per application (tests run several apps in one process).

With several serving processes (``WARTEL_WORKERS``), each process writes its counts to files in one
directory (prometheus_client's multiprocess mode, switched on by :func:`share_between_processes` before any
metric exists) and ``/metrics`` adds them up across the processes, whichever one answers the scrape.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def share_between_processes(directory: Path) -> None:
    """Before the serving processes start: count in files under ``directory`` (emptied first: counts of an
    earlier run must not be added to this one's). Spawned processes inherit the setting."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[_DIR_VARIABLE] = str(directory)
    # prometheus_client picks the kind of value when it is imported; this process may have imported it.
    values.ValueClass = values.get_value_class()


def process_gone(pid: int) -> None:
    """A serving process ended: its pool gauges no longer count."""
    if os.environ.get(_DIR_VARIABLE):
        multiprocess.mark_process_dead(pid)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("wartel_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("wartel_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        # Across processes: each live process's pool, labelled by pid, as last seen by a scrape it answered.
        self.pool_size = Gauge("wartel_db_pool_size", "Connections in the pool", registry=self.registry,
                               multiprocess_mode="liveall")
        self.pool_idle = Gauge("wartel_db_pool_idle", "Idle connections in the pool", registry=self.registry,
                               multiprocess_mode="liveall")
        # 1 while commits wait for a synchronous standby, 0 while they do not (set at each scrape).
        self.synchronous_replication = Gauge("wartel_db_synchronous_replication",
                                             "Commits wait for a synchronous standby (1) or not (0)",
                                             registry=self.registry, multiprocess_mode="liveall")
        self.job_runs = Counter("wartel_job_runs_total", "Scheduled job runs", ["job", "outcome"],
                                registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        if os.environ.get(_DIR_VARIABLE):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
