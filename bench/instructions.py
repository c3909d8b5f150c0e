"""`make bench-instructions`: instructions per request, service against reference, under callgrind.

    python -m bench.instructions                          # list_first,list_deep,get_one,create
    python -m bench.instructions --scenarios create --requests 500

Each app runs in its own process under `valgrind --tool=callgrind`, driven in-process through raw
ASGI calls (10 in flight) on a seeded database of its own; no HTTP server, so uvicorn's share,
the same for both, is left out (and no httpx ASGITransport, whose own work per request would
count for both apps and flatten the ratio). Instruction counts do not move with other tenants of the machine,
so this says reliably whether a change made the service do less; it does not say how fast that
runs (cache misses, greenlet stack switches and the like cost time at few instructions), which
only `make bench` measures. Needs valgrind and PostgreSQL as `make bench` does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import orjson
import uvloop

from bench import reference, seed, tokens
from bench.database import BenchDatabase, admin_url, timed_setup
from bench.scenarios import DEEP_AFTER, PAGE_FOR_PAGING
from bench.servers import REPO
from taskservice import asgi, logs

SCENARIOS: Final = ("list_first", "list_deep", "get_one", "create")
"""The default scenarios; LIST_SCENARIOS may be asked for as well."""
LIST_SCENARIOS: Final = ("lists_all_first", "lists_one_first")
"""Issue 15's: a page of all of bench-lists' 20 lists, and of one of them."""
NOT_MODIFIED: Final = "list_not_modified"
"""Issue 16's: the first page asked again with its ETag in If-None-Match (a 304)."""
IN_FLIGHT: Final = 10
WARMUP: Final = 100
CREATE_BODY: Final = (
    b'{"title":"Load test task","description":"Created by the benchmark.",'
    b'"priority":"medium","tags":["bench","load"]}'
)
# callgrind writes one profile part each time this C function (time.sleep) is entered, so
# a part holds exactly what ran between two markers.
MARKER: Final = "time_sleep"
TARGETS: Final = ("service", "reference")

Request = tuple[str, str, bytes, str]
"""(method, path, body, If-None-Match or "")."""


def main(argv: Sequence[str] | None = None) -> int:
    """Seed a database, run both apps under callgrind, print instructions per request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--requests", type=int, default=200, help="measured requests a scenario")
    parser.add_argument(
        "--child", nargs=3, metavar=("TARGET", "URL", "SECRET"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    known = (*SCENARIOS, *LIST_SCENARIOS, NOT_MODIFIED)
    unknown = set(scenarios) - set(known)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(known)}")
    if args.child:
        target, url, secret = args.child
        # uvloop, as the service is served.
        uvloop.run(_drive(target, url, secret, scenarios, args.requests))
        return 0
    if shutil.which("valgrind") is None:
        print("bench: valgrind is needed (apt-get install -y valgrind)", file=sys.stderr)
        return 1
    return asyncio.run(_measure(scenarios, args.requests))


async def _measure(scenarios: list[str], requests: int) -> int:
    database = BenchDatabase(admin_url())
    try:
        _, seconds = await timed_setup(database, seed.Plan.standard())
        print(f"bench: seeded {database.name} in {seconds:.1f} s; both apps under callgrind ...")
        secret = tokens.new_secret()
        with tempfile.TemporaryDirectory(prefix="bench-instr-") as workdir:
            counts = await asyncio.gather(
                *(
                    asyncio.to_thread(
                        _run_child,
                        target,
                        url=database.url,
                        secret=secret,
                        scenarios=scenarios,
                        requests=requests,
                        workdir=Path(workdir),
                    )
                    for target in TARGETS
                )
            )
    finally:
        await database.drop()
    service, reference = counts
    print(f"\ninstructions per request ({requests} requests a scenario, {IN_FLIGHT} in flight)")
    print(f"{'scenario':<12} {'service':>12} {'reference':>12} {'ratio':>7}")
    for name in scenarios:
        ratio = reference[name] / service[name]
        print(f"{name:<12} {service[name]:>12,.0f} {reference[name]:>12,.0f} {ratio:>7.0%}")
    return 0


def _run_child(
    target: str, *, url: str, secret: str, scenarios: list[str], requests: int, workdir: Path
) -> dict[str, float]:
    out = workdir / f"{target}.callgrind"
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        f"--dump-before={MARKER}",
    ]
    argv += [sys.executable, "-m", "bench.instructions", "--scenarios", ",".join(scenarios)]
    argv += ["--requests", str(requests), "--child", target, url, secret]
    # src first: a second checkout (a worktree of an older commit) measures its own code.
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{target} under callgrind failed:\n{done.stderr[-3000:]}")
    # Part 1 ends at the first marker (start-up and warm-up); part k+1 is scenario k.
    parts = [_instructions(Path(f"{out}.{i}")) for i in range(2, len(scenarios) + 2)]
    return {name: total / requests for name, total in zip(scenarios, parts, strict=True)}


def _instructions(part: Path) -> int:
    for line in part.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {part}")


async def _drive(target: str, url: str, secret: str, scenarios: list[str], requests: int) -> None:
    app = _app(target, url, secret)
    token = tokens.mint(secret, seed.USER_10K)
    lists_token = tokens.mint(secret, seed.USER_LISTS)
    async with app.router.lifespan_context(app):
        task_id = await _any_task_id(app, token)
        cursor = await _deep_cursor(app, token) if "list_deep" in scenarios else ""
        one_list = await _a_list_of(app, lists_token)
        tag = await _first_page_tag(app, token)
        plans = {name: _request(name, task_id, cursor, one_list, tag) for name in scenarios}
        who = {name: lists_token if name in LIST_SCENARIOS else token for name in scenarios}
        for name, request in plans.items():
            await _send_many(app, who[name], request, WARMUP)
        for name in scenarios:
            _end_part()
            await _send_many(app, who[name], plans[name], requests)
        _end_part()


def _end_part() -> None:
    # The MARKER: entering time.sleep makes callgrind write what ran since the last part.
    time.sleep(0)


def _app(target: str, url: str, secret: str) -> Any:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "BENCH_DATABASE_URL": url,
            "BETTER_AUTH_SECRET": secret,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": tempfile.mkdtemp(prefix="bench-instr-data-"),
        }
    )
    if target == "reference":
        return reference.create_app()
    logs.configure_logging("WARNING")
    return asgi.create_app()


def _request(name: str, task_id: int, cursor: str, one_list: int, tag: str) -> Request:
    base = f"/api/{seed.USER_10K}/tasks"
    lists = f"/api/{seed.USER_LISTS}/tasks"
    return {
        "list_first": ("GET", base, b"", ""),
        "list_deep": ("GET", f"{base}?cursor={cursor}", b"", ""),
        "get_one": ("GET", f"{base}/{task_id}", b"", ""),
        "create": ("POST", base, CREATE_BODY, ""),
        "lists_all_first": ("GET", lists, b"", ""),
        "lists_one_first": ("GET", f"{lists}?list={one_list}", b"", ""),
        NOT_MODIFIED: ("GET", base, b"", tag),
    }[name]


async def _first_page_tag(app: Any, token: str) -> str:
    """The ETag of the 10,000-task user's first page, which a 304 is asked with."""
    status, _, headers = await _exchange(
        app, token, ("GET", f"/api/{seed.USER_10K}/tasks", b"", "")
    )
    if status != 200 or b"etag" not in headers:
        raise RuntimeError(f"the first page answered {status} without an ETag")
    return headers[b"etag"].decode()


