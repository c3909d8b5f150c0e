"""`make bench`: the service against the reference app, alternating, and one table of medians.

    python -m bench                       # every scenario, 3 rounds of 5 s at 32 connections
    python -m bench --scenarios list_first,create --rounds 5 --seconds 10
    python -m bench --profile list_first  # py-spy on the service while wrk drives one scenario
    python -m bench --profile create --target reference
    python -m bench --scenarios list_first_workers,create_workers --service-cores 0,1
    python -m bench --scenarios list_first_pooler,create_pooler   # through PgBouncer

Everything it starts (a database, servers, wrk, py-spy) is stopped or dropped at the end, on
failure and on Ctrl-C too. Results go to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

import attrs

from bench import pooler, profiling, report, servers, tokens, wrk
from bench.database import BenchDatabase, Fixture, SeedError, admin_url, timed_setup
from bench.scenarios import (
    BY_KEY,
    REFERENCE,
    SCENARIOS,
    SERVICE,
    SERVICE_INFO,
    SERVICE_POOLER,
    SERVICE_WORKERS,
    WORKERS,
    ParityError,
    Scenario,
    Workload,
    differences,
)
from bench.seed import Plan

RESULTS: Final = Path(__file__).resolve().parent / "results"
EXPECTED_FAILURES: Final = (
    SeedError,
    pooler.PoolerFailed,
    servers.ServerFailed,
    wrk.WrkFailed,
    ParityError,
    profiling.ProfileFailed,
)


@attrs.frozen(kw_only=True)
class Options:
    """What the command line asked for."""

    scenarios: tuple[Scenario, ...]
    rounds: int
    warmup: float
    load: wrk.Load
    service_env: dict[str, str]
    profile: Scenario | None
    target: str
    rate: int
    server_cpu: int | None
    service_cores: tuple[int, ...] | None
    """Where the service with several workers runs; None: on `server_cpu`, as the others."""


@attrs.frozen(kw_only=True)
class Rig:
    """A seeded database and the running servers, for the length of one benchmark."""

    database: BenchDatabase
    fixture: Fixture
    workload: Workload
    servers: dict[str, servers.Server]
    server_cpu: int | None
    seed_seconds: float
    stamp: str
    pooler: pooler.Pooler | None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark or a profile; the exit code."""
    options = _options(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wrk.ensure_wrk()
    if any(s.of_pooler for s in (*options.scenarios, *filter(None, [options.profile]))):
        pooler.ensure_pgbouncer()
    try:
        return asyncio.run(_profile(options) if options.profile else _benchmark(options))
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped and the database dropped", file=sys.stderr)
        return 130
    except EXPECTED_FAILURES as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    keys = ",".join(s.key for s in SCENARIOS)
    parser.add_argument("--scenarios", default=keys, help=f"comma list (default: {keys})")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds per scenario")
    parser.add_argument(
        "--seconds", type=float, help="length of each run (default 5; 15 when profiling)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured run before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the service, e.g. DB_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument("--profile", metavar="SCENARIO", help="profile one scenario with py-spy")
    parser.add_argument("--target", choices=(SERVICE, REFERENCE), default=SERVICE)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--service-cores",
        metavar="LIST",
        help=f"cores for the {WORKERS}-worker service, e.g. 0,1 (default: the server core)",
    )
    args = parser.parse_args(argv)
    try:
        chosen = tuple(BY_KEY[k.strip()] for k in args.scenarios.split(",") if k.strip())
        profile = BY_KEY[args.profile] if args.profile else None
    except KeyError as exc:
        parser.error(f"unknown scenario {exc}; choose from {keys}")
    if profile is not None and profile.of_workers:
        parser.error("--profile follows one process; profile the one-worker scenarios instead")
    service_cores = _core_list(parser, args.service_cores)
    server_cpu, load_cpu = _cores(service_cores)
    seconds = args.seconds or (15.0 if profile else 5.0)
    return Options(
        scenarios=chosen,
        rounds=args.rounds,
        warmup=args.warmup,
        load=wrk.Load(connections=args.connections, seconds=seconds, cpu=load_cpu),
        service_env=dict(pair.split("=", 1) for pair in args.service_env),
        profile=profile,
        target=args.target,
        rate=args.rate,
        server_cpu=server_cpu,
        service_cores=service_cores,
    )


def _core_list(parser: argparse.ArgumentParser, raw: str | None) -> tuple[int, ...] | None:
    if raw is None:
        return None
    try:
        cores = tuple(int(core) for core in raw.split(","))
    except ValueError:
        parser.error(f"--service-cores takes core numbers such as 0,1, not {raw!r}")
    if not set(cores) <= os.sched_getaffinity(0):
        parser.error(
            f"--service-cores {raw}: this process may use cores {sorted(os.sched_getaffinity(0))}"
        )
    return cores


def _cores(service_cores: tuple[int, ...] | None = None) -> tuple[int | None, int | None]:
    """A core for the server and another for wrk; no pinning on a single-core machine.

    wrk keeps a core of its own beside the workers' cores when there is one left; on a machine
    with no third core it shares one with a worker, and the workers' numbers show that.
    """
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        print("bench: one core only: nothing is pinned and the numbers mean little")
        return None, None
    taken = {allowed[0], *(service_cores or ())}
    spare = [core for core in allowed if core not in taken]
    if not spare:
        print(f"bench: no core left for wrk beside {sorted(taken)}: it shares core {allowed[1]}")
    return allowed[0], spare[0] if spare else allowed[1]


@asynccontextmanager
async def _rig(options: Options, names: Iterable[str]) -> AsyncIterator[Rig]:
    """Database and servers up; everything stopped and dropped afterwards, whatever happens."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="taskservice-bench-"))
    database = BenchDatabase(admin_url())
    running: dict[str, servers.Server] = {}
    finished = False
    bouncers = AsyncExitStack()
    try:
        print(f"bench: seeding database {database.name} ...", flush=True)
        fixture, seed_seconds = await timed_setup(database, Plan.standard())
        print(f"bench: migrated and seeded 111,000 tasks in {seed_seconds:.1f} s", flush=True)
        secret = tokens.new_secret()
        in_front = None
        if SERVICE_POOLER in names:
            in_front = await bouncers.enter_async_context(pooler.started(database.url))
        running.update(_servers(options, names, database.url, secret, workdir, in_front=in_front))
        for server in running.values():
            server.start()
        for server in running.values():
            await server.wait_ready()
        workload = Workload(database, fixture, secret, workdir)
        yield Rig(
            database=database,
            fixture=fixture,
            workload=workload,
            servers=running,
            server_cpu=options.server_cpu,
            seed_seconds=seed_seconds,
            stamp=stamp,
            pooler=in_front,
        )
        finished = True
    finally:
        for server in running.values():
            server.stop()
        await bouncers.aclose()
        if not finished:
            _keep_logs(workdir, stamp)
        await database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def _servers(
    options: Options,
    names: Iterable[str],
    database_url: str,
    secret: str,
    workdir: Path,
    *,
    in_front: pooler.Pooler | None,
) -> dict[str, servers.Server]:
    cpu = options.server_cpu
    made: dict[str, servers.Server] = {}
    for name in sorted(set(names)):
        if name == SERVICE_POOLER:
            assert in_front is not None
            made[name] = servers.service(
                database_url=in_front.url,
                secret=secret,
                log_level="WARNING",
                workdir=workdir,
                cpu=cpu,
                name=name,
                extra_env={**in_front.service_env, **options.service_env},
            )
        elif name == REFERENCE:
            made[name] = servers.reference(
                database_url=database_url, secret=secret, workdir=workdir, cpu=cpu
            )
        elif name == SERVICE_WORKERS:
            made[name] = servers.service(
                database_url=database_url,
                secret=secret,
                log_level="WARNING",
                workdir=workdir,
                cpu=options.service_cores or cpu,
                name=name,
                extra_env={**options.service_env, "WEB_CONCURRENCY": str(WORKERS)},
            )
        else:
            made[name] = servers.service(
                database_url=database_url,
                secret=secret,
                log_level="INFO" if name == SERVICE_INFO else "WARNING",
                workdir=workdir,
                cpu=cpu,
                name=name,
                extra_env=options.service_env,
            )
    return made


def _keep_logs(workdir: Path, stamp: str) -> None:
    logs = list(workdir.glob("*.log"))
    if not logs:
        return
    target = RESULTS / f"{stamp}-failed"
    target.mkdir(parents=True, exist_ok=True)
    for log in logs:
        shutil.copy(log, target / log.name)
    print(f"bench: server logs kept in {target}", file=sys.stderr)


async def _benchmark(options: Options) -> int:
    started = time.monotonic()
    names = {*(s.service for s in options.scenarios), *(s.baseline for s in options.scenarios)}
    async with _rig(options, names) as rig:
        notes = await _prepare(rig, [s.key for s in options.scenarios])
        results = await _measure(rig, options)
        meta = await _meta(rig, options, notes)
    meta["total_seconds"] = round(time.monotonic() - started, 1)
    against_reference = [r for r in results if r.scenario.baseline == REFERENCE]
    of_workers = [r for r in results if r.scenario.of_workers]
    of_pooler = [r for r in results if r.scenario.of_pooler]
    found = report.targets(against_reference) if against_reference else []
    scaling = report.worker_targets(of_workers, _worker_cores(options))
    pooling = report.pooler_targets(of_pooler)
    path = RESULTS / f"{rig.stamp}.json"
    report.write_json(path, meta, results, [*found, *scaling, *pooling])
    print()
    print(_headline(meta))
    if against_reference:
        print(report.table(against_reference))
        print("\ntargets (issues 7 and 15):")
        print(report.targets_text(found))
    if of_workers:
        print(f"\n{WORKERS} workers against 1 ({_worker_cores_text(options)}):")
        print(report.workers_table(of_workers))
        print("\ntargets (issue 17):")
        print(report.targets_text(scaling))
    if of_pooler:
        print(f"\nthrough PgBouncer against direct ({_pooler_text(rig, options)}):")
        print(report.pooler_table(of_pooler))
        print("\ntargets (issue 17):")
        print(report.targets_text(pooling))
    print(f"\nbench: {path} ({meta['total_seconds']:.0f} s)")
    return 0


def _worker_cores(options: Options) -> int:
    """How many cores the workers had to themselves: wrk's core does not count."""
    cores = set(
        options.service_cores or ([] if options.server_cpu is None else [options.server_cpu])
    )
    return len(cores - {options.load.cpu}) if cores else os.cpu_count() or 1


def _worker_cores_text(options: Options) -> str:
    cores = options.service_cores or (options.server_cpu,)
    return (
        f"the {WORKERS}-worker service on core(s) {','.join(map(str, cores))}, "
        f"the 1-worker service on core {options.server_cpu}, wrk on core {options.load.cpu}"
    )


def _pooler_text(rig: Rig, options: Options) -> str:
    assert rig.pooler is not None
    return (
        f"PgBouncer {rig.pooler.version}, pool_mode=transaction, {rig.pooler.pool_size} server "
        f"connections, not pinned, as PostgreSQL; both services on core {options.server_cpu}; "
        f"PgBouncer's own CPU {rig.pooler.cpu_us_per_request():.0f} us per request through it"
    )


async def _prepare(rig: Rig, keys: list[str]) -> list[str]:
    """Check the answers against the seed and each other; fetch the deep cursors the scenarios
    `keys` need; note the stack."""
    answers = {}
    for name, server in rig.servers.items():
        answers[name] = await rig.workload.first_answers(name, server.url)
        await rig.workload.fetch_deep_cursors(name, server.url, keys)
    notes = []
    if SERVICE in answers and REFERENCE in answers:
        for problem in differences(answers[SERVICE], answers[REFERENCE]):
            notes.append(f"reference answers differ from the service's: {problem}")
    for name, server in rig.servers.items():
        missing = [lib for lib in ("uvloop", "httptools") if not server.loaded(lib)]
        if missing:
            notes.append(f"{name} runs without {' and '.join(missing)}")
    for note in notes:
        print(f"bench: WARNING: {note}")
    return notes


async def _measure(rig: Rig, options: Options) -> list[report.ScenarioResult]:
    """Warm every scenario up, then run round after round of every scenario in turn.

    Within a round each scenario alternates service and reference; taking the scenarios in
    turn, rather than one after the other, spreads the machine's drift over a run (its speed
    moved by a quarter within one scenario's minute) across all of them alike, which the
    comparisons between scenarios (deep cursor against first page) need.
    """
    results = [report.ScenarioResult(scenario=s) for s in options.scenarios]
    warm = attrs.evolve(options.load, seconds=options.warmup)
    for result in results:
        for server in _servers_of(rig, result.scenario):
            await _drive(rig, result.scenario, server, warm)
    for round_no in range(1, options.rounds + 1):
        for result in results:
            await _round(rig, result, options, round_no)
    return results


def _servers_of(rig: Rig, scenario: Scenario) -> tuple[servers.Server, servers.Server]:
    return rig.servers[scenario.service], rig.servers[scenario.baseline]


async def _round(rig: Rig, result: report.ScenarioResult, options: Options, round_no: int) -> None:
    """One A B pair of a scenario; the service's memory after it."""
    scenario = result.scenario
    service, reference = _servers_of(rig, scenario)
    counted = rig.pooler if scenario.of_pooler else None
    before = counted.cpu_seconds() if counted else 0.0
    a = await _drive(rig, scenario, service, options.load)
    if counted:
        counted.count(counted.cpu_seconds() - before, a.requests)
    b = await _drive(rig, scenario, reference, options.load)
    result.service_runs.append(a)
    result.reference_runs.append(b)
    result.service_rss_mb = round(service.rss_mb(), 1)
    result.reference_rss_mb = round(reference.rss_mb(), 1)
    first, second = scenario.sides
    print(
        f"  {scenario.title:<33} round {round_no}: {first} {a.rps:6.0f} req/s "
        f"p99 {a.p99_ms:6.1f} ms {a.cpu_us:5.0f} us/req err {a.errors(scenario.expected):<3}"
        f" | {second} {b.rps:6.0f} req/s p99 {b.p99_ms:6.1f} ms {b.cpu_us:5.0f} us/req "
        f"err {b.errors(scenario.expected)}",
        flush=True,
    )


async def _drive(
    rig: Rig, scenario: Scenario, server: servers.Server, load: wrk.Load
) -> wrk.WrkResult:
    args = await rig.workload.wrk_args(scenario, server.name, load.threads)
    cpu_before = server.cpu_seconds()
    result = await wrk.run(server.url, scenario.script, args, load)
    server.check_alive()
    return attrs.evolve(result, server_cpu_s=server.cpu_seconds() - cpu_before)


async def _meta(rig: Rig, options: Options, notes: list[str]) -> dict[str, Any]:
    """Where and how this ran, for the results file."""
    return {
        "started_at": rig.stamp,
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "postgres": await rig.database.server_version(),
            "wrk": _wrk_version(),
            "load_average": os.getloadavg(),
        },
        "config": {
            "connections": options.load.connections,
            "seconds_per_run": options.load.seconds,
            "warmup_seconds": options.warmup,
            "rounds": options.rounds,
            "server_cpu": rig.server_cpu,
            "service_cores": options.service_cores,
            "wrk_cpu": options.load.cpu,
            "service_env": options.service_env,
            "seed_seconds": round(rig.seed_seconds, 1),
            "pgbouncer": None
            if rig.pooler is None
            else {
                "version": rig.pooler.version,
                "pool_size": rig.pooler.pool_size,
                "cpu_us_per_request": round(rig.pooler.cpu_us_per_request(), 1),
            },
        },
        "notes": notes,
    }


