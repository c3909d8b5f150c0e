"""Keys derived from BETTER_AUTH_SECRET, one per purpose, so that no two uses share a key."""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32


class Purpose(enum.Enum):
    """What a derived key is for; its value is the HKDF label, fixed for this service."""

    SESSION_TOKENS = b"taskservice/v1/session-tokens"
    """HS256 tokens the service issues (no other holder of the secret accepts them)."""

    SEALED_VALUES = b"taskservice/v1/sealed-values"
    """Authenticated encryption of values that travel through clients (cursors, undo)."""


def derived_key(secret: bytes, purpose: Purpose) -> bytes:
    """A 32-byte key for `purpose`: HKDF-SHA256 of the shared secret under the purpose's label."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.value)
    return hkdf.derive(secret)
