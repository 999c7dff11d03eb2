"""Prometheus metrics: what each ATS call did, the job table's backlog, what retention pruned.

The counters need nothing but prometheus_client, so connectors record their calls here without
reaching the database; the backlog is read by whoever serves /metrics and handed to ``render``
(store/job_counts.py reads it without scanning the job table on every scrape).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
JOB_STATES = ("pending", "running", "done", "failed", "cancelled")
# Counted by whichever process prunes (service/retention.py): the worker, or `outbound prune`.
RETENTION_PRUNED = Counter(
    "outbound_retention_pruned_total",
    "Rows deleted by retention, by table",
    ["table"],
    registry=REGISTRY,
)


def record_call(provider: str, status: int | None, seconds: float) -> None:
    ATS_CALLS.labels(provider, str(status) if status is not None else "network_error").inc()
    ATS_LATENCY.labels(provider).observe(seconds)
    if status == 429:
        ATS_RATE_LIMITED.labels(provider).inc()


def render(jobs_by_status: Mapping[str, int]) -> bytes:
    """The exposition text, with the job gauge set from ``store.jobs.count_by_status``."""
    for state in JOB_STATES:
        JOBS.labels(state).set(jobs_by_status.get(state, 0))
    return bytes(generate_latest(REGISTRY))
