"""Medians over rounds, the printed table, the issue's targets and the JSON results file."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from bench.scenarios import Scenario
from bench.wrk import WrkResult

P99_TARGET_MS: Final = 25.0
LIST_RATIO_TARGET: Final = 0.70
CREATE_RATIO_TARGET: Final = 0.60
DEEP_TOLERANCE: Final = 0.15
NOT_MODIFIED_TIMES: Final = 3.0
"""How many times a full first page's throughput a 304 answer to the same request must reach."""
RSS_TARGET_MB: Final = 120.0
WORKERS_SCALING_TARGET: Final = 1.7
"""Two workers against one, in req/s, where the two have a core each (issue 17)."""
POOLER_RATIO_TARGET: Final = 0.80
"""The service through PgBouncer against the service direct, in req/s (issue 17)."""


@attrs.frozen(kw_only=True)
class Summary:
    """Medians of one app's rounds in one scenario, and the errors of all its rounds."""

    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    errors: int

    @classmethod
    def of(cls, runs: Sequence[WrkResult], expected: int) -> Summary:
        """The median round (errors are summed: one error anywhere counts)."""
        return cls(
            rps=statistics.median(r.rps for r in runs),
            p50_ms=statistics.median(r.p50_ms for r in runs),
            p99_ms=statistics.median(r.p99_ms for r in runs),
            cpu_us=statistics.median(r.cpu_us for r in runs),
            errors=sum(r.errors(expected) for r in runs),
        )


@attrs.define(kw_only=True)
class ScenarioResult:
    """Every round of one scenario on both apps, and the service's memory afterwards."""

    scenario: Scenario
    service_runs: list[WrkResult] = attrs.Factory(list)
    reference_runs: list[WrkResult] = attrs.Factory(list)
    service_rss_mb: float | None = None
    reference_rss_mb: float | None = None

    @property
    def service(self) -> Summary:
        """The service's medians."""
        return Summary.of(self.service_runs, self.scenario.expected)

    @property
    def reference(self) -> Summary:
        """The reference's medians."""
        return Summary.of(self.reference_runs, self.scenario.expected)

    @property
    def ratio(self) -> float:
        """Service req/s over reference req/s, medians of the same run."""
        return self.service.rps / self.reference.rps if self.reference.rps else 0.0

    @property
    def round_ratios(self) -> list[float]:
        """Service over reference req/s of each A B pair: their spread shows the machine's noise."""
        pairs = zip(self.service_runs, self.reference_runs, strict=False)
        return [s.rps / r.rps for s, r in pairs if r.rps]

    @property
    def spread(self) -> str:
        """The lowest and highest ratio of a round, as text."""
        ratios = self.round_ratios
        return f"rounds {min(ratios):.0%}-{max(ratios):.0%}" if ratios else "no rounds"

    @property
    def cpu_ratio(self) -> float:
        """Reference CPU per request over the service's: the same ratio, measured by CPU."""
        return self.reference.cpu_us / self.service.cpu_us if self.service.cpu_us else 0.0

    def as_json(self) -> dict[str, Any]:
        """Plain data for the results file."""
        expected = self.scenario.expected
        return {
            "key": self.scenario.key,
            "title": self.scenario.title,
            "against": self.scenario.baseline,
            "expected_status": expected,
            "service": attrs.asdict(self.service),
            "reference": attrs.asdict(self.reference),
            "ratio": round(self.ratio, 3),
            "cpu_ratio": round(self.cpu_ratio, 3),
            "round_ratios": [round(r, 3) for r in self.round_ratios],
            "service_rss_mb": self.service_rss_mb,
            "reference_rss_mb": self.reference_rss_mb,
            "service_rounds": [r.as_json(expected) for r in self.service_runs],
            "reference_rounds": [r.as_json(expected) for r in self.reference_runs],
        }


_HEADER: Final = (
    f"{'scenario':<33}{'svc req/s':>10}{'ref req/s':>10}{'ratio':>7}"
    f"{'svc p50':>9}{'svc p99':>9}{'ref p50':>9}{'ref p99':>9}"
    f"{'svc CPU':>9}{'ref CPU':>9}{'CPU ratio':>10}{'errors s/r':>12}{'RSS MB':>8}"
)
_UNITS: Final = (
    f"{'':<33}{'':>10}{'':>10}{'':>7}{'ms':>9}{'ms':>9}{'ms':>9}{'ms':>9}"
    f"{'us/req':>9}{'us/req':>9}{'':>10}{'':>12}{'':>8}"
)