def _headline(meta: dict[str, Any]) -> str:
    machine, config = meta["machine"], meta["config"]
    return (
        f"{machine['cpu']}, {machine['cores']} cores; server on core {config['server_cpu']}, "
        f"wrk on core {config['wrk_cpu']}; {config['connections']} connections, "
        f"{config['rounds']} rounds of {config['seconds_per_run']:g} s, medians.\n"
        "A shared machine: compare service and reference within this run, not across runs.\n"
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _wrk_version() -> str:
    output = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (output.stdout or output.stderr).splitlines()[0].strip()


async def _profile(options: Options) -> int:
    assert options.profile is not None
    scenario = options.profile
    name = scenario.service if options.target == SERVICE else REFERENCE
    async with _rig(options, [name]) as rig:
        server = rig.servers[name]
        await rig.workload.first_answers(name, server.url)
        await rig.workload.fetch_deep_cursors(name, server.url, [scenario.key])
        await _drive(rig, scenario, server, attrs.evolve(options.load, seconds=options.warmup))
        stem = RESULTS / f"{rig.stamp}-profile-{name}-{scenario.key}"
        summary = await _record(rig, scenario, server, options, stem)
    title = f"profile of {name}, scenario {scenario.title!r}"
    text = summary.text(title)
    stem.with_suffix(".txt").write_text(text + "\n")
    print(text)
    print(f"\nbench: {stem}.speedscope.json (open in speedscope) and {stem}.txt")
    return 0


async def _record(
    rig: Rig, scenario: Scenario, server: servers.Server, options: Options, stem: Path
) -> profiling.ProfileSummary:
    """py-spy on the server for the whole wrk run (a second longer; idle time is not sampled)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = Path(f"{stem}.speedscope.json")
    recorder = await profiling.start_recording(
        server, output, seconds=options.load.seconds + 1, rate=options.rate, cpu=options.load.cpu
    )
    try:
        await asyncio.sleep(0.3)  # let py-spy attach before the load starts
        result = await _drive(rig, scenario, server, options.load)
        out, _ = await recorder.communicate()
    finally:
        if recorder.returncode is None:
            recorder.kill()
            await recorder.wait()
    if recorder.returncode != 0:
        raise profiling.ProfileFailed(f"py-spy failed:\n{out.decode(errors='replace')}")
    return profiling.summarize(output, result, result.server_cpu_s)
