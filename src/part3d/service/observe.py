"""Operations: Prometheus metrics (``/metrics``) and structured JSON logs."""

from __future__ import annotations

import json
import logging
import sys
import time

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "part3d_requests",
    "API requests by action and result code",
    ["action", "code"],
    registry=REGISTRY,
)
DURATION_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


class JobCollector:
    """Job figures read from the job records at scrape time (workers run in other processes)."""

    def __init__(self, store) -> None:
        self.store = store

    def collect(self):
        from part3d.service.store import jobs

        with self.store.engine.connect() as conn:
            counts = dict(
                conn.execute(
                    sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
                ).all()
            )
            rows = (
                conn.execute(
                    sa.select(jobs.c.finished_at - jobs.c.created_at).where(
                        jobs.c.finished_at.is_not(None), jobs.c.status == "DONE"
                    )
                )
                .scalars()
                .all()
            )
        by_status = GaugeMetricFamily("part3d_jobs", "Jobs by status", labels=["status"])
        for status in ("WAIT", "RUN", "DONE", "FAIL"):
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily("part3d_queue_length", "Jobs waiting", value=counts.get("WAIT", 0))
        try:
            from part3d.service.queue import huey

            pending = huey.pending_count()
        except Exception:  # noqa: BLE001 - the queue is down: /healthz says so
            pending = float("nan")
        yield GaugeMetricFamily(
            "part3d_queue_messages", "Messages in the shared queue", value=pending
        )
        machines, alive = self.store.live_workers(30.0)
        yield GaugeMetricFamily(
            "part3d_worker_machines", "Worker machines seen in the last 30 s", value=machines
        )
        yield GaugeMetricFamily(
            "part3d_workers", "Live worker processes on those machines", value=alive
        )
        buckets, total = [], 0.0
        for bound in DURATION_BUCKETS:
            buckets.append((str(bound), sum(1 for d in rows if d <= bound)))
            total = float(sum(rows))
        buckets.append(("+Inf", len(rows)))
        yield HistogramMetricFamily(
            "part3d_job_duration_seconds", "Submit to DONE", buckets=buckets, sum_value=total
        )


def metrics(store) -> bytes:
    if not getattr(REGISTRY, "_part3d_jobs", False):
        REGISTRY.register(JobCollector(store))
        REGISTRY._part3d_jobs = True
    return generate_latest(REGISTRY)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with RequestId and JobId when the record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id", "action", "code", "account", "seconds"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("part3d")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
