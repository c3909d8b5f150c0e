"""Sign-in with an OpenID Provider through Authlib's Starlette client (SPEC §10).

Authlib does the protocol: discovery, the authorization code flow with PKCE (S256), `state`
and `nonce`, the code exchange and the ID token's signature (keys from the discovery's JWKS,
through joserfc). We tell it which claims must hold (`iss` our configured issuer, `aud` our
client, `exp`, `iat`, `sub`) and check what it leaves to its caller: that the discovery
document names the configured issuer, and the authorization response's `iss` (RFC 9207).

Authlib keeps a flow's `state`, `nonce` and PKCE verifier in `request.session`. Rather than a
session middleware on every request, the flow lives in a cookie of its own, sealed (encrypted
and authenticated) by the service's sealer, bound to this use, for ten minutes, and cleared
when the flow ends either way: a callback without it, or with another flow's `state`, is
refused.
"""

from __future__ import annotations

import time
from typing import Any, Final

import attrs
import httpx2
import orjson
import structlog
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from joserfc.errors import JoseError
from starlette.requests import Request

from domain.identities import ExternalIdentity
from taskservice.ports import Sealer

SCOPE: Final = "openid email profile"
FLOW_LIFETIME: Final = 600
"""Seconds a sign-in may take at the provider before its flow cookie lapses."""
CALLBACK_PATH: Final = "/sign-in/oidc/callback"
_FLOW_PURPOSE: Final = b"taskservice/v1/oidc-flow"
log = structlog.stdlib.get_logger("taskservice.web")


@attrs.frozen(kw_only=True)
class OpenIdConfig:
    """The provider and the client registered with it (OIDC_* settings)."""

    issuer: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    name: str
    transport: httpx2.AsyncBaseTransport | None = None
    """How Authlib reaches the provider; None: the network (tests may put a proxy between)."""

    @property
    def discovery_url(self) -> str:
        """OpenID Connect Discovery §4: the issuer, without a trailing slash, and the path."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class SignInRefused(Exception):
    """The provider's answer did not prove who signed in; `reason` says why, for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OpenIdClient:
    """Starts a sign-in at the provider and turns its answer into a verified identity."""

    def __init__(self, config: OpenIdConfig, sealer: Sealer) -> None:
        self.config = config
        self._sealer = sealer
        client_kwargs: dict[str, Any] = {"scope": SCOPE, "code_challenge_method": "S256"}
        client_kwargs["timeout"] = 10.0
        if config.transport is not None:
            client_kwargs["transport"] = config.transport
        oauth = OAuth()
        client = oauth.register(
            name="oidc",
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.discovery_url,
            client_kwargs=client_kwargs,
        )
        assert isinstance(client, StarletteOAuth2App)
        self._client = client

    async def start(
        self, request: Request, redirect_uri: str, next_path: str, **extra: str
    ) -> tuple[str, str]:
        """The provider's authorization URL for a new flow, and the sealed flow to keep.

        `extra` goes to the provider (`prompt=login`, `max_age=0` to make the person sign in
        again); `next_path` is where to go once signed in.
        """
        try:
            await self._discovered()
            session: dict[str, Any] = {}
            request.scope["session"] = session
            response = await self._client.authorize_redirect(request, redirect_uri, **extra)
        except (httpx2.HTTPError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("openid provider failed", causes=[type(exc).__name__])
            raise SignInRefused(f"{self.config.name} could not be reached; try again.") from exc
        flow = {"until": time.time() + FLOW_LIFETIME, "next": next_path, "session": session}
        return response.headers["location"], self._sealer.seal(orjson.dumps(flow), _FLOW_PURPOSE)

    def next_path(self, flow: str | None) -> str | None:
        """Where the flow of this sealed value was to go once signed in."""
        value = self._open(flow).get("next")
        return value if isinstance(value, str) else None

    async def finish(self, request: Request, flow: str | None) -> ExternalIdentity:
        """The identity the provider's callback proves; SignInRefused for anything less."""
        session = self._open(flow).get("session")
        request.scope["session"] = session if isinstance(session, dict) else {}
        error = request.query_params.get("error")
        if error:
            raise SignInRefused(f"{self.config.name} did not sign you in ({error[:60]}).")
        iss = request.query_params.get("iss")
        if iss is not None and iss != self.config.issuer:
            raise SignInRefused("The answer came from another provider than the one asked.")
        try:
            await self._discovered()
            token = await self._client.authorize_access_token(
                request, claims_options=self._claims_options()
            )
        except MismatchingStateError as exc:
            raise SignInRefused(
                "This sign-in was not started in this browser, was already used, or took too "
                "long. Start again."
            ) from exc
        except OAuthError as exc:
            raise SignInRefused(
                f"{self.config.name} refused the sign-in code (it may have been used already)."
            ) from exc
        except JoseError as exc:
            raise SignInRefused(
                f"The ID token from {self.config.name} did not verify ({type(exc).__name__})."
            ) from exc
        except (httpx2.HTTPError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("openid provider failed", causes=[type(exc).__name__])
            raise SignInRefused(f"{self.config.name} could not be reached; try again.") from exc
        claims = token.get("userinfo")
        identity = (
            None if claims is None else ExternalIdentity.from_claims(self.config.issuer, claims)
        )
        if identity is None:
            raise SignInRefused(f"{self.config.name} sent no usable ID token.")
        return identity

    async def _discovered(self) -> None:
        metadata = await self._client.load_server_metadata()
        if metadata.get("issuer") != self.config.issuer:
            # OpenID Connect Discovery §4.3: a document naming another issuer is not to be used.
            self._client.server_metadata.clear()
            raise SignInRefused("The provider's discovery document names another issuer.")

    def _claims_options(self) -> dict[str, Any]:
        return {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }

    def _open(self, flow: str | None) -> dict[str, Any]:
        # Only a flow this service sealed, and not yet lapsed, is anything at all.
        plain = self._sealer.open(flow, _FLOW_PURPOSE) if flow else None
        if plain is None:
            return {}
        try:
            opened = orjson.loads(plain)
        except orjson.JSONDecodeError:
            return {}
        if not isinstance(opened, dict) or not time.time() < opened.get("until", 0):
            return {}
        return opened
