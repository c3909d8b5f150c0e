"""Database URLs as people paste them become async driver URLs and connect arguments."""

from __future__ import annotations

import pytest

from adapters.persistence import async_database_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@db.example.com/tasks", "postgresql+asyncpg://u:p@db.example.com/tasks"),
        (
            "postgresql://u:p@db.example.com:6543/tasks",
            "postgresql+asyncpg://u:p@db.example.com:6543/tasks",
        ),
        ("postgresql+asyncpg://u@localhost/tasks", "postgresql+asyncpg://u@localhost/tasks"),
        ("  postgresql://u@localhost/tasks\n", "postgresql+asyncpg://u@localhost/tasks"),
    ],
)
def test_postgres_urls_use_asyncpg(raw: str, expected: str) -> None:
    url, connect_args = async_database_url(raw)
    assert url.render_as_string(hide_password=False) == expected
    assert connect_args == {}


def test_a_neon_url_works_as_pasted() -> None:
    raw = (
        "postgresql://neondb_owner:npg_S3cr%40t@ep-cool-darkness-123456-pooler.eu-central-1"
        ".aws.neon.tech/neondb?sslmode=require&channel_binding=require"
    )
    url, connect_args = async_database_url(raw)
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "ep-cool-darkness-123456-pooler.eu-central-1.aws.neon.tech"
    assert (url.username, url.password, url.database) == ("neondb_owner", "npg_S3cr@t", "neondb")
    assert dict(url.query) == {}
    assert connect_args == {"ssl": "require"}


@pytest.mark.parametrize(
    "mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
)
def test_every_libpq_sslmode_becomes_the_asyncpg_ssl_argument(mode: str) -> None:
    url, connect_args = async_database_url(f"postgresql://h/db?sslmode={mode}")
    assert connect_args == {"ssl": mode}
    assert "sslmode" not in url.query


def test_other_query_parameters_are_kept() -> None:
    url, _ = async_database_url("postgresql://h/db?sslmode=require&prepared_statement_cache_size=0")
    assert dict(url.query) == {"prepared_statement_cache_size": "0"}


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("sqlite:///data/tasks.db", "data/tasks.db"),
        ("sqlite:////var/lib/tasks/tasks.db", "/var/lib/tasks/tasks.db"),
        ("sqlite+aiosqlite:///tasks.db", "tasks.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_use_aiosqlite(raw: str, path: str) -> None:
    url, connect_args = async_database_url(raw)
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", path)
    assert connect_args == {}


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not a url",
        "mysql://u:p@h/db",
        "postgresql+psycopg2://h/db",
        "http://example.com",
        "postgresql://h/db?sslmode=sometimes",
        "postgresql://h/db?sslmode=require&sslmode=disable",
    ],
)
def test_anything_else_is_a_clear_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)database URL|sslmode"):
        async_database_url(raw)


def test_errors_never_echo_the_password() -> None:
    with pytest.raises(ValueError, match="mysql") as error:
        async_database_url("mysql://user:hunter2-secret@h/db")
    assert "hunter2" not in str(error.value)
