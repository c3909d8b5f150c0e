"""Turning a database URL as people paste it into what SQLAlchemy's async drivers accept."""

from __future__ import annotations

import enum
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import attrs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_POSTGRES_SCHEMES: Final = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})
_SQLITE_SCHEMES: Final = frozenset({"sqlite", "sqlite+aiosqlite"})
_SSL_MODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_PLAINTEXT_MODES: Final = frozenset({"disable", "allow", "prefer"})
_CHANNEL_BINDINGS: Final = ("disable", "prefer", "require")
_SYSTEM_CAS: Final = "system"
"""libpq's `sslrootcert=system`: trust the system's certificate authorities."""
# The libpq TLS parameters this module turns into asyncpg's `ssl` argument. `ssl` is asyncpg's
# (and SQLAlchemy's documented) spelling of sslmode.
_TLS_PARAMS: Final = ("sslmode", "ssl", "channel_binding", "sslrootcert", "sslcert", "sslkey")
# A hint for clients (Prisma's spelling), never for the driver: the URL goes through PgBouncer.
_POOLER_PARAM: Final = "pgbouncer"
_POOLER_FLAGS: Final = ("true", "false")
# Neon's pooled endpoints: the host's first label ends so (ep-name-123456-pooler.region.neon.tech).
_POOLER_HOST_SUFFIX: Final = "-pooler"


class _Check(enum.Enum):
    """How much of the server's certificate is verified."""

    NOTHING = "nothing"
    CHAIN = "verify-ca"
    CHAIN_AND_HOST = "verify-full"


@attrs.frozen
class Endpoints:
    """Where the service's connections go, and which of them may pass a transaction pooler.

    `url` serves requests, through a transaction pooler if `pooled`; what needs a session of its
    own (migrations, LISTEN) goes to `direct_url` when there is one.
    """

    url: str
    pooled: bool
    direct_url: str | None = None

    @property
    def migrations(self) -> tuple[str, bool]:
        """The URL migrations run on, and whether a transaction pooler is on the way there."""
        # Alembic runs every step in one transaction, which a transaction pooler keeps on one
        # server connection; so without a direct URL migrations go through the pooler too.
        if self.direct_url is not None:
            return self.direct_url, False
        return self.url, self.pooled

    @property
    def session_url(self) -> str | None:
        """The URL for a connection held as long as the process (LISTEN): never a pooler's."""
        if self.direct_url is not None:
            return self.direct_url
        return None if self.pooled else self.url


def endpoints(url: str, *, direct_url: str | None = None, pooler: bool | None = None) -> Endpoints:
    """The service's endpoints from DATABASE_URL, DATABASE_DIRECT_URL and DB_POOLER's answer.

    `pooler` None: whatever the URL says (`transaction_pooler`). ValueError, naming the setting,
    for a combination that cannot work.
    """
    for name, raw in (("DATABASE_URL", url), ("DATABASE_DIRECT_URL", direct_url)):
        if raw:
            try:
                async_database_url(raw)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
    postgres = _is_postgres(_parsed(url))
    pooled = transaction_pooler(url) if pooler is None else pooler
    if pooled and not postgres:
        raise ValueError("DB_POOLER=transaction needs a PostgreSQL DATABASE_URL")
    if direct_url:
        if not (postgres and _is_postgres(_parsed(direct_url))):
            raise ValueError(
                "DATABASE_DIRECT_URL is the PostgreSQL server behind DATABASE_URL's pooler; "
                "both must be postgresql://… URLs"
            )
        if transaction_pooler(direct_url):
            raise ValueError(
                "DATABASE_DIRECT_URL goes through a transaction pooler (a -pooler host or "
                "pgbouncer=true); give the database's own host (on Neon: without -pooler)"
            )
    return Endpoints(url=url, pooled=pooled, direct_url=direct_url or None)


def transaction_pooler(raw: str) -> bool:
    """Whether a URL goes through a transaction pooler: Neon's `-pooler` hosts, `pgbouncer=true`."""
    url = _parsed(raw)
    if not _is_postgres(url):
        return False
    if _choice(url.query, _POOLER_PARAM, _POOLER_FLAGS) == "true":
        return True
    first_label = (url.host or "").split(".", 1)[0].lower()
    return first_label.endswith(_POOLER_HOST_SUFFIX)


def async_database_url(raw: str) -> tuple[URL, dict[str, object]]:
    """The async driver URL and the connect arguments for a PostgreSQL or SQLite URL.

    Certificate files the URL names are read here, so a bad one stops start-up.
    """
    url = _parsed(raw)
    if _is_postgres(url):
        return _postgres(url)
    if url.drivername in _SQLITE_SCHEMES:
        return url.set(drivername="sqlite+aiosqlite"), {}
    raise ValueError(
        f"Unsupported database URL scheme {url.drivername!r}; "
        "use postgresql://… (or postgres://…) or sqlite:///path"
    )


def _parsed(raw: str) -> URL:
    try:
        return make_url(raw.strip())
    except ArgumentError:
        raise ValueError(
            "The database URL is not a valid URL; expected postgresql://… or sqlite:///path"
        ) from None


def _is_postgres(url: URL) -> bool:
    return url.drivername in _POSTGRES_SCHEMES


