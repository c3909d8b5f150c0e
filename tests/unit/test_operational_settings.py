"""Pool and timeout settings, and the start-up summary that must never show a secret."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from taskservice.settings import ConfigurationError, Settings

SECRET = "s" * 32


def test_timeouts_take_fractions_of_a_second(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "BETTER_AUTH_SECRET": SECRET,
            "DB_POOL_TIMEOUT": "0.5",
            "DB_CONNECT_TIMEOUT": "1.5",
            "SHUTDOWN_TIMEOUT": "7",
        },
        cwd=tmp_path,
    )

    assert (settings.pool_timeout, settings.connect_timeout, settings.shutdown_timeout) == (
        0.5,
        1.5,
        7.0,
    )


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_timeout_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="DB_CONNECT_TIMEOUT"):
        Settings.load({"BETTER_AUTH_SECRET": SECRET, "DB_CONNECT_TIMEOUT": value}, cwd=tmp_path)


def test_an_events_stream_lasts_an_hour_or_less_as_set(tmp_path: Path) -> None:
    assert Settings.load({"BETTER_AUTH_SECRET": SECRET}, cwd=tmp_path).events_lifetime == 3600
    shorter = Settings.load({"BETTER_AUTH_SECRET": SECRET, "EVENTS_LIFETIME": "90"}, cwd=tmp_path)
    assert shorter.events_lifetime == 90
    for value in ("3601", "0", "never"):
        with pytest.raises(ConfigurationError, match="EVENTS_LIFETIME"):
            Settings.load({"BETTER_AUTH_SECRET": SECRET, "EVENTS_LIFETIME": value}, cwd=tmp_path)


def test_the_summary_names_the_database_but_no_credentials(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "BETTER_AUTH_SECRET": SECRET,
            "DATABASE_URL": "postgresql://neondb_owner:npg_s3cr3t@ep-x.neon.tech/neondb?sslmode=require",
            "RATE_LIMIT_STORAGE": "redis://:r3dis@cache:6379/0",
            "METRICS_TOKEN": "scrape-m3trics",
        },
        cwd=tmp_path,
    )
    summary = settings.summary()
    text = orjson.dumps(summary).decode()

    assert summary["database"] == {
        "backend": "postgresql",
        "host": "ep-x.neon.tech",
        "port": None,
        "database": "neondb",
    }
    assert summary["metrics_token_set"] is True
    for secret in ("npg_s3cr3t", "neondb_owner", "r3dis", SECRET, "sslmode", "m3trics"):
        assert secret not in text
    assert "m3trics" not in repr(settings)
