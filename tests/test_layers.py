"""Packages that point one way (the project guide; issue 14), read from the import statements of
src/outbound with ``ast``: nothing is imported or run.

api, web, the CLI and the workers (sync/, mail/) call service; service enqueues through the store
and reaches the outside world only through adapters (connectors/, mailclients/); nothing below
imports api, web or a worker; web imports no api router; connectors reach no database.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

WORKERS = ("outbound.sync", "outbound.mail")
FRONT_DOORS = ("outbound.api", "outbound.web")
# Everything the front doors and the workers stand on.
BELOW = (
    "outbound.service",
    "outbound.store",
    "outbound.domain",
    "outbound.connectors",
    "outbound.mailclients",
    "outbound.metrics",
    "outbound.settings",
    "outbound.crypto",
    "outbound.http",
    "outbound.logs",
)
ADAPTERS = ("outbound.connectors", "outbound.mailclients")
DATABASE = ("outbound.store", "sqlalchemy", "alembic", "psycopg")
API_ROUTERS = "outbound.api.routes_"

# (importer, imported) -> why it is allowed for now. An entry the code no longer needs fails
# test_every_exception_is_still_needed: delete it then.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def _under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@cache
def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "outbound").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str:
    """An imported name of this tree, as the longest module that holds it."""
    modules = _modules()
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imported(module: str, path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file (function-level imports
    and ``if TYPE_CHECKING:`` blocks included): ours resolved to modules, others by top name."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                names.add(submodule if submodule in _modules() else base)
    return {_resolve(n) if _under(n, "outbound") else n.split(".")[0] for n in names}


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {m: frozenset(_imported(m, p)) for m, p in _modules().items()}


def _reach(start: str) -> dict[str, str]:
    """Every module ``start`` reaches through our modules, each with the one that imports it."""
    graph = _graph()
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        here = todo.pop()
        for there in graph.get(here, ()):
            if there not in seen and there != start:
                seen[there] = here
                todo.append(there)
    return seen


def _path(start: str, end: str, via: dict[str, str]) -> str:
    chain = [end]
    while chain[-1] != start and chain[-1] in via:
        chain.append(via[chain[-1]])
    return " -> ".join(reversed(chain))


def _arrows(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for module, imported in sorted(_graph().items()):
        if _under(module, *importers):
            for target in sorted(imported):
                if _under(target, *forbidden) and not _under(target, *importers):
                    yield module, target


def _unexcused(arrows: Iterator[tuple[str, str]]) -> list[str]:
    return [f"{a} imports {b}" for a, b in arrows if (a, b) not in EXCEPTIONS]


def test_the_walk_sees_the_tree() -> None:
    graph = _graph()
    assert "outbound.service.enrollments" in graph
    assert "outbound.store.jobs" in graph["outbound.service.enrollments"]
    assert "outbound.service.outreach" in graph["outbound.mail.outbox"]


def test_service_imports_no_worker_and_no_front_door() -> None:
    """Service enqueues through the store; the workers call service, not the other way."""
    assert _unexcused(_arrows(("outbound.service",), WORKERS + FRONT_DOORS)) == []


def test_nothing_below_imports_api_web_or_a_worker() -> None:
    assert _unexcused(_arrows(BELOW, WORKERS + FRONT_DOORS)) == []


@pytest.mark.parametrize("worker", WORKERS)
def test_a_worker_imports_no_front_door_and_not_the_other_worker(worker: str) -> None:
    others = tuple(w for w in WORKERS if w != worker)
    assert _unexcused(_arrows((worker,), FRONT_DOORS + others)) == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_reach_no_database_and_no_use_case(adapter: str) -> None:
    """Not even through another module (connectors once recorded metrics via store/db.py)."""
    found = []
    for module in _modules():
        if _under(module, adapter):
            via = _reach(module)
            for target in sorted(via):
                if _under(target, *DATABASE, "outbound.service", *WORKERS, *FRONT_DOORS):
                    found.append(_path(module, target, via))
    assert found == []


def test_web_imports_no_api_router() -> None:
    """Shared dependencies, input models and error helpers are fine; routers and the app are
    not: what both doors need from the ATS lives in service (service/ats_calls.py)."""
    arrows = _arrows(("outbound.web",), ("outbound.api",))
    routers = ((a, b) for a, b in arrows if b.startswith(API_ROUTERS) or b == "outbound.api.app")
    assert _unexcused(routers) == []


def test_an_api_router_imports_no_other_router() -> None:
    """What two routers share lives in deps, schemas, errors or service (call_ats did not)."""
    found = [
        f"{module} imports {target}"
        for module, imported in sorted(_graph().items())
        if module.startswith(API_ROUTERS)
        for target in sorted(imported)
        if target.startswith(API_ROUTERS)
    ]
    assert found == []


def test_api_routers_call_service_not_a_worker() -> None:
    """The app itself may start the embedded workers; a router calls use cases."""
    arrows = ((a, b) for a, b in _arrows(("outbound.api",), WORKERS) if a.startswith(API_ROUTERS))
    assert _unexcused(arrows) == []


def test_domain_is_pure_rules() -> None:
    found = [
        f"{module} imports {target}"
        for module, imported in sorted(_graph().items())
        if _under(module, "outbound.domain")
        for target in sorted(imported)
        if (_under(target, "outbound") and not _under(target, "outbound.domain"))
        or target in ("sqlalchemy", "httpx", "aiosmtplib", "imaplib", "smtplib")
    ]
    assert found == []


def test_simulators_stand_outside_the_product() -> None:
    """Fake ATSs and mail servers: they may share the Maildir adapter, nothing else of ours."""
    arrows = _arrows(("outbound.simulators",), ("outbound",))
    assert _unexcused((a, b) for a, b in arrows if not _under(b, "outbound.mailclients")) == []


def test_every_exception_is_still_needed() -> None:
    graph = _graph()
    stale = [
        f"{a} -> {b}: {why}" for (a, b), why in EXCEPTIONS.items() if b not in graph.get(a, ())
    ]
    assert stale == []
