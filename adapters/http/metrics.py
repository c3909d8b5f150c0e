"""Prometheus metrics: requests by route template and status, and database pool usage.

One process keeps them in memory. Several worker processes (`WEB_CONCURRENCY`) each write theirs
to files in a shared directory (prometheus-client's multiprocess mode), and whichever worker
answers `/metrics` adds them all up: counters and histograms of every worker that ever ran, the
pool gauge of the workers alive now.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hmac
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from domain.errors import InvalidToken

PoolStats = Callable[[], Mapping[str, float]]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_POOL_NAME: Final = "taskservice_db_pool_connections"
_POOL_HELP: Final = "Database pool connections by state."
PUBLISH_EVERY_S: Final = 1.0
"""How often a worker writes its pool gauge for the others to read (at most this stale)."""


class _PoolCollector(Collector):
    def __init__(self, stats: PoolStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(_POOL_NAME, _POOL_HELP, labels=["state"])
        for state, value in self._stats().items():
            gauge.add_metric([state], value)
        yield gauge


class Metrics:
    """The service's metrics in a registry of its own (one per app, so tests never collide).

    With `shared_dir` (several workers), the values go to that directory's files and the
    registry reads every worker's back; the pool gauge, which only its own worker can read off
    its pool, is written there by `publishing()` and summed over the workers alive.
    """

    def __init__(self, pool_stats: PoolStats | None = None, shared_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        # In multiprocess mode the metrics must not be in the registry that is exposed, or each
        # would be counted twice: once from memory, once from its file.
        own = self.registry if shared_dir is None else CollectorRegistry()
        self.requests = Counter(
            "taskservice_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "taskservice_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=own,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._pool_stats = pool_stats
        self._pool_gauge: Gauge | None = None
        if shared_dir is not None:
            _require_shared_values(shared_dir)
            WorkersCollector(self.registry, path=str(shared_dir))
            if pool_stats is not None:
                self._pool_gauge = Gauge(
                    _POOL_NAME, _POOL_HELP, ["state"], multiprocess_mode="livesum", registry=own
                )
        elif pool_stats is not None:
            self.registry.register(_PoolCollector(pool_stats))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            # labels() looks the child up under a lock on every call; route templates, methods
            # and statuses are few, so each child is looked up once.
            labels = (method, route, str(status))
            children = self._children[key] = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
            )
        count, latency = children
        count.inc()
        latency.observe(seconds)

    @contextlib.asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        """While the app runs: with several workers, this one's pool gauge, kept fresh."""
        if self._pool_gauge is None:
            yield
            return
        task = asyncio.create_task(self._publish_every(PUBLISH_EVERY_S))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def route(self, token: str | None = None) -> Route:
        """GET /metrics in the Prometheus text format; with `token`, for its bearer only."""
        expected = None if token is None else token.encode()

        async def metrics(request: Request) -> Response:
            if expected is not None:
                presented = parsing.bearer_token(request).encode()
                if not hmac.compare_digest(presented, expected):
                    raise InvalidToken()
            self._publish()
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return Route("/metrics", metrics, methods=["GET"])

    def _publish(self) -> None:
        if self._pool_gauge is None or self._pool_stats is None:
            return
        for state, value in self._pool_stats().items():
            self._pool_gauge.labels(state).set(value)

    async def _publish_every(self, seconds: float) -> None:
        while True:
            self._publish()
            await asyncio.sleep(seconds)


class WorkersCollector(multiprocess.MultiProcessCollector):
    """Every worker's values from the shared folder, leaving out files still empty.

    A worker creates its file before sizing it, so a scrape can meet it at 0 bytes; the
    library's reader then fails the whole scrape (a 500), and forever if the worker was killed in
    that moment (prometheus/client_python#1199). An empty file holds nothing to count.
    """

    def __init__(self, registry: CollectorRegistry, path: str) -> None:
        super().__init__(registry, path=path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        """The merged metrics of every file that has been sized."""
        files = [f for f in glob.glob(os.path.join(self._path, "*.db")) if _sized(f)]
        merged: Iterable[Metric] = self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        return merged


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # a dead worker's gauges, removed meanwhile
        return False


def forget_process(pid: int, shared_dir: Path) -> None:
    """Drop the gauges of a worker that has exited; its counts stay in the totals."""
    multiprocess.mark_process_dead(pid, str(shared_dir))  # type: ignore[no-untyped-call]


def _require_shared_values(shared_dir: Path) -> None:
    # prometheus-client chooses at import, from this variable, whether values live in memory or
    # in files; from memory, every worker would answer /metrics with its own counts alone.
    if values.ValueClass is values.MutexValue or os.environ.get("PROMETHEUS_MULTIPROC_DIR") != str(
        shared_dir
    ):
        raise RuntimeError(
            f"PROMETHEUS_MULTIPROC_DIR={shared_dir} must be in the environment before "
            "prometheus_client is imported; `taskservice serve` sets it for its workers"
        )
