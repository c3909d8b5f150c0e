"""Schemathesis against the live app on PostgreSQL: every operation, every check, a fixed seed.

The app runs in process (schemathesis calls it over ASGI on an event loop of its own), with a
valid bearer token for the path's user. The run must find no server error, no response that
breaks the document, and nothing any other check flags.
"""

from __future__ import annotations

import collections
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi as schemathesis_asgi

from taskservice.bootstrap import build_app
from tests.e2e.conftest import settings_for
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

SEED = 20301
EXAMPLES_PER_OPERATION = 30
USER = f"schemathesis-{uuid.uuid4().hex[:8]}"
USER_ID_MAX = 255
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,255}", re.ASCII)
# Positive data may still meet a state the schema cannot predict: 404 for a task id that does
# not exist, 412 for an If-Match naming another version, 409 for a key still in flight.
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
_SERVER_ERROR = "not_a_server_error"
_SCHEMA_CHECKS = frozenset(
    {"response_schema_conformance", "response_headers_conformance", "status_code_conformance"}
)


@attrs.frozen(kw_only=True)
class Finding:
    """One failed check: which, where, what, and the request that shows it."""

    check: str
    operation: str
    title: str
    message: str
    request: str

    def __str__(self) -> str:
        return f"{self.check} on {self.operation}: {self.title}\n{self.message}\n{self.request}"


@attrs.frozen(kw_only=True)
class Run:
    """What a schemathesis run did and found."""

    cases: int
    checks: collections.Counter[str]
    operations: frozenset[str]
    findings: list[Finding]
    seconds: float


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "mode": "all",
                "database": "none",
                "allow-x00": True,
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED}},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True},
            },
        }
    )


def _as_a_client_would(context: Any, case: Any, kwargs: Any) -> None:
    """Send what a real client sends where the schema cannot say it.

    The path's user is the token's user (a valid user id of someone else is a 403 that would
    hide every other rule). In positive cases an Idempotency-Key is made unique (a client never
    reuses one for another body), a made-up cursor is left out (cursors are opaque: only
    `meta.next_cursor` or the `Link` is one), and of two names for one thing that the plain
    style reads (`q` and `search`, `status` and `completed`, a `-` and `order`) only the first
    is sent, as the document says. Negative cases keep whatever broken value they carry.
    """
    path = case.path_parameters or {}
    if "user_id" in path and 1 <= len(str(path["user_id"])) <= USER_ID_MAX:
        path["user_id"] = USER
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if key is not None and _KEY.fullmatch(str(key)):
        headers["Idempotency-Key"] = f"{str(key)[:200]}-{uuid.uuid4().hex}"
    query = case.query or {}
    query.pop("cursor", None)
    for first, second in (("q", "search"), ("status", "completed")):
        if first in query:
            query.pop(second, None)
    if str(query.get("sort", "")).startswith("-"):
        query.pop("order", None)


@contextmanager
def _client_hook() -> Iterator[None]:
    hook = schemathesis.hook("before_call")(_as_a_client_would)
    try:
        yield
    finally:
        schemathesis.hooks.unregister(hook)


def _findings(event: events.ScenarioFinished) -> Iterator[Finding]:
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                yield Finding(
                    check=check.name,
                    operation=event.recorder.label,
                    title=failure.title,
                    message=failure.message or "",
                    request=check.failure_info.code_sample,
                )


def _run(schema: Any) -> Run:
    started = time.perf_counter()
    cases = 0
    checks: collections.Counter[str] = collections.Counter()
    operations: set[str] = set()
    findings: list[Finding] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            operations.add(event.recorder.label)
            checks.update(c.name for cs in event.recorder.checks.values() for c in cs)
            findings += _findings(event)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            pytest.fail(f"schemathesis could not test: {event}")
    return Run(
        cases=cases,
        checks=checks,
        operations=frozenset(operations),
        findings=findings,
        seconds=time.perf_counter() - started,
    )


@pytest.fixture(scope="module")
def run(
    migrated_postgres_url: str, tmp_path_factory: pytest.TempPathFactory, api_style: str
) -> Iterator[Run]:
    """One schemathesis run over the whole API in one style, shared by the assertions below."""
    data: Path = tmp_path_factory.mktemp("schemathesis")
    app = build_app(settings_for(migrated_postgres_url, data, api_style=api_style))
    # Issued an hour ago: too old to erase the account (DELETE /api/auth/me answers 403), which
    # would take the run's own tasks with it.
    now = int(time.time())
    token = hs256(USER, iat=now - 3600, exp=now + 3600)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(token))
    try:
        with _client_hook():
            result = _run(schema)
        print(
            f"\nschemathesis ({api_style}): {result.cases} cases, "
            f"{sum(result.checks.values())} checks, "
            f"{len(result.findings)} findings in {result.seconds:.1f} s"
        )
        yield result
    finally:
        # Stops the app's lifespan (and with it the pool) before the database is dropped.
        schemathesis_asgi.shutdown_lifespans()


def _report(findings: list[Finding]) -> str:
    return "\n\n".join(str(f) for f in findings)


def test_no_server_errors(run: Run) -> None:
    errors = [f for f in run.findings if f.check == _SERVER_ERROR]
    assert not errors, _report(errors)


def test_no_responses_that_break_the_document(run: Run) -> None:
    violations = [f for f in run.findings if f.check in _SCHEMA_CHECKS]
    assert not violations, _report(violations)


def test_no_other_check_fails(run: Run) -> None:
    assert not run.findings, _report(run.findings)


def test_every_operation_and_check_ran(run: Run) -> None:
    assert len(run.operations) >= 12, sorted(run.operations)
    for check in (_SERVER_ERROR, *_SCHEMA_CHECKS, "negative_data_rejection", "ignored_auth"):
        assert run.checks[check] > 100, (check, run.checks)
    assert run.cases > 1000
