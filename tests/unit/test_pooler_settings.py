"""Transaction poolers in the settings and URLs (SPEC §9): told apart, and the direct URL's uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.persistence import async_database_url, endpoints, transaction_pooler
from adapters.persistence.engine import Transactions
from taskservice.settings import DB_POOLERS, ConfigurationError, Settings, database_settings

GOOD_SECRET = "s" * 32
NEON_POOLED = (
    "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname"
    "?sslmode=require&channel_binding=require"
)
NEON_DIRECT = NEON_POOLED.replace("-pooler", "")
PLAIN = "postgresql://u@db.example.com:5432/tasks"


@pytest.mark.parametrize(
    ("url", "pooled"),
    [
        (NEON_POOLED, True),
        (NEON_POOLED.replace("ep-cool", "EP-COOL").replace("-pooler", "-POOLER"), True),
        (NEON_DIRECT, False),
        (PLAIN, False),
        (f"{PLAIN}?pgbouncer=true", True),
        (f"{PLAIN}?sslmode=require&pgbouncer=true", True),
        (f"{PLAIN}?pgbouncer=false", False),
        (f"{NEON_POOLED}&pgbouncer=false", True),  # the host says so all the same
        # Only the first label names Neon's pooled endpoint.
        ("postgresql://u@db.my-pooler.example.com/tasks", False),
        ("postgresql://u@pooler.example.com/tasks", False),
        ("postgres://u@abc-pooler/tasks", True),
        ("sqlite:///data/tasks-pooler.db", False),
    ],
)
def test_a_transaction_pooler_is_told_by_its_host_or_pgbouncer_true(url: str, pooled: bool) -> None:
    assert transaction_pooler(url) is pooled


def test_the_pooler_hint_never_reaches_the_driver() -> None:
    url, connect_args = async_database_url(f"{PLAIN}?sslmode=require&pgbouncer=true")
    assert url.render_as_string() == "postgresql+asyncpg://u@db.example.com:5432/tasks"
    assert connect_args == {"ssl": "require"}


@pytest.mark.parametrize("value", ["yes", "1", "TRUE"])
def test_a_pooler_hint_other_than_true_or_false_is_refused(value: str) -> None:
    with pytest.raises(
        ValueError, match=f"Unsupported pgbouncer '{value}'; use one of true, false"
    ):
        async_database_url(f"{PLAIN}?pgbouncer={value}")
    with pytest.raises(ValueError, match="DATABASE_URL: Unsupported pgbouncer"):
        endpoints(f"{PLAIN}?pgbouncer={value}")


def test_db_pooler_decides_over_the_url() -> None:
    assert endpoints(PLAIN, pooler=True).pooled
    assert not endpoints(NEON_POOLED, pooler=False).pooled
    assert endpoints(NEON_POOLED).pooled
    assert not endpoints(PLAIN).pooled


def test_migrations_and_sessions_take_the_direct_url_else_the_servers_own() -> None:
    pooled_alone = endpoints(NEON_POOLED)
    both = endpoints(NEON_POOLED, direct_url=NEON_DIRECT)
    direct_alone = endpoints(PLAIN)

    assert pooled_alone.migrations == (NEON_POOLED, True)
    assert pooled_alone.session_url is None  # no LISTEN through a transaction pooler
    assert both.migrations == (NEON_DIRECT, False)
    assert both.session_url == NEON_DIRECT
    assert direct_alone.migrations == (PLAIN, False)
    assert direct_alone.session_url == PLAIN


@pytest.mark.parametrize(
    ("url", "direct_url", "pooler", "message"),
    [
        ("sqlite:///x.db", None, True, "DB_POOLER=transaction needs a PostgreSQL DATABASE_URL"),
        ("sqlite:///x.db", PLAIN, None, "both must be postgresql://"),
        (NEON_POOLED, "sqlite:///x.db", None, "both must be postgresql://"),
        (NEON_POOLED, NEON_POOLED, None, "DATABASE_DIRECT_URL goes through a transaction pooler"),
        (PLAIN, f"{PLAIN}?pgbouncer=true", True, "on Neon: without -pooler"),
        (NEON_POOLED, f"{PLAIN}?sslmode=nope", None, "DATABASE_DIRECT_URL: Unsupported sslmode"),
    ],
)
def test_combinations_that_cannot_work_are_explained(
    url: str, direct_url: str | None, pooler: bool | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        endpoints(url, direct_url=direct_url, pooler=pooler)


def test_through_a_pooler_each_transaction_carries_the_settings() -> None:
    pooled = Transactions.through_pooler(2500)
    assert pooled.pooled
    assert pooled.read == "BEGIN READ ONLY; SET LOCAL statement_timeout = 2500"
    assert pooled.write == "BEGIN READ WRITE; SET LOCAL statement_timeout = 2500"
    direct = Transactions.direct()
    assert not direct.pooled
    assert (direct.read, direct.write) == (None, "BEGIN READ WRITE")


def test_statements_are_named_directly_and_through_a_pooler_only_that_keeps_them() -> None:
    assert Transactions.direct().named
    assert not Transactions.through_pooler(2500).named
    keeping = Transactions.through_pooler(2500, prepares=True)
    assert keeping.named
    assert keeping.write == Transactions.through_pooler(2500).write


@pytest.mark.parametrize(
    ("raw", "value"), [(None, False), ("", False), ("true", True), ("on", True), ("false", False)]
)
def test_db_pooler_prepared_statements_is_a_flag_off_by_default(
    tmp_path: Path, raw: str | None, value: bool
) -> None:
    env = {} if raw is None else {"DB_POOLER_PREPARED_STATEMENTS": raw}
    settings = load(tmp_path, **env)
    assert settings.db_pooler_prepared_statements is value
    assert settings.summary()["db_pooler_prepared_statements"] is value


def test_a_db_pooler_prepared_statements_other_than_a_flag_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DB_POOLER_PREPARED_STATEMENTS must be true"):
        load(tmp_path, DB_POOLER_PREPARED_STATEMENTS="sometimes")


def load(tmp_path: Path, **env: str) -> Settings:
    return Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET, **env}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("raw", "value", "answer"),
    [
        (None, None, None),
        ("", None, None),
        ("transaction", "transaction", True),
        (" Transaction ", "transaction", True),
        ("none", "none", False),
    ],
)
def test_db_pooler_is_none_transaction_or_unset(
    tmp_path: Path, raw: str | None, value: str | None, answer: bool | None
) -> None:
    settings = load(tmp_path, **({} if raw is None else {"DB_POOLER": raw}))
    assert settings.db_pooler == value
    assert settings.transaction_pooler is answer
    assert settings.summary()["db_pooler"] == (value or "from DATABASE_URL")


@pytest.mark.parametrize("raw", ["session", "pgbouncer", "true", "statement"])
def test_any_other_db_pooler_stops_start_up(tmp_path: Path, raw: str) -> None:
    with pytest.raises(
        ConfigurationError, match="DB_POOLER must be none or transaction"
    ) as refused:
        load(tmp_path, DB_POOLER=raw)
    assert repr(raw) in str(refused.value)
    assert DB_POOLERS == ("none", "transaction")


def test_the_direct_url_is_read_and_kept_out_of_the_start_up_line(tmp_path: Path) -> None:
    settings = load(tmp_path, DATABASE_URL=NEON_POOLED, DATABASE_DIRECT_URL=f" {NEON_DIRECT} ")

    assert settings.database_direct_url == NEON_DIRECT
    summary = settings.summary()
    assert summary["database_direct"] == {
        "backend": "postgresql",
        "host": "ep-cool-darkness-123456.us-east-2.aws.neon.tech",
        "port": None,
        "database": "dbname",
    }
    assert "AbC123dEf" not in str(summary)
    assert load(tmp_path, DATABASE_DIRECT_URL="").database_direct_url is None


def test_alembic_reads_the_database_settings_as_the_service_does(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={NEON_POOLED}\nDB_POOLER=none\n")
    environ = {"DATABASE_DIRECT_URL": NEON_DIRECT, "DB_POOLER": "transaction"}
    settings = Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET, **environ}, cwd=tmp_path)

    assert database_settings(environ, cwd=tmp_path) == (NEON_POOLED, NEON_DIRECT, True)
    assert (settings.database_url, settings.database_direct_url) == (NEON_POOLED, NEON_DIRECT)
    assert settings.transaction_pooler is True
    data = tmp_path / "elsewhere"
    assert database_settings({"DATA_DIR": str(data)}, cwd=tmp_path / "no-env")[0] == (
        f"sqlite:///{data / 'tasks.db'}"
    )
    with pytest.raises(ConfigurationError, match="DB_POOLER"):
        database_settings({"DB_POOLER": "session"}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        ("serve", {"DB_POOLER": "session"}, "DB_POOLER must be none or transaction"),
        (
            "migrate",
            {"DB_POOLER": "transaction"},
            "DB_POOLER=transaction needs a PostgreSQL DATABASE_URL",
        ),
        (
            "migrate",
            {"DATABASE_URL": NEON_POOLED, "DATABASE_DIRECT_URL": NEON_POOLED},
            "DATABASE_DIRECT_URL goes through a transaction pooler",
        ),
    ],
)
def test_the_commands_stop_with_the_reason(
    tmp_path: Path, command: str, env: dict[str, str], message: str
) -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "taskservice.cli", command],
        cwd=tmp_path,
        env={"DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"taskservice: configuration error: {message}")
    assert "AbC123dEf" not in done.stderr + done.stdout
