"""Tokens shaped like Better Auth's, signed with real keys, and a loopback JWKS server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, OKPKey, RSAKey

BASE = "http://127.0.0.1:3000"
SECRET = b"a-shared-secret-of-more-than-thirty-two-bytes!"

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | bytes


def b64(data: bytes) -> str:
    """Unpadded base64url, as JWS uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signature(alg: str, key: PrivateKey, data: bytes) -> bytes:
    """A JWS signature made with `cryptography` directly, independent of the code under test."""
    if isinstance(key, bytes):
        return hmac.new(key, data, hashlib.sha256).digest()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        digest = hashes.SHA256() if alg == "ES256" else hashes.SHA512()
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return key.sign(data, pss, hashes.SHA256())
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def compact(header: dict[str, Any], claims: dict[str, Any], key: PrivateKey) -> str:
    """A JWS compact token signed with `key` under `header`."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(signature(header['alg'], key, signing_input.encode()))}"


def better_auth_claims(**overrides: Any) -> dict[str, Any]:
    """Claims shaped like Better Auth's JWT plugin; an override of None removes the claim."""
    iat = int(time.time())
    claims: dict[str, Any] = {
        "sub": "ba_user_123",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "emailVerified": True,
        "iat": iat,
        "exp": iat + 900,
        "iss": BASE,
        "aud": BASE,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@attrs.frozen
class SigningKey:
    """A private key for signing test tokens and the public JWK a JWKS would publish for it."""

    kid: str
    alg: str
    private: PrivateKey
    jwk: dict[str, Any]

    def token(self, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A Better Auth-shaped token signed by this key."""
        protected = {"alg": self.alg, "kid": self.kid, "typ": "JWT", **(header or {})}
        return compact(protected, better_auth_claims(**claims), self.private)

    def under(self, alg: str) -> SigningKey:
        """The same key used under another algorithm name."""
        return attrs.evolve(self, alg=alg)


def ed25519_key(kid: str) -> SigningKey:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid, "alg": "EdDSA", "use": "sig"})
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)
    return SigningKey(kid, "EdDSA", key.private_key, key.as_dict(private=False))


def ec_key(kid: str, curve: Any, alg: str) -> SigningKey:
    key = ECKey.generate_key(curve, parameters={"kid": kid})
    assert key.private_key is not None
    return SigningKey(kid, alg, key.private_key, key.as_dict(private=False))


def rsa_key(kid: str, alg: str) -> SigningKey:
    key = RSAKey.generate_key(2048, parameters={"kid": kid})
    assert key.private_key is not None
    return SigningKey(kid, alg, key.private_key, key.as_dict(private=False))


class JwksServer:
    """A loopback HTTP/1.1 server that serves one JSON document and counts its requests."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document: Any = document
        self.status = 200
        self.hang = False
        self.requests: list[str] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        """The URL the document is served at."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/auth/jwks"

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        """Stop listening and finish every open connection."""
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.split(b"\r\n", 1)[0].decode())
            if self.hang:
                await self._release.wait()
                return
            writer.write(self._response())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)

    def _response(self) -> bytes:
        body = (
            self.document
            if isinstance(self.document, bytes)
            else json.dumps(self.document).encode()
        )
        head = (
            f"HTTP/1.1 {self.status} Whatever\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body


@asynccontextmanager
async def serving(document: dict[str, Any]) -> AsyncIterator[JwksServer]:
    """A started JwksServer, stopped on exit."""
    server = JwksServer(document)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
