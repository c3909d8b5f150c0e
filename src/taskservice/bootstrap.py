"""The composition root: the only module that picks concrete adapters and reads settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import attrs
import httpx2
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware

from adapters.auth import (
    AeadSealer,
    Argon2Hasher,
    CompositeVerifier,
    JwksVerifier,
    SecretIssuer,
    SecretVerifier,
)
from adapters.http import ApiDependencies, create_app
from adapters.persistence import (
    Database,
    PgChangeRelay,
    SqlReadiness,
    SqlUnitOfWorkFactory,
    head_revision,
    tighten_folder,
)
from adapters.throttle import LimitsThrottle
from adapters.web import Cookies, OpenIdConfig, WebDependencies, WebSecurityHeaders, web_routes
from domain.throttling import Bucket
from taskservice.clock import SystemClock
from taskservice.cursors import CursorCodec, FeedCursorCodec
from taskservice.ports import (
    ChangeSignal,
    Clock,
    PasswordHasher,
    Readiness,
    Sealer,
    Throttle,
    TokenIssuer,
    TokenVerifier,
    UnitOfWorkFactory,
)
from taskservice.services import (
    AccountUseCases,
    ChangeHub,
    ListUseCases,
    LiveEvents,
    LiveTimings,
    PersonalTokenUseCases,
    SessionGuard,
    SyncUseCases,
    TaskUseCases,
    TrashUseCases,
    UseCases,
    YourDataUseCases,
)
from taskservice.settings import Settings

Closer = Callable[[], Awaitable[None]]
Starter = Callable[[], Awaitable[None]]
PoolStats = Callable[[], Mapping[str, float]]
log = structlog.stdlib.get_logger("taskservice")


@attrs.frozen(kw_only=True)
class Adapters:
    """The driven adapters an app runs on, and how to release them at shutdown."""

    uow: UnitOfWorkFactory
    readiness: Readiness
    verifier: TokenVerifier
    issuer: TokenIssuer
    hasher: PasswordHasher
    throttle: Throttle
    clock: Clock = attrs.field(factory=SystemClock)
    hub: ChangeHub = attrs.field(factory=ChangeHub)
    """What live streams wait on; `uow` must tell it (or a relay to it) of its commits."""
    live_timings: LiveTimings = attrs.field(factory=LiveTimings)
    starters: tuple[Starter, ...] = ()
    """Run when the app starts, in order (the change relay's listener)."""
    closers: tuple[Closer, ...] = ()
    pool_stats: PoolStats | None = None


def build_verifier(settings: Settings) -> tuple[TokenVerifier, tuple[Closer, ...]]:
    """The token verifier for the configured identity sources (shared secret, Better Auth JWKS)."""
    issuer = settings.better_auth_url
    secret = SecretVerifier(settings.secret, issuer=issuer)
    if settings.jwks_url is None:
        return CompositeVerifier(secret, None), ()
    jwks = JwksVerifier(settings.jwks_url, issuer=issuer)
    return CompositeVerifier(secret, jwks), (jwks.aclose,)


def build_identity(settings: Settings) -> tuple[TokenIssuer, PasswordHasher, LimitsThrottle]:
    """What local accounts need: the token issuer, the password hasher and the throttle."""
    issuer = SecretIssuer(settings.secret, issuer=settings.better_auth_url)
    throttle = LimitsThrottle(
        {
            Bucket.AUTH_PER_ADDRESS: settings.rate_limit_auth_per_address,
            Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS: (
                settings.rate_limit_failed_sign_in_per_email
            ),
            Bucket.FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES: (
                settings.rate_limit_failed_sign_in_per_email_all_addresses
            ),
        },
        settings.rate_limit_storage,
    )
    return issuer, Argon2Hasher(), throttle


def build_adapters(settings: Settings) -> Adapters:
    """Real adapters for the configured database and identity sources."""
    tighten_folder(settings.data_dir)
    database = Database(
        settings.database_url,
        pool_size=settings.pool_size,
        pool_timeout=settings.pool_timeout,
        statement_timeout_ms=settings.statement_timeout_ms,
        connect_timeout=settings.connect_timeout,
        pooler=settings.transaction_pooler,
        pooler_prepares=settings.db_pooler_prepared_statements,
        direct_url=settings.database_direct_url,
    )
    verifier, verifier_closers = build_verifier(settings)
    issuer, hasher, throttle = build_identity(settings)
    hub = ChangeHub()
    signal: ChangeSignal = hub
    starters: tuple[Starter, ...] = ()
    relay_closers: tuple[Closer, ...] = ()
    if database.can_dedicate:
        relay = PgChangeRelay(database, hub)
        signal, starters, relay_closers = relay, (relay.start,), (relay.stop,)
    elif database.dialect == "postgresql":
        log.warning(
            "live events reach only the streams of this process: a transaction pooler cannot "
            "carry LISTEN; set DATABASE_DIRECT_URL to the database's own host"
        )
    elif settings.web_concurrency > 1:
        log.warning(
            "live events reach the streams of other workers only at their next heartbeat "
            "(15 s): SQLite has no LISTEN; use PostgreSQL for more than one process"
        )
    return Adapters(
        uow=SqlUnitOfWorkFactory(database, signal),
        live_timings=live_timings(settings),
        readiness=SqlReadiness(database, head_revision()),
        verifier=verifier,
        issuer=issuer,
        hasher=hasher,
        throttle=throttle,
        hub=hub,
        starters=starters,
        # The relay's connection is closed before the database, which would close it anyway.
        closers=(*relay_closers, *verifier_closers, throttle.aclose, database.close),
        pool_stats=database.usage,
    )


def live_timings(settings: Settings) -> LiveTimings:
    """How long the configured live events streams last; the rest as LiveTimings says."""
    return LiveTimings(lifetime=settings.events_lifetime)


def bind_use_cases(adapters: Adapters, sealer: Sealer, *, allow_signup: bool) -> UseCases:
    """Every use case, bound once to the adapters it runs on; cursors sealed by `sealer`."""
    uow, clock = adapters.uow, adapters.clock
    # The one verifier of both driving adapters, so that an ended session ends for both.
    sessions = SessionGuard(adapters.verifier, uow, clock)
    cursors = CursorCodec(sealer)
    feed_cursors = FeedCursorCodec(sealer)
    sync = SyncUseCases(uow=uow, cursors=feed_cursors)
    return UseCases(
        tasks=TaskUseCases(uow=uow, clock=clock, cursors=cursors),
        sync=sync,
        live=LiveEvents(
            uow=uow,
            feed=sync,
            cursors=feed_cursors,
            hub=adapters.hub,
            timings=adapters.live_timings,
        ),
        lists=ListUseCases(uow=uow, clock=clock),
        accounts=AccountUseCases(
            uow=uow,
            clock=clock,
            hasher=adapters.hasher,
            issuer=adapters.issuer,
            throttle=adapters.throttle,
            sessions=sessions,
            allow_signup=allow_signup,
        ),
        sessions=sessions,
        personal_tokens=PersonalTokenUseCases(uow=uow, clock=clock),
        trash=TrashUseCases(uow=uow, clock=clock, cursors=cursors),
        your_data=YourDataUseCases(uow=uow, clock=clock),
    )


def openid_config(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None = None
) -> OpenIdConfig | None:
    """The OpenID Provider of the web UI's sign-in, when one is configured (reached through
    `transport` when one is given)."""
    if settings.oidc_issuer is None:
        return None
    assert settings.oidc_client_id is not None
    assert settings.oidc_client_secret is not None
    return OpenIdConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        name=settings.oidc_label,
        transport=transport,
    )


