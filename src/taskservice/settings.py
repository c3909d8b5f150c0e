"""Configuration from the environment and an optional `.env` file in the working directory."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import attrs
from dotenv import dotenv_values

from taskservice.ports import MIN_SECRET_BYTES

API_STYLES = ("envelope", "plain")
"""The response styles of SPEC §1 and §11 (adapters.http.style has one of each)."""
DB_POOLERS = ("none", "transaction")
"""DB_POOLER's values: no pooler, or one in transaction mode (unset: as DATABASE_URL says)."""
JWKS_PATH = "/api/auth/jwks"
# An origin is a scheme, a host and an optional port: no path, no credentials, no wildcard.
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[^/\s?#@:\[\]]+)(:[0-9]{1,5})?")
log = logging.getLogger("taskservice.settings")


EVENTS_LIFETIME_MAX: Final = 3600.0
"""The longest a live events stream lasts (SPEC §8: at most an hour)."""


class ConfigurationError(Exception):
    """The configuration cannot work; the message says what to set."""


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the composition root needs to build the service."""

    env: str = "development"
    database_url: str
    database_direct_url: str | None = None
    """The PostgreSQL server itself, for migrations and LISTEN, when DATABASE_URL is a pooler."""
    db_pooler: str | None = None
    """DB_POOLER: one of DB_POOLERS, or None to tell from DATABASE_URL."""
    db_pooler_prepared_statements: bool = False
    """DB_POOLER_PREPARED_STATEMENTS: the transaction pooler keeps named prepared statements
    (PgBouncer 1.21+ with max_prepared_statements > 0), so the service names its statements."""
    data_dir: Path = Path("data")
    secret: bytes = attrs.field(repr=False)
    better_auth_url: str | None = None
    better_auth_jwks_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    allow_signup: bool = True
    cookie_secure: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    shutdown_timeout: float = 20.0
    events_lifetime: float = EVENTS_LIFETIME_MAX
    """Seconds after which the server ends a live events stream (its client reconnects)."""
    pool_size: int = 10
    pool_timeout: float = 5.0
    statement_timeout_ms: int = 10_000
    connect_timeout: float = 5.0
    rate_limit_storage: str = "memory://"
    rate_limit_auth_per_address: str = "30/minute"
    rate_limit_failed_sign_in_per_email: str = "10/15 minutes"
    api_style: str = "envelope"
    rate_limit_failed_sign_in_per_email_all_addresses: str = "100/hour"
    metrics_token: str | None = attrs.field(default=None, repr=False)
    web_concurrency: int = 1
    metrics_dir: Path | None = None
    """Where worker processes keep their metrics (PROMETHEUS_MULTIPROC_DIR); unset: a fresh one."""
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = attrs.field(default=None, repr=False)
    oidc_name: str | None = None
    """The sign-in button's label; unset: the issuer's host name."""

    @property
    def oidc_enabled(self) -> bool:
        """Whether the web UI offers sign-in with an OpenID Provider."""
        return self.oidc_issuer is not None

    @property
    def oidc_label(self) -> str:
        """What the sign-in button names: OIDC_NAME, or the issuer's host."""
        return self.oidc_name or urlsplit(self.oidc_issuer or "").hostname or "OpenID Connect"

    @property
    def production(self) -> bool:
        """Whether this is a production deployment (stricter start-up checks)."""
        return self.env == "production"

    @property
    def transaction_pooler(self) -> bool | None:
        """Whether DB_POOLER says DATABASE_URL goes through a transaction pooler; None: unset."""
        return _pooler_answer(self.db_pooler)

    @property
    def throttles_per_process(self) -> bool:
        """Whether sign-in attempts would be counted apart in each of several worker processes."""
        storage = self.rate_limit_storage.removeprefix("async+")
        return self.web_concurrency > 1 and storage.startswith("memory://")

    @property
    def shared_metrics_dir(self) -> Path | None:
        """The directory every worker's metrics meet in, when there are several workers."""
        return self.metrics_dir if self.web_concurrency > 1 else None

    @property
    def jwks_url(self) -> str | None:
        """Where Better Auth's keys are: BETTER_AUTH_JWKS_URL, else under BETTER_AUTH_URL."""
        if self.better_auth_jwks_url:
            return self.better_auth_jwks_url
        return f"{self.better_auth_url.rstrip('/')}{JWKS_PATH}" if self.better_auth_url else None

    def summary(self) -> dict[str, object]:
        """What the start-up log line tells operators: no secrets, no passwords, no user names."""
        return {
            "env": self.env,
            "database": _describe_url(self.database_url),
            "database_direct": (
                _describe_url(self.database_direct_url) if self.database_direct_url else None
            ),
            "db_pooler": self.db_pooler or "from DATABASE_URL",
            "db_pooler_prepared_statements": self.db_pooler_prepared_statements,
            "better_auth_url": self.better_auth_url,
            "better_auth_jwks_url": self.better_auth_jwks_url,
            "cors_origins": list(self.cors_origins),
            "allow_signup": self.allow_signup,
            "cookie_secure": self.cookie_secure,
            "forwarded_allow_ips": self.forwarded_allow_ips,
            "log_level": self.log_level,
            "pool_size": self.pool_size,
            "pool_timeout_s": self.pool_timeout,
            "statement_timeout_ms": self.statement_timeout_ms,
            "connect_timeout_s": self.connect_timeout,
            "shutdown_timeout_s": self.shutdown_timeout,
            "events_lifetime_s": self.events_lifetime,
            "rate_limit_storage": _describe_url(self.rate_limit_storage),
            "api_style": self.api_style,
            "metrics_token_set": self.metrics_token is not None,
            "web_concurrency": self.web_concurrency,
            "oidc_issuer": self.oidc_issuer,
            "oidc_client_id": self.oidc_client_id,
            "oidc_name": self.oidc_label if self.oidc_enabled else None,
        }

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        """Settings from `environ` (default: the process environment) over `<cwd>/.env`."""
        try:
            return _from(_environment(environ, cwd))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None


def database_settings(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[str, str | None, bool | None]:
    """DATABASE_URL, DATABASE_DIRECT_URL and DB_POOLER's answer, read as `Settings.load` reads
    them, for `alembic`, which needs no other setting."""
    try:
        url, direct_url, pooler = _database(_environment(environ, cwd))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return url, direct_url, _pooler_answer(pooler)


def _environment(environ: Mapping[str, str] | None, cwd: Path | None) -> dict[str, str]:
    dotenv = {k: v for k, v in dotenv_values((cwd or Path.cwd()) / ".env").items() if v is not None}
    return {**dotenv, **(os.environ if environ is None else environ)}


def _database(env: Mapping[str, str]) -> tuple[str, str | None, str | None]:
    # DATABASE_URL (or the embedded file), DATABASE_DIRECT_URL, DB_POOLER.
    data_dir = Path(env.get("DATA_DIR") or "data")
    return (
        env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'tasks.db'}",
        (env.get("DATABASE_DIRECT_URL") or "").strip() or None,
        _pooler(env.get("DB_POOLER")),
    )


def _from(env: Mapping[str, str]) -> Settings:
    get = env.get
    mode = _mode(get("ENV"))
    data_dir = Path(get("DATA_DIR") or "data")
    database_url, direct_url, pooler = _database(env)
    settings = Settings(
        env=mode,
        database_url=database_url,
        database_direct_url=direct_url,
        db_pooler=pooler,
        db_pooler_prepared_statements=_flag(env, "DB_POOLER_PREPARED_STATEMENTS", default=False),
        data_dir=data_dir,
        secret=_secret(get("BETTER_AUTH_SECRET"), data_dir, production=mode == "production"),
        better_auth_url=get("BETTER_AUTH_URL") or None,
        better_auth_jwks_url=get("BETTER_AUTH_JWKS_URL") or None,
        cors_origins=_origins(get("CORS_ORIGINS", "")),
        allow_signup=_flag(env, "ALLOW_SIGNUP", default=True),
        cookie_secure=_flag(env, "COOKIE_SECURE", default=True),
        forwarded_allow_ips=_proxies(get("FORWARDED_ALLOW_IPS", "127.0.0.1")),
        log_level=_log_level(get("LOG_LEVEL") or "INFO"),
        host=get("HOST", "127.0.0.1"),
        port=_number(env, "PORT", 8000),
        shutdown_timeout=_seconds(env, "SHUTDOWN_TIMEOUT", 20),
        events_lifetime=_events_lifetime(env),
        pool_size=_number(env, "DB_POOL_SIZE", 10),
        pool_timeout=_seconds(env, "DB_POOL_TIMEOUT", 5),
        statement_timeout_ms=_number(env, "DB_STATEMENT_TIMEOUT_MS", 10_000),
        connect_timeout=_seconds(env, "DB_CONNECT_TIMEOUT", 5),
        rate_limit_storage=get("RATE_LIMIT_STORAGE") or "memory://",
        rate_limit_auth_per_address=get("RATE_LIMIT_AUTH_PER_ADDRESS") or "30/minute",
        rate_limit_failed_sign_in_per_email=get("RATE_LIMIT_FAILED_SIGN_IN_PER_EMAIL")
        or "10/15 minutes",
        api_style=_api_style(get("API_STYLE") or "envelope"),
        rate_limit_failed_sign_in_per_email_all_addresses=get(
            "RATE_LIMIT_FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES"
        )
        or "100/hour",
        metrics_token=(get("METRICS_TOKEN") or "").strip() or None,
        web_concurrency=_positive(env, "WEB_CONCURRENCY", 1),
        metrics_dir=Path(raw) if (raw := get("PROMETHEUS_MULTIPROC_DIR")) else None,
        **_oidc(env),
    )
    _check_jwks(settings)
    _check_shared_state(settings)
    return settings


_OIDC: Final = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
OIDC_NAME_MAX: Final = 40
_ISSUER_MAX: Final = 255


def _oidc(env: Mapping[str, str]) -> dict[str, str | None]:
    values = {name: (env.get(name) or "").strip() or None for name in (*_OIDC, "OIDC_NAME")}
    given = [name for name in _OIDC if values[name]]
    if not given:
        if values["OIDC_NAME"]:
            raise ValueError("OIDC_NAME is set, but OIDC_ISSUER is not: set all of " + _both())
        return {}
    missing = [name for name in _OIDC if not values[name]]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing: OpenID Connect sign-in needs " + _both())
    issuer = values["OIDC_ISSUER"]
    assert issuer is not None
    parts = urlsplit(issuer)
    if len(issuer) > _ISSUER_MAX or parts.query or parts.fragment or not _fetchable_keys(issuer):
        raise ValueError(
            f"OIDC_ISSUER {issuer!r} must be the provider's issuer URL exactly as its discovery "
            "document names it: https:// (plain http:// only for localhost, 127.0.0.0/8 or ::1), "
            f"no query or fragment, at most {_ISSUER_MAX} characters, e.g. "
            "https://accounts.example.com"
        )
    name = values["OIDC_NAME"]
    if name is not None and (len(name) > OIDC_NAME_MAX or not name.isprintable()):
        raise ValueError(
            f"OIDC_NAME must be a printable label of at most {OIDC_NAME_MAX} characters."
        )
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": values["OIDC_CLIENT_ID"],
        "oidc_client_secret": values["OIDC_CLIENT_SECRET"],
        "oidc_name": name,
    }