def table(results: Sequence[ScenarioResult]) -> str:
    """One line per scenario: medians of the rounds."""
    lines = [_HEADER, _UNITS, "-" * len(_HEADER)]
    for result in results:
        s, r = result.service, result.reference
        rss = f"{result.service_rss_mb:.0f}" if result.service_rss_mb else "-"
        lines.append(
            f"{result.scenario.title:<33}{s.rps:>10.0f}{r.rps:>10.0f}{result.ratio:>7.0%}"
            f"{s.p50_ms:>9.1f}{s.p99_ms:>9.1f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
            f"{s.cpu_us:>9.0f}{r.cpu_us:>9.0f}{result.cpu_ratio:>10.0%}"
            f"{f'{s.errors}/{r.errors}':>12}{rss:>8}"
        )
    return "\n".join(lines)


@attrs.frozen(kw_only=True)
class Target:
    """One of the issue's targets and whether this run meets it."""

    name: str
    measured: str
    met: bool
    applies: bool = True
    """False where this machine cannot show it (too few cores): reported, not judged."""


def targets(results: Sequence[ScenarioResult]) -> list[Target]:
    """The issues' targets, for the scenarios this run measured."""
    by_key = {r.scenario.key: r for r in results}
    found: list[Target] = []
    for result in results:
        if result.scenario.page_of is not None:
            found += _list_targets(result, by_key.get(result.scenario.page_of))
    not_modified, first = by_key.get("list_not_modified"), by_key.get("list_first")
    if not_modified is not None and first is not None:
        found.append(_not_modified_target(not_modified, first))
    create = by_key.get("create")
    if create is not None:
        found.append(
            Target(
                name=f"create >= {CREATE_RATIO_TARGET:.0%} of reference",
                measured=(
                    f"{create.ratio:.0%} ({create.spread}; by CPU per request: "
                    f"{create.cpu_ratio:.0%})"
                ),
                met=create.ratio >= CREATE_RATIO_TARGET,
            )
        )
    errors = sum(r.service.errors for r in results)
    found.append(Target(name="no service errors", measured=str(errors), met=errors == 0))
    rss = max((r.service_rss_mb or 0.0) for r in results)
    found.append(
        Target(
            name=f"service RSS <= {RSS_TARGET_MB:.0f} MB",
            measured=f"{rss:.0f} MB",
            met=rss <= RSS_TARGET_MB,
        )
    )
    return found


def _not_modified_target(not_modified: ScenarioResult, first: ScenarioResult) -> Target:
    # Issue 16: a poll answered 304 costs a fraction of the page it saves.
    pairs = zip(not_modified.service_runs, first.service_runs, strict=False)
    times = [n.rps / f.rps for n, f in pairs if f.rps]
    median = statistics.median(times) if times else 0.0
    spread = f"rounds {min(times):.1f}x-{max(times):.1f}x" if times else "no rounds"
    return Target(
        name=f"{not_modified.scenario.title} >= {NOT_MODIFIED_TIMES:.0f}x {first.scenario.title}",
        measured=f"{median:.1f}x, round by round ({spread})",
        met=median >= NOT_MODIFIED_TIMES,
    )


def _list_targets(page: ScenarioResult, first: ScenarioResult | None) -> list[Target]:
    # Every list page (issues 7 and 15): a share of the reference, a p99; a page other than a
    # first one also within DEEP_TOLERANCE of its first page.
    title = page.scenario.title
    found = [
        Target(
            name=f"{title} >= {LIST_RATIO_TARGET:.0%} of reference",
            measured=(
                f"{page.ratio:.0%} ({page.spread}; by CPU per request: {page.cpu_ratio:.0%})"
            ),
            met=page.ratio >= LIST_RATIO_TARGET,
        ),
        Target(
            name=f"{title} p99 <= {P99_TARGET_MS:.0f} ms",
            measured=f"{page.service.p99_ms:.1f} ms",
            met=page.service.p99_ms <= P99_TARGET_MS,
        ),
    ]
    if first is None or first is page:
        return found
    # Each round's own share: rounds are minutes apart, and the machine's speed drifts.
    pairs = zip(page.service_runs, first.service_runs, strict=False)
    shares = [o.rps / f.rps for o, f in pairs if f.rps]
    share = statistics.median(shares) if shares else 0.0
    spread = f"rounds {min(shares):.0%}-{max(shares):.0%}" if shares else "no rounds"
    found.append(
        Target(
            name=f"{title} within {DEEP_TOLERANCE:.0%} of {first.scenario.title}",
            measured=f"{share:.0%} of its first page, round by round ({spread})",
            met=share >= 1 - DEEP_TOLERANCE,
        )
    )
    return found


