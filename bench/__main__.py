"""All benchmarks in one command (about an hour on a 2-core machine):

    .venv/bin/python -m bench [--quick]

1. bench.run   — the simulator's capacity (bare httpx loop) and the engine against it: ratio,
                 calls per contact, fraction of the rate limit used, 429s.
2. bench.scale — 1k / 100k / 1M stored contacts (bulk add, resync selection, peak memory) and
                 event-to-ATS latency p50/p99.
3. bench.size  — chunked bulk work: a 10,000-contact add and a whole-sequence resync with
                 1k / 100k / 1M stored, how long each chunk holds the database, peak memory.
4. bench.planner_scale — one mail-planner round at 5,000 enrollments / 10,000 pending jobs.
5. bench.fleet — 1, 2 and 4 worker processes on PostgreSQL across 50 connections at 5 req/s
   each, 150 ms per ATS call.
6. bench.load  — p50 / p99 of the contacts API, the contacts page and sign-in, alone and while a
                 10,000-contact add, a resync of 100,000 stored contacts and the mail planner run
                 (the real server, SQLite).

Each prints its table and writes its JSON under bench/results/. --quick runs small sizes.
"""

from __future__ import annotations

import subprocess
import sys

FULL = [
    ["bench.run", "--contacts", "1000"],
    ["bench.scale"],
    ["bench.size", "--million"],
    ["bench.planner_scale"],
    ["bench.fleet"],
    ["bench.load"],
]
QUICK = [
    ["bench.run", "--contacts", "200"],
    ["bench.scale", "--sizes", "1000,10000", "--latency-seconds", "10"],
    ["bench.size", "--sizes", "1000,10000"],
    ["bench.planner_scale", "--enrollments", "1000"],
    ["bench.fleet", "--connections", "10", "--seconds", "20", "--workers", "1,2"],
    ["bench.load", "--contacts", "10000", "--baseline-seconds", "10", "--min-seconds", "20"],
]


def main() -> int:
    steps = QUICK if "--quick" in sys.argv[1:] else FULL
    for step in steps:
        print(f"== python -m {' '.join(step)}", flush=True)
        status = subprocess.run([sys.executable, "-m", *step]).returncode
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
