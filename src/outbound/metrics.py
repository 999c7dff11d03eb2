"""Prometheus metrics: what the worker does to each ATS, and the job table's backlog."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from outbound.store.db import Database
from outbound.store.models import SyncJob

REGISTRY = CollectorRegistry()
ATS_CALLS = Counter(
    "outbound_ats_calls_total",
    "ATS HTTP calls by provider and outcome",
    ["provider", "status"],
    registry=REGISTRY,
)
ATS_RATE_LIMITED = Counter(
    "outbound_ats_rate_limited_total", "429 answers from an ATS", ["provider"], registry=REGISTRY
)
ATS_LATENCY = Histogram(
    "outbound_ats_call_seconds",
    "ATS call latency",
    ["provider"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS = Gauge("outbound_sync_jobs", "Sync jobs by state", ["state"], registry=REGISTRY)


def record_call(provider: str, status: int | None, seconds: float) -> None:
    ATS_CALLS.labels(provider, str(status) if status is not None else "network_error").inc()
    ATS_LATENCY.labels(provider).observe(seconds)
    if status == 429:
        ATS_RATE_LIMITED.labels(provider).inc()


def render(db: Database) -> bytes:
    with db.session() as session:
        counts = dict(
            session.execute(select(SyncJob.status, func.count()).group_by(SyncJob.status)).all()
        )
    for state in ("pending", "running", "done", "failed", "cancelled"):
        JOBS.labels(state).set(counts.get(state, 0))
    return bytes(generate_latest(REGISTRY))