def _both() -> str:
    return (
        "OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (the client registered with your "
        "provider, its redirect URI <your service>/sign-in/oidc/callback), and optionally OIDC_NAME."
    )


def _check_shared_state(settings: Settings) -> None:
    # Each worker would keep its own counts: a guesser gets the limit once per worker.
    if not (settings.throttles_per_process and settings.production):
        return
    raise ValueError(
        f"WEB_CONCURRENCY={settings.web_concurrency} with RATE_LIMIT_STORAGE=memory:// would "
        "count sign-in attempts in each worker process apart, multiplying every limit by the "
        "number of workers. Set RATE_LIMIT_STORAGE to a Redis all processes share, e.g. "
        "redis://redis:6379/0, or WEB_CONCURRENCY=1."
    )


def _check_jwks(settings: Settings) -> None:
    if settings.better_auth_jwks_url and not settings.better_auth_url:
        raise ValueError(
            "BETTER_AUTH_JWKS_URL needs BETTER_AUTH_URL too: tokens verified with those keys must "
            "name it as their issuer and audience. Set BETTER_AUTH_URL to the Better Auth base URL, "
            "e.g. https://app.example.com"
        )
    url = settings.jwks_url
    if url is not None and not _fetchable_keys(url):
        raise ValueError(
            f"The JWKS URL {url!r} must be https:// (plain http:// only for localhost, "
            "127.0.0.0/8 or ::1): keys fetched in the clear could be swapped for an attacker's. "
            "Fix BETTER_AUTH_JWKS_URL, or BETTER_AUTH_URL which it is derived from."
        )


