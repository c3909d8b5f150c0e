"""Profiling a server under load with py-spy, and reading the profile as time per request."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from bench.servers import REPO, Server, pinned
from bench.wrk import WrkResult

Rules = tuple[tuple[str, tuple[str, ...]], ...]
"""(category, path fragments): a frame whose file contains a fragment is in the category."""

# A sample belongs to the first "owner" on its stack, counted from the root: everything an owner
# calls is its cost (the JSON parse inside the JWT check is auth, a ping inside the pool is pool).
OWNERS: Final[Rules] = (
    ("auth: JWT check (joserfc, adapters/auth)", ("/joserfc/", "/adapters/auth/", "/hmac.py")),
    ("logging (structlog, logging)", ("/structlog/", "/logging/")),
    ("metrics (prometheus_client)", ("/prometheus_client/", "/adapters/http/metrics.py")),
    ("SQLAlchemy pool (checkout, pre-ping, return)", ("/sqlalchemy/pool/",)),
    ("JSON render (envelope, orjson)", ("/adapters/http/envelope.py",)),
    ("cursor encode/decode", ("/taskservice/cursors.py",)),
)
# Otherwise it belongs to the innermost frame on the stack that matches one of these.
LAYERS: Final[Rules] = (
    ("SQLAlchemy statement build/compile/cache key", ("/sqlalchemy/sql/",)),
    ("SQLAlchemy's asyncpg adapter (dialect, cursor)", ("/sqlalchemy/dialects/",)),
    ("driver: asyncpg (protocol, statements, round trips)", ("/asyncpg/",)),
    ("SQLAlchemy execution + result processing", ("/sqlalchemy/engine/",)),
    (
        "SQLAlchemy async bridge (greenlet, AsyncConnection)",
        ("/sqlalchemy/ext/asyncio/", "/sqlalchemy/util/", "/greenlet/"),
    ),
    ("persistence adapter (row mapping, uow)", ("/adapters/persistence/",)),
    (
        "domain rules and objects (domain, attrs)",
        ("/domain/", "/attr/", "/attrs/", "<attrs generated"),
    ),
    ("use cases (services)", ("/taskservice/services/",)),
    ("HTTP adapter (handlers, parsing, representation)", ("/adapters/http/",)),
    ("middleware (ours, Starlette's)", ("/adapters/web/headers.py", "/starlette/middleware/")),
    ("routing (Starlette)", ("/starlette/routing.py", "/starlette/_exception_handler.py")),
    ("Starlette request/response", ("/starlette/",)),
    ("benchmark reference app", ("/bench/reference.py",)),
    ("HTTP server (uvicorn, httptools)", ("/uvicorn/", "/httptools/")),
    ("event loop (asyncio, uvloop)", ("/asyncio/", "/uvloop/")),
)
OTHER: Final = "other (stdlib, unmatched)"
NO_FRAME: Final = "no Python frame (C code between calls, or a torn sample)"
_PROJECT: Final = ("/adapters/", "/src/taskservice/", "/domain/", "/bench/reference.py")


class ProfileFailed(RuntimeError):
    """py-spy is missing or wrote no profile."""


def py_spy() -> str:
    """The py-spy command (the `bench` extra of pyproject.toml)."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise ProfileFailed(
            "py-spy is not installed: `make install` (requirements.lock holds the bench extra)"
        )
    return found


async def start_recording(
    server: Server, output: Path, *, seconds: float, rate: int, cpu: int | None
) -> asyncio.subprocess.Process:
    """py-spy sampling `server` (Python frames only) into a speedscope file, for `seconds`."""
    argv = [py_spy(), "record", "--pid", str(server.pid), "--duration", str(int(seconds))]
    argv += ["--rate", str(rate), "--format", "speedscope", "--output", str(output)]
    # Read the target's memory without stopping it: the server runs at full speed.
    argv += ["--nonblocking"]
    return await asyncio.create_subprocess_exec(
        *pinned(argv, cpu), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )


@attrs.frozen(kw_only=True)
class Frame:
    """One Python frame of the profile."""

    name: str
    file: str
    line: int

    @property
    def label(self) -> str:
        """`function (short/path.py:line)`."""
        return f"{self.name} ({_short(self.file)}:{self.line})"


def _short(file: str) -> str:
    for anchor in ("site-packages/", f"{REPO}/", "/lib/python3"):
        if anchor in file:
            return file.split(anchor, 1)[1]
    return file


