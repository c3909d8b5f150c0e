"""Sealed values: AES-256-GCM-SIV under a key derived from the shared secret, as URL-safe text."""

from __future__ import annotations

import binascii
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from adapters.auth.keys import Purpose, derived_key

_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
OVERHEAD: Final = _NONCE_BYTES + _TAG_BYTES
"""Bytes a sealed value carries beyond its plain text (before the base64 text encoding)."""


class AeadSealer:
    """Seals values with AES-256-GCM-SIV (RFC 8452) and a random nonce per value.

    GCM-SIV rather than GCM: one long-lived key seals a value per listed page, and with random
    96-bit nonces GCM's safety rests on no nonce ever repeating, whereas a repeat under GCM-SIV
    reveals only that two values were equal.
    """

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCMSIV(derived_key(secret, Purpose.SEALED_VALUES))

    def seal(self, plain: bytes, associated: bytes) -> str:
        """`plain` encrypted and authenticated with `associated`, as unpadded base64url."""
        nonce = os.urandom(_NONCE_BYTES)
        return _text(nonce + self._aead.encrypt(nonce, plain, associated))

    def open(self, sealed: str, associated: bytes) -> bytes | None:
        """The plain bytes of `sealed`; None if it is malformed, altered or for other data."""
        try:
            text = sealed.encode("ascii")
            raw = binascii.a2b_base64(text.translate(_FROM_URL) + b"=" * (-len(text) % 4))
        except ValueError:  # non-ASCII text, or binascii.Error
            return None
        # The decoder skips stray characters and base64 lets the last one's spare bits vary:
        # only the one spelling that seal() writes is accepted.
        if len(raw) < OVERHEAD or _text(raw) != sealed:
            return None
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated)
        except InvalidTag:
            return None


_FROM_URL: Final = bytes.maketrans(b"-_", b"+/")
_TO_URL: Final = bytes.maketrans(b"+/", b"-_")


def _text(sealed: bytes) -> str:
    # binascii directly: base64's wrappers cost as much again on every listed page.
    return binascii.b2a_base64(sealed, newline=False).translate(_TO_URL).rstrip(b"=").decode()