def build_app(
    settings: Settings,
    adapters: Adapters | None = None,
    *,
    openid_transport: httpx2.AsyncBaseTransport | None = None,
) -> Starlette:
    """The whole service as an ASGI app, on real adapters unless others are given."""
    chosen = adapters or build_adapters(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("service starting", **settings.summary())
        for start in chosen.starters:
            await start()
        yield
        for close in chosen.closers:
            try:
                await close()
            except Exception:
                # One resource failing to close must not keep the others (the pool) open.
                log.exception("release failed", resource=getattr(close, "__qualname__", "?"))
        log.info("service stopped")

    # Cursors and undo values travel through clients, sealed under a key of their own.
    sealer = AeadSealer(settings.secret)
    use_cases = bind_use_cases(chosen, sealer, allow_signup=settings.allow_signup)
    deps = ApiDependencies(
        use_cases=use_cases,
        readiness=chosen.readiness,
        pool_stats=chosen.pool_stats,
        api_style=settings.api_style,
        metrics_token=settings.metrics_token,
        metrics_dir=settings.shared_metrics_dir,
        session_cookie=Cookies(secure=settings.cookie_secure).session,
    )
    web = WebDependencies(
        use_cases=use_cases,
        clock=chosen.clock,
        sealer=sealer,
        cookie_secure=settings.cookie_secure,
        csrf_secret=settings.secret,
        openid=openid_config(settings, openid_transport),
    )
    return create_app(
        deps,
        extra_routes=web_routes(web),
        extra_middleware=[Middleware(WebSecurityHeaders)],
        cors_origins=settings.cors_origins,
        lifespan=lifespan,
    )