def _postgres(url: URL) -> tuple[URL, dict[str, object]]:
    # SQLAlchemy hands every other query parameter to asyncpg.connect as a keyword argument.
    connect_args: dict[str, object] = {}
    tls = _ssl_argument(url.query)
    if tls is not None:
        connect_args["ssl"] = tls
    _choice(url.query, _POOLER_PARAM, _POOLER_FLAGS)  # refuses pgbouncer=yes and the like
    url = url.difference_update_query((*_TLS_PARAMS, _POOLER_PARAM))
    return url.set(drivername="postgresql+asyncpg"), connect_args


def _ssl_argument(query: Mapping[str, str | Sequence[str]]) -> str | ssl.SSLContext | None:
    """asyncpg's `ssl` argument for the URL's libpq TLS parameters, never weaker than they ask.

    asyncpg cannot do SCRAM channel binding, so `channel_binding=require` is kept the way
    verify-full keeps it: only the server whose certificate a trusted CA signed for this host
    name gets the password exchange.
    """
    unsupported = sorted(k for k in query if k.startswith("ssl") and k not in _TLS_PARAMS)
    if unsupported:
        raise ValueError(
            f"Unsupported database URL parameter {unsupported[0]!r}; "
            f"the TLS parameters understood are {', '.join(_TLS_PARAMS)}"
        )
    if "sslmode" in query and "ssl" in query:
        raise ValueError("Give sslmode or ssl in the database URL, not both")
    mode = _choice(query, "sslmode", _SSL_MODES) or _choice(query, "ssl", _SSL_MODES)
    binding = _choice(query, "channel_binding", _CHANNEL_BINDINGS)
    rootcert, cert, key = (_single(query, name) for name in ("sslrootcert", "sslcert", "sslkey"))
    _refuse_contradictions(mode, binding, rootcert, cert, key)
    check = _check(mode, binding, rootcert)
    if check is _Check.CHAIN and rootcert is None:
        # As libpq refuses verify-ca with sslrootcert=system: any public certificate would pass.
        raise ValueError(
            "sslmode=verify-ca needs sslrootcert naming the server's CA; "
            "to trust the system's CAs use sslmode=verify-full"
        )
    if check is _Check.NOTHING and cert is None:
        # libpq's meaning, which asyncpg implements: `require` encrypts without verifying.
        return mode
    return _context(check, rootcert, cert, key)


def _refuse_contradictions(
    mode: str | None, binding: str | None, rootcert: str | None, cert: str | None, key: str | None
) -> None:
    if binding == "require" and mode == "disable":
        raise ValueError(
            "The database URL asks for channel_binding=require and sslmode=disable; "
            "channel binding needs TLS: drop sslmode=disable"
        )
    if (cert is None) != (key is None):
        raise ValueError("Give sslcert and sslkey together in the database URL")
    files = [name for name, v in (("sslrootcert", rootcert), ("sslcert", cert)) if v]
    if files and mode in _PLAINTEXT_MODES:
        raise ValueError(
            f"The database URL names {files[0]} but sslmode={mode} lets the connection go "
            "without TLS; use sslmode=verify-full (or require, verify-ca)"
        )
    if rootcert == _SYSTEM_CAS and mode not in (None, "verify-full"):
        # libpq refuses it too: any public certificate chains to the system's CAs, so only
        # the host name check tells this server from anyone else's.
        raise ValueError(
            f"sslrootcert=system needs sslmode=verify-full (or no sslmode), not sslmode={mode}"
        )


def _check(mode: str | None, binding: str | None, rootcert: str | None) -> _Check:
    # Channel binding would prove that the server is the one the URL names; without it
    # (asyncpg), only verify-full's host name check can, whatever sslmode says.
    if binding == "require" or mode == "verify-full" or (mode is None and rootcert):
        return _Check.CHAIN_AND_HOST
    # libpq: with a root certificate file, `require` verifies the chain as verify-ca does.
    if mode == "verify-ca" or (mode == "require" and rootcert):
        return _Check.CHAIN
    return _Check.NOTHING


def _context(
    check: _Check, rootcert: str | None, cert: str | None, key: str | None
) -> ssl.SSLContext:
    # Built once per engine: every connection then reuses the certificates loaded here.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ssl.HAS_ALPN:
        context.set_alpn_protocols(["postgresql"])  # as asyncpg's own contexts do
    context.check_hostname = check is _Check.CHAIN_AND_HOST
    if check is _Check.NOTHING:
        context.verify_mode = ssl.CERT_NONE
    elif rootcert is None or rootcert == _SYSTEM_CAS:
        context.load_default_certs()
    else:
        _load("sslrootcert", rootcert, lambda: context.load_verify_locations(cafile=rootcert))
    if cert is not None:
        _load("sslcert/sslkey", f"{cert}, {key}", lambda: context.load_cert_chain(cert, key))
    return context


def _load(name: str, path: str, load: Callable[[], None]) -> None:
    try:
        load()
    except (OSError, ValueError) as error:
        # ssl's own messages name neither the parameter nor the file.
        raise ValueError(
            f"The database URL's {name} ({path}) cannot be read as PEM: {error}"
        ) from None


def _choice(
    query: Mapping[str, str | Sequence[str]], name: str, allowed: Sequence[str]
) -> str | None:
    value = _single(query, name)
    if value is not None and value not in allowed:
        raise ValueError(f"Unsupported {name} {value!r}; use one of {', '.join(allowed)}")
    return value


def _single(query: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    value = query.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"The database URL gives {name} more than once")