def _fetchable_keys(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    if host is None:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mode(raw: str | None) -> str:
    # Anything else used to mean development, and so a generated secret where one was required.
    mode = "development" if raw is None else raw.strip().lower()
    if mode not in {"development", "production"}:
        raise ValueError(f"ENV must be development or production, not {raw!r}.")
    return mode


def _secret(value: str | None, data_dir: Path, *, production: bool) -> bytes:
    if value:
        secret = value.encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"BETTER_AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return secret
    if production:
        raise ValueError(
            "BETTER_AUTH_SECRET is not set. In production (ENV=production) set it to a random "
            f"string of at least {MIN_SECRET_BYTES} bytes, the same one your Better Auth frontend "
            "uses, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return _local_secret(data_dir)


def _local_secret(data_dir: Path) -> bytes:
    # Development only: one random secret, kept so that issued tokens survive a restart.
    path = data_dir / "secret"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(secret)
    log.warning("BETTER_AUTH_SECRET is not set; generated a development secret in %s", path)
    return secret


def _describe_url(raw: str) -> dict[str, object]:
    # Scheme, host, port and database only: credentials and query options stay out of logs.
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return {"backend": "unparseable"}
    if parts.scheme.startswith("sqlite"):
        return {"backend": "sqlite", "path": parts.path.removeprefix("/")}
    return {
        "backend": parts.scheme,
        "host": parts.hostname,
        "port": port,
        "database": parts.path.removeprefix("/") or None,
    }


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if "*" in origin:
            raise ValueError(
                "CORS_ORIGINS must list exact origins; '*' is not allowed with credentials."
            )
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"CORS_ORIGINS entry {origin!r} is not an origin such as https://app.example.com"
            )
    return origins


def _proxies(raw: str) -> str:
    # uvicorn takes "*" to mean every peer, and then believes the left-most X-Forwarded-For
    # entry, which the client writes; an entry that is not an address it ignores in silence.
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    for entry in entries:
        if entry == "*":
            raise ValueError(
                "FORWARDED_ALLOW_IPS='*' would let every client choose the address it is "
                "rate-limited under; list the addresses or networks of your proxies instead, "
                "e.g. 127.0.0.1 or 172.31.250.0/24."
            )
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            raise ValueError(
                f"FORWARDED_ALLOW_IPS entry {entry!r} is not an IP address or network such as "
                "10.0.0.5 or 10.0.0.0/24 (with no host bits set)."
            ) from None
    return ",".join(entries)


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = str(raw).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}.")


