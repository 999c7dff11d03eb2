"""Simulator capacity: lookups/s and creates/s of the Crelate and Clockwork simulators with
0 / 5,000 / 20,000 stored records, so the volume benchmarks know they measure the engine.

    .venv/bin/python -m bench.simulators [--sizes 0,5000,20000] [--seconds 3] [--label after]

Each simulator runs alone in a child process (uvicorn, its own GIL), seeded straight into its
store with ``size`` records, each with a name and an email. A plain ``httpx.AsyncClient`` with
``--concurrency`` requests in flight then, for ``--seconds`` each:

- lookups: Crelate ``GET /contacts?emails=<stored address>``, Clockwork
  ``GET /people_search?q=<stored address>`` (a miss at 0 records);
- creates: Crelate ``POST /contacts`` (the duplicate check included), Clockwork
  ``POST /people`` then ``POST /people/{id}/email_addresses`` (the engine's create: 2 calls).

Creates add records as they go (a few hundred to a few thousand on top of ``size``).
Prints a table and writes bench/results/simulators.json, keeping other ``--label`` runs: run it
with ``PYTHONPATH`` pointing at an older checkout's ``src`` and ``--label before`` for the
figures from before. The machine is shared and small (2 cores: server and client each take
one): figures are noisy, compare orders of magnitude, not percents.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import multiprocessing
import platform
import random
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

console = Console()
RESULTS = Path(__file__).parent / "results" / "simulators.json"
CRELATE_KEY = "alicecrelatekey0000000000a"
CLOCKWORK_HEADERS = {
    "x-api-key": "acme-firm-service-key-0001",
    "authorization": "Token " + base64.b64encode(b"cw-alice-key:cw-alice-secret").decode(),
}


def stored_email(i: int) -> str:
    return f"seed{i}@stored.example.com"


def _serve(kind: str, size: int, port: int) -> None:
    """The child process: one simulator, ``size`` records seeded straight into its store."""
    import uvicorn

    if kind == "crelate":
        from outbound.simulators.crelate.app import create_crelate_app

        app: Any = create_crelate_app()
        store = app.state["store"]
        owner = store.users[0]
        for i in range(size):
            store.add_contact(
                {
                    "FirstName": f"Seed{i}",
                    "LastName": "Stored",
                    "EmailAddresses_Personal": {"Value": stored_email(i), "IsPrimary": True},
                },
                owner,
            )
    else:
        from outbound.simulators.clockwork.app import create_clockwork_app
        from outbound.simulators.clockwork.store import seed_firm
        from outbound.simulators.harness import save_state

        firm = seed_firm()
        owner = firm.users[0]
        for i in range(size):
            person = firm.add_person({"firstName": f"Seed{i}", "lastName": "Stored"}, owner)
            firm.add_email(person, stored_email(i), "work")
        # The Clockwork app takes a prepared firm only as a saved state (as the demo's).
        state_file = Path(tempfile.mkdtemp(prefix="bench-clockwork-")) / "firm.pickle"
        save_state(state_file, {"firm": firm, "seed": "standard"})
        app = create_clockwork_app(state_file=state_file)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _rate(
    client: httpx.AsyncClient,
    one: Callable[[httpx.AsyncClient, int], Any],
    seconds: float,
    concurrency: int,
) -> tuple[float, int]:
    """Completed operations per second, and how many failed."""
    counter = itertools.count()
    done = failed = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            ok = await one(client, next(counter))
            done += 1
            failed += 0 if ok else 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start), failed


async def _measure(
    kind: str, url: str, size: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    rng = random.Random(size)
    run = f"{time.time_ns() % 10**9}"

    def pick() -> str:
        return stored_email(rng.randrange(size)) if size else f"nobody{rng.random()}@x.example"

    if kind == "crelate":
        headers = {"x-api-key": CRELATE_KEY}

        async def lookup(c: httpx.AsyncClient, n: int) -> bool:
            r = await c.get("/api3/contacts", params={"emails": pick(), "limit": 10})
            return r.status_code == 200 and (not size or len(r.json()["Data"]) == 1)

        async def create(c: httpx.AsyncClient, n: int) -> bool:
            entity = {
                "FirstName": f"Bench{n}",
                "LastName": f"Create{run}",
                "EmailAddresses_Personal": {"Value": f"new{n}.{run}@created.example.com"},
            }
            r = await c.post("/api3/contacts", json={"entity": entity})
            return r.status_code == 201

    else:
        headers = CLOCKWORK_HEADERS

        async def lookup(c: httpx.AsyncClient, n: int) -> bool:
            r = await c.get("/v3.0/acme/people_search", params={"q": pick()})
            return r.status_code == 200 and (not size or r.json()["meta"]["total"] == 1)

        async def create(c: httpx.AsyncClient, n: int) -> bool:
            body = {"person": {"firstName": f"Bench{n}", "lastName": f"Create{run}"}}
            r = await c.post("/v3.0/acme/people", json=body)
            if r.status_code != 201:
                return False
            email = {"email": {"address": f"new{n}.{run}@created.example.com"}}
            r = await c.post(f"/v3.0/acme/people/{r.json()['id']}/email_addresses", json=email)
            return r.status_code == 201

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:
        await _rate(client, lookup, 0.5, concurrency)  # warm up
        lookups, lookup_failed = await _rate(client, lookup, seconds, concurrency)
        creates, create_failed = await _rate(client, create, seconds, concurrency)
    return {
        "lookups_per_second": round(lookups, 1),
        "creates_per_second": round(creates, 1),
        "failed": lookup_failed + create_failed,
    }


def run_one(kind: str, size: int, seconds: float, concurrency: int) -> dict[str, Any]:
    port = _free_port()
    child = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(kind, size, port), daemon=True
    )
    child.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            httpx.get(url + "/_admin/stats", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or not child.is_alive():
                raise RuntimeError(f"{kind} simulator did not start") from None
            time.sleep(0.1)
    try:
        result = asyncio.run(_measure(kind, url, size, seconds, concurrency))
        assert child.pid is not None
        result["server_rss_mb"] = round(_rss_mb(child.pid))
    finally:
        child.terminate()
        child.join(10)
    return {"simulator": kind, "stored": size, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,5000,20000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--label", default="after", help="results are kept per label")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for kind in ("crelate", "clockwork"):
        for size in sizes:
            with console.status(f"{kind}, {size:,} stored"):
                rows.append(run_one(kind, size, args.seconds, args.concurrency))
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved.setdefault("runs", {})[args.label] = {
        "python": platform.python_version(),
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "rows": rows,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=2) + "\n")

    table = Table(
        title=f"ATS simulators: requests a second ({args.concurrency} in flight, "
        f"{args.seconds:g} s each; shared 2-core machine: noisy)"
    )
    table.add_column("simulator", no_wrap=True)
    table.add_column("stored", justify="right")
    labels = list(saved["runs"])
    for label in labels:
        table.add_column(f"lookups/s\n{label}", justify="right")
        table.add_column(f"creates/s\n{label}", justify="right")
    table.add_column("RSS MB\n(last)", justify="right")
    table.add_column("failed", justify="right")
    by = {
        (label, r["simulator"], r["stored"]): r
        for label in labels
        for r in saved["runs"][label]["rows"]
    }
    for row in rows:
        cells = [row["simulator"], f"{row['stored']:,}"]
        for label in labels:
            other = by.get((label, row["simulator"], row["stored"]))
            cells += (
                [str(other["lookups_per_second"]), str(other["creates_per_second"])]
                if other
                else ["-", "-"]
            )
        table.add_row(*cells, str(row["server_rss_mb"]), str(row["failed"]))
    console.print(table)
    console.print(
        "Clockwork creates are the engine's create: POST /people + POST email_addresses. "
        f"Written to {RESULTS}"
    )


if __name__ == "__main__":
    main()
