"""Tokens signed by Better Auth's JWT plugin, verified with the keys of its JWKS endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any, Final

import httpx
from joserfc.jwk import Key, import_key
from joserfc.util import urlsafe_b64decode

from adapters.auth.tokens import (
    DEFAULT_LEEWAY,
    JWKS_ALGORITHMS,
    ClaimRules,
    EpochClock,
    read_header,
    subject_principal,
)
from domain.errors import InvalidToken
from domain.users import Principal

MAX_JWKS_BYTES: Final = 256 * 1024
MIN_RSA_BITS: Final = 2048
# The key type (and curve) each algorithm needs; an `oct` key never fits any of them.
_KEY_FITS: Final[dict[str, tuple[str, str | None]]] = {
    "EdDSA": ("OKP", "Ed25519"),
    "ES256": ("EC", "P-256"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
}
_ASYMMETRIC_TYPES: Final = frozenset({"OKP", "EC", "RSA"})

log = logging.getLogger("taskservice.auth.jwks")


class JwksVerifier:
    """Verifies asymmetric tokens with keys chosen by `kid` from a cached, rate-limited JWKS."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str | None,
        leeway: int = DEFAULT_LEEWAY,
        refetch_interval: float = 30.0,
        fetch_timeout: float = 5.0,
        max_key_age: float = 600.0,
        http_client: httpx.AsyncClient | None = None,
        clock: EpochClock = time.time,
    ) -> None:
        self._url = jwks_url
        self._refetch_interval = refetch_interval
        self._fetch_timeout = fetch_timeout
        self._max_key_age = max_key_age
        self._client = http_client
        self._owns_client = http_client is None
        # Better Auth sets both iss and aud to its base URL, so both are demanded when known.
        self._rules = ClaimRules(issuer=issuer, issuer_required=True, leeway=leeway, clock=clock)
        self._keys: dict[str, Key] = {}
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token signed by a key of the JWKS; InvalidToken otherwise."""
        header = read_header(token)
        alg, kid = header["alg"], header.get("kid")
        if alg not in JWKS_ALGORITHMS or not isinstance(kid, str):
            raise InvalidToken()
        key = await self._key(kid)
        if key is None or not _fits(key, alg):
            raise InvalidToken()
        return self._rules.verify(token, key, alg, subject_principal)

    async def aclose(self) -> None:
        """Stop a background refresh and close the HTTP client if this verifier created it."""
        if self._background is not None:
            self._background.cancel()
            await asyncio.gather(self._background, return_exceptions=True)
            self._background = None
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _key(self, kid: str) -> Key | None:
        if kid not in self._keys:
            await self._refresh(kid)
        elif time.monotonic() - self._fetched_at >= self._max_key_age:
            # Known keys keep working while a stale set is refreshed, so that a removed
            # (revoked) key stops working without making any request wait for the fetch.
            self._refresh_in_background()
        return self._keys.get(kid)

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh(None))

    async def _refresh(self, kid: str | None) -> None:
        # One lock: concurrent requests for unknown kids share one fetch.
        async with self._lock:
            if kid is not None and kid in self._keys:
                return
            if time.monotonic() - self._attempted_at < self._refetch_interval:
                return
            self._attempted_at = time.monotonic()
            keys = await self._fetch()
            if keys is not None:
                self._keys, self._fetched_at = keys, time.monotonic()

    async def _fetch(self) -> dict[str, Key] | None:
        try:
            async with asyncio.timeout(self._fetch_timeout):
                body = await self._download()
            return parse_key_set(json.loads(body)) if body is not None else None
        # A failed fetch must never fail a request by itself: the known keys stay in use.
        except Exception:
            log.warning("fetching the JWKS from %s failed", self._url, exc_info=True)
            return None

    async def _download(self) -> bytes | None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._fetch_timeout, follow_redirects=True)
        async with self._client.stream(
            "GET", self._url, headers={"Accept": "application/json"}
        ) as r:
            if r.status_code != httpx.codes.OK:
                log.warning("the JWKS at %s answered %d", self._url, r.status_code)
                return None
            body = bytearray()
            async for chunk in r.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    log.warning("the JWKS at %s is larger than %d bytes", self._url, MAX_JWKS_BYTES)
                    return None
            return bytes(body)


def parse_key_set(document: Any) -> dict[str, Key]:
    """The usable asymmetric keys of a JWKS document by `kid`; ValueError if it is no JWKS."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        key = _import(entry)
        if key is not None and key.kid is not None:
            keys[key.kid] = key
    return keys


def _import(entry: Any) -> Key | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
        return None
    if entry.get("kty") not in _ASYMMETRIC_TYPES:
        return None
    try:
        if entry["kty"] == "RSA" and _modulus_bits(entry) < MIN_RSA_BITS:
            return None
        return import_key(entry)
    except Exception:
        log.warning("ignoring the unreadable JWKS key %r", entry.get("kid"), exc_info=True)
        return None


def _modulus_bits(entry: dict[str, Any]) -> int:
    # Checked before import, which would only warn about a short key.
    return int.from_bytes(urlsafe_b64decode(entry["n"].encode("ascii")), "big").bit_length()


def _fits(key: Key, alg: str) -> bool:
    kty, curve = _KEY_FITS[alg]
    if key.key_type != kty or (curve is not None and getattr(key, "curve_name", None) != curve):
        return False
    return key.alg is None or key.alg == alg