def _number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}.") from None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, not {value}.")
    return value


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {raw!r}.")
    return level


def _pooler(raw: str | None) -> str | None:
    value = (raw or "").strip().lower()
    if not value:
        return None
    if value not in DB_POOLERS:
        raise ValueError(
            f"DB_POOLER must be {' or '.join(DB_POOLERS)} (or unset: as DATABASE_URL says), "
            f"not {raw!r}."
        )
    return value


def _pooler_answer(value: str | None) -> bool | None:
    return None if value is None else value == "transaction"


def _api_style(raw: str) -> str:
    style = raw.strip().lower()
    if style not in API_STYLES:
        raise ValueError(f"API_STYLE must be {' or '.join(API_STYLES)}, not {raw!r}.")
    return style


def _events_lifetime(env: Mapping[str, str]) -> float:
    lifetime = _seconds(env, "EVENTS_LIFETIME", EVENTS_LIFETIME_MAX)
    if lifetime > EVENTS_LIFETIME_MAX:
        raise ValueError(
            f"EVENTS_LIFETIME is at most {EVENTS_LIFETIME_MAX:g} seconds (an hour), "
            f"not {env['EVENTS_LIFETIME']!r}."
        )
    return lifetime


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return float(default)
    try:
        value = float(str(raw))
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {raw!r}.")
    return value
