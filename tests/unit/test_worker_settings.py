"""Worker processes in the settings (SPEC §9): how many, and what they must share."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskservice.settings import ConfigurationError, Settings

GOOD_SECRET = "s" * 32
REDIS = "redis://127.0.0.1:6379/0"


def load(tmp_path: Path, **env: str) -> Settings:
    return Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET, **env}, cwd=tmp_path)


def test_one_worker_unless_told_and_the_start_up_line_says_how_many(tmp_path: Path) -> None:
    assert load(tmp_path).web_concurrency == 1
    four = load(tmp_path, WEB_CONCURRENCY="4", RATE_LIMIT_STORAGE=REDIS)

    assert four.web_concurrency == 4
    assert four.summary()["web_concurrency"] == 4


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_worker_count_below_one_or_not_a_number_stops_start_up(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigurationError, match="WEB_CONCURRENCY"):
        load(tmp_path, WEB_CONCURRENCY=raw)


@pytest.mark.parametrize("storage", ["memory://", "async+memory://"])
def test_production_refuses_several_workers_counting_sign_ins_apart(
    tmp_path: Path, storage: str
) -> None:
    with pytest.raises(ConfigurationError, match="RATE_LIMIT_STORAGE to a Redis") as refused:
        load(tmp_path, ENV="production", WEB_CONCURRENCY="2", RATE_LIMIT_STORAGE=storage)
    assert "WEB_CONCURRENCY=2" in str(refused.value)


def test_production_runs_several_workers_on_a_shared_redis_or_one_on_memory(
    tmp_path: Path,
) -> None:
    shared = load(tmp_path, ENV="production", WEB_CONCURRENCY="2", RATE_LIMIT_STORAGE=REDIS)
    alone = load(tmp_path, ENV="production", WEB_CONCURRENCY="1")

    assert not shared.throttles_per_process
    assert not alone.throttles_per_process


def test_development_starts_several_workers_on_memory_and_knows_they_count_apart(
    tmp_path: Path,
) -> None:
    # The warning itself comes from `taskservice serve`, once, not from every worker's settings.
    assert load(tmp_path, WEB_CONCURRENCY="3").throttles_per_process


def test_workers_share_the_metrics_directory_one_process_keeps_none(tmp_path: Path) -> None:
    directory = str(tmp_path / "metrics")
    several = load(tmp_path, WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=directory)
    one = load(tmp_path, PROMETHEUS_MULTIPROC_DIR=directory)

    assert several.shared_metrics_dir == Path(directory)
    assert one.shared_metrics_dir is None
