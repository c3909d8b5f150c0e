"""Routes a bearer token to the verifier of its algorithm family."""

from __future__ import annotations

from adapters.auth.jwks import JwksVerifier
from adapters.auth.secret import SecretVerifier
from adapters.auth.tokens import HMAC_ALGORITHM, JWKS_ALGORITHMS, read_header
from domain.errors import InvalidToken
from domain.users import Principal


class CompositeVerifier:
    """Sends HS256 tokens to the shared-secret verifier and asymmetric ones to the JWKS verifier."""

    def __init__(self, secret: SecretVerifier | None, jwks: JwksVerifier | None) -> None:
        self._secret = secret
        self._jwks = jwks

    async def verify(self, token: str) -> Principal:
        """The principal proven by `token`; InvalidToken for any other algorithm or failure."""
        # The shared secret's keys never change while the process runs: a token they verified
        # before is answered before its header is read again.
        if self._secret is not None and (known := self._secret.remembered(token)) is not None:
            return known
        # The header only routes; each verifier checks `alg` again against its own keys.
        header = read_header(token)
        alg = header["alg"]
        if alg == HMAC_ALGORITHM and self._secret is not None:
            return self._secret.verify_hmac(token, header)
        if alg in JWKS_ALGORITHMS and self._jwks is not None:
            return await self._jwks.verify(token)
        raise InvalidToken()