@attrs.frozen(kw_only=True)
class ProfileSummary:
    """Where the server's CPU went, per request.

    py-spy samples wall time of a thread that is not idle, which on a shared machine includes
    time spent runnable but waiting for the core; so each category's share of the samples is
    applied to the CPU time the process really used (from /proc), not to the sampled time.
    """

    samples: int
    busy: float
    cpu: float
    requests: int
    seconds: float
    categories: list[tuple[str, float]]
    leaves: list[tuple[str, float]]
    project: list[tuple[str, float]]

    def per_request_us(self, sampled: float) -> float:
        """CPU microseconds per request that `sampled` seconds of samples stand for."""
        if not self.requests or not self.busy:
            return 0.0
        return sampled / self.busy * self.cpu / self.requests * 1e6

    def text(self, title: str) -> str:
        """A readable report."""
        lines = [
            title,
            f"  {self.requests} requests in {self.seconds:.1f} s "
            f"({self.requests / self.seconds:.0f} req/s under the profiler); "
            f"server CPU {self.cpu:.1f} s ({self.cpu / self.seconds:.0%} of a core), "
            f"{self.per_request_us(self.busy):.0f} us per request; "
            f"{self.samples} samples over {self.busy:.1f} s not idle",
            "",
            "  where the time goes (share of busy samples, us per request):",
        ]
        lines += [self._row(name, n) for name, n in self.categories]
        lines += ["", "  hottest functions (self time, innermost Python frame):"]
        lines += [self._row(name, n) for name, n in self.leaves]
        lines += ["", "  project code, inclusive (the frame anywhere on the stack):"]
        lines += [self._row(name, n) for name, n in self.project]
        return "\n".join(lines)

    def _row(self, name: str, seconds: float) -> str:
        share = seconds / self.busy if self.busy else 0.0
        return f"    {share:6.1%} {self.per_request_us(seconds):7.0f} us  {name}"

    def as_json(self) -> dict[str, Any]:
        """Plain data for the results file."""
        return {
            "samples": self.samples,
            "busy_seconds": round(self.busy, 3),
            "cpu_seconds": round(self.cpu, 3),
            "requests": self.requests,
            "seconds": self.seconds,
            "us_per_request": round(self.per_request_us(self.busy), 1),
            "categories": {n: round(self.per_request_us(s), 1) for n, s in self.categories},
            "leaves": {n: round(self.per_request_us(s), 1) for n, s in self.leaves},
            "project": {n: round(self.per_request_us(s), 1) for n, s in self.project},
        }


def categorize(stack: Sequence[Frame]) -> str:
    """The category of one sample, its stack given root first."""
    if not stack:
        return NO_FRAME
    for frame in stack:
        for name, markers in OWNERS:
            if any(m in frame.file for m in markers):
                return name
    for frame in reversed(stack):
        for name, markers in LAYERS:
            if any(m in frame.file for m in markers):
                return name
    return OTHER


def load_samples(path: Path) -> list[tuple[list[Frame], float]]:
    """(stack root first, seconds) of every sample in a py-spy speedscope file."""
    data = json.loads(path.read_text())
    frames = [
        Frame(name=f.get("name", "?"), file=f.get("file") or "", line=f.get("line") or 0)
        for f in data["shared"]["frames"]
    ]
    samples: list[tuple[list[Frame], float]] = []
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            samples.append(([frames[i] for i in stack], float(weight)))
    return samples


def summarize(path: Path, wrk: WrkResult, cpu: float, top: int = 25) -> ProfileSummary:
    """Group a profile's samples by category, innermost function and project function."""
    categories: defaultdict[str, float] = defaultdict(float)
    leaves: defaultdict[str, float] = defaultdict(float)
    project: defaultdict[str, float] = defaultdict(float)
    samples = load_samples(path)
    total = 0.0
    for stack, weight in samples:
        total += weight
        categories[categorize(stack)] += weight
        if stack:
            leaves[stack[-1].label] += weight
        mine = {f"{f.name} ({_short(f.file)})" for f in stack if _in_project(f.file)}
        for label in mine:
            project[label] += weight
    if not samples:
        raise ProfileFailed(f"{path} holds no samples: was the server busy?")
    return ProfileSummary(
        samples=len(samples),
        busy=total,
        cpu=cpu,
        requests=wrk.requests,
        seconds=wrk.seconds,
        categories=_most(categories),
        leaves=_most(leaves, top),
        project=_most(project, top),
    )


def _most(seconds: dict[str, float], top: int | None = None) -> list[tuple[str, float]]:
    return sorted(seconds.items(), key=lambda item: -item[1])[:top]


def _in_project(file: str) -> bool:
    return file.startswith(str(REPO)) and any(m in file for m in _PROJECT)
