"""Keys derived from the shared secret: one per purpose, never the secret itself."""

from __future__ import annotations

import hashlib
import hmac

from adapters.auth.keys import KEY_BYTES, Purpose, derived_key
from tests.tokens import SECRET


def _hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    # RFC 5869 written out with the standard library, independent of the code under test.
    prk = hmac.new(b"\x00" * 32, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_each_purpose_has_its_own_key_and_none_is_the_secret() -> None:
    keys = {purpose: derived_key(SECRET, purpose) for purpose in Purpose}
    assert len(set(keys.values())) == len(Purpose)
    assert all(len(key) == KEY_BYTES and key != SECRET for key in keys.values())


def test_keys_are_rfc_5869_hkdf_of_the_secret_under_the_purpose_label() -> None:
    for purpose in Purpose:
        assert derived_key(SECRET, purpose) == _hkdf_sha256(SECRET, purpose.value)


def test_another_secret_gives_other_keys() -> None:
    other = SECRET + b"!"
    assert all(derived_key(SECRET, p) != derived_key(other, p) for p in Purpose)
