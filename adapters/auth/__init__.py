"""Bearer tokens (shared secret and Better Auth JWKS), token issuing and password hashing."""

from adapters.auth.composite import CompositeVerifier
from adapters.auth.jwks import JwksVerifier
from adapters.auth.passwords import Argon2Hasher, meets_owasp_minimum
from adapters.auth.sealing import AeadSealer
from adapters.auth.secret import SecretIssuer, SecretVerifier

__all__ = [
    "AeadSealer",
    "Argon2Hasher",
    "CompositeVerifier",
    "JwksVerifier",
    "SecretIssuer",
    "SecretVerifier",
    "meets_owasp_minimum",
]
