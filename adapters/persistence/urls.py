"""Turning a database URL as people paste it into what SQLAlchemy's async drivers accept."""

from __future__ import annotations

from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_POSTGRES_SCHEMES: Final = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})
_SQLITE_SCHEMES: Final = frozenset({"sqlite", "sqlite+aiosqlite"})
_SSL_MODES: Final = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
# libpq options asyncpg has no equivalent for. channel_binding (SCRAM channel binding, which
# Neon prints) is dropped: asyncpg cannot do it, and the TLS requirement itself stays in sslmode.
_DROPPED_PARAMS: Final = ("channel_binding",)


def async_database_url(raw: str) -> tuple[URL, dict[str, object]]:
    """The async driver URL and the connect arguments for a PostgreSQL or SQLite URL."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ValueError(
            "The database URL is not a valid URL; expected postgresql://… or sqlite:///path"
        ) from None
    if url.drivername in _POSTGRES_SCHEMES:
        return _postgres(url)
    if url.drivername in _SQLITE_SCHEMES:
        return url.set(drivername="sqlite+aiosqlite"), {}
    raise ValueError(
        f"Unsupported database URL scheme {url.drivername!r}; "
        "use postgresql://… (or postgres://…) or sqlite:///path"
    )


def _postgres(url: URL) -> tuple[URL, dict[str, object]]:
    connect_args: dict[str, object] = {}
    sslmode = url.query.get("sslmode")
    if sslmode is not None:
        if not isinstance(sslmode, str) or sslmode not in _SSL_MODES:
            raise ValueError(
                f"Unsupported sslmode {sslmode!r}; use one of {', '.join(sorted(_SSL_MODES))}"
            )
        # asyncpg takes the libpq mode names as its `ssl` argument, not as `sslmode`.
        connect_args["ssl"] = sslmode
    url = url.difference_update_query(["sslmode", *_DROPPED_PARAMS])
    return url.set(drivername="postgresql+asyncpg"), connect_args