async def _a_list_of(app: Any, token: str) -> int:
    """The list of the newest of bench-lists' tasks."""
    status, body = await _call(app, token, ("GET", f"/api/{seed.USER_LISTS}/tasks", b"", ""))
    if status != 200:
        raise RuntimeError(f"the first page of {seed.USER_LISTS} answered {status}")
    return int(orjson.loads(body)["data"][0]["list_id"])


async def _any_task_id(app: Any, token: str) -> int:
    status, body = await _call(app, token, ("GET", f"/api/{seed.USER_10K}/tasks", b"", ""))
    if status != 200:
        raise RuntimeError(f"the first page answered {status}")
    return int(orjson.loads(body)["data"][0]["id"])


async def _deep_cursor(app: Any, token: str) -> str:
    """The app's own cursor after DEEP_AFTER tasks of the 10,000-task user, as make bench pages."""
    cursor, seen = "", 0
    while seen < DEEP_AFTER:
        after = f"&cursor={cursor}" if cursor else ""
        target = f"/api/{seed.USER_10K}/tasks?limit={PAGE_FOR_PAGING}{after}"
        status, body = await _call(app, token, ("GET", target, b"", ""))
        if status != 200:
            raise RuntimeError(f"paging answered {status}")
        page = orjson.loads(body)
        seen += len(page["data"])
        cursor = page["meta"]["next_cursor"]
    return str(cursor)


async def _send_many(app: Any, token: str, request: Request, count: int) -> None:
    async def worker(share: int) -> None:
        for _ in range(share):
            status, _ = await _call(app, token, request)
            if status not in (200, 201, 304):
                raise RuntimeError(f"{request[0]} {request[1]} answered {status}")

    shares = [count // IN_FLIGHT + (i < count % IN_FLIGHT) for i in range(IN_FLIGHT)]
    await asyncio.gather(*(worker(share) for share in shares))


async def _call(app: Any, token: str, request: Request) -> tuple[int, bytes]:
    status, body, _ = await _exchange(app, token, request)
    return status, body


async def _exchange(
    app: Any, token: str, request: Request
) -> tuple[int, bytes, dict[bytes, bytes]]:
    """One request through the app's ASGI interface: status, body and response headers."""
    method, target, body, tag = request
    path, _, query = target.partition("?")
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    if tag:
        headers.append((b"if-none-match", tag.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    status, chunks, answered = 0, [], {}
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # a finished request never asks again; a hang shows
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            answered.update(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks), answered


if __name__ == "__main__":
    sys.exit(main())