def targets_text(found: Sequence[Target]) -> str:
    """The targets as lines of text."""
    return "\n".join(f"  [{_verdict(t)}] {t.name}: {t.measured}" for t in found)


def _verdict(target: Target) -> str:
    if not target.applies:
        return "n/a"
    return "met" if target.met else "MISSED"


def _versus_header(one: str, other: str) -> tuple[str, str]:
    header = (
        f"{'scenario':<33}{one + ' req/s':>10}{other + ' req/s':>10}{'ratio':>7}"
        f"{one + ' CPU':>9}{other + ' CPU':>9}{one + ' p99':>9}{other + ' p99':>9}"
        f"{f'errors {other[0]}/{one[0]}':>12}{other + ' RSS MB':>11}"
    )
    units = (
        f"{'':<33}{'':>10}{'':>10}{'':>7}{'us/req':>9}{'us/req':>9}{'ms':>9}{'ms':>9}"
        f"{'':>12}{'':>11}"
    )
    return header, units


def versus_table(results: Sequence[ScenarioResult], one: str, other: str) -> str:
    """One line per scenario of the service as `other` against the service as `one`."""
    header, units = _versus_header(one, other)
    lines = [header, units, "-" * len(header)]
    for result in results:
        many, base = result.service, result.reference
        rss = f"{result.service_rss_mb:.0f}" if result.service_rss_mb else "-"
        lines.append(
            f"{result.scenario.title:<33}{base.rps:>10.0f}{many.rps:>10.0f}{result.ratio:>6.2f}x"
            f"{base.cpu_us:>9.0f}{many.cpu_us:>9.0f}{base.p99_ms:>9.1f}{many.p99_ms:>9.1f}"
            f"{f'{many.errors}/{base.errors}':>12}{rss:>11}"
        )
    return "\n".join(lines)


def workers_table(results: Sequence[ScenarioResult]) -> str:
    """One line per scenario of several workers (Nw) against the one-worker service (1w)."""
    return versus_table(results, "1w", "Nw")


def pooler_table(results: Sequence[ScenarioResult]) -> str:
    """One line per scenario through PgBouncer (pgb) against the service direct (dir)."""
    return versus_table(results, "dir", "pgb")


def pooler_targets(results: Sequence[ScenarioResult]) -> list[Target]:
    """Through PgBouncer at 80 % of direct or more, and no errors."""
    found = [
        Target(
            name=f"{result.scenario.title} >= {POOLER_RATIO_TARGET:.0%} of direct",
            measured=(
                f"{result.ratio:.0%} ({result.spread}); CPU per request "
                f"{result.service.cpu_us:.0f} against {result.reference.cpu_us:.0f} us"
            ),
            met=result.ratio >= POOLER_RATIO_TARGET,
        )
        for result in results
    ]
    if results:
        errors = sum(r.service.errors for r in results)
        found.append(
            Target(name="no errors through PgBouncer", measured=str(errors), met=not errors)
        )
    return found


def worker_targets(results: Sequence[ScenarioResult], own_cores: int) -> list[Target]:
    """Several workers against one: the scaling target where they had a core each, and errors."""
    found = []
    for result in results:
        found.append(
            Target(
                name=f"{result.scenario.title} >= {WORKERS_SCALING_TARGET:g}x one worker",
                measured=(
                    f"{result.ratio:.2f}x ({result.spread}); CPU per request "
                    f"{result.service.cpu_us:.0f} against {result.reference.cpu_us:.0f} us; "
                    f"{own_cores} core(s) of their own"
                ),
                met=result.ratio >= WORKERS_SCALING_TARGET,
                applies=own_cores >= 2,
            )
        )
    if results:
        errors = sum(r.service.errors for r in results)
        found.append(Target(name="no errors with workers", measured=str(errors), met=errors == 0))
    return found


def write_json(
    path: Path,
    meta: dict[str, Any],
    results: Sequence[ScenarioResult],
    found: Sequence[Target],
) -> None:
    """The whole run as JSON (bench/results/ is git-ignored)."""
    body = {
        **meta,
        "scenarios": [r.as_json() for r in results],
        "targets": [attrs.asdict(t) for t in found],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2) + "\n")
