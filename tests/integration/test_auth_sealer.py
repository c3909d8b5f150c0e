"""The AEAD sealer against the real cipher: unreadable, unforgeable, bound to its associated data."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from adapters.auth import AeadSealer
from adapters.auth.keys import Purpose, derived_key
from adapters.auth.sealing import OVERHEAD
from tests.sealing import shows
from tests.tokens import SECRET

PLAIN = b'["Buy oat milk",12345]'
CONTEXT = b"cursor\x00for-this-list"


def raw(sealed: str) -> bytes:
    return base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))


def text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def sealer() -> AeadSealer:
    return AeadSealer(SECRET)


def test_a_sealed_value_opens_with_its_data_and_shows_nothing(sealer: AeadSealer) -> None:
    sealed = sealer.seal(PLAIN, CONTEXT)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", sealed)
    assert len(raw(sealed)) == len(PLAIN) + OVERHEAD
    assert not shows(sealed, "Buy oat milk", "12345", "cursor")
    assert sealer.open(sealed, CONTEXT) == PLAIN


def test_each_seal_is_new_and_both_open(sealer: AeadSealer) -> None:
    first, second = sealer.seal(PLAIN, CONTEXT), sealer.seal(PLAIN, CONTEXT)
    assert first != second
    assert sealer.open(first, CONTEXT) == sealer.open(second, CONTEXT) == PLAIN


def test_it_is_aes_gcm_siv_under_the_sealed_values_key(sealer: AeadSealer) -> None:
    # Nonce first, then ciphertext and tag, under the HKDF key of its purpose: never the secret
    # itself, nor the key that signs tokens.
    data = raw(sealer.seal(PLAIN, CONTEXT))
    key = derived_key(SECRET, Purpose.SEALED_VALUES)
    assert AESGCMSIV(key).decrypt(data[:12], data[12:], CONTEXT) == PLAIN
    for other in (SECRET[:32], derived_key(SECRET, Purpose.SESSION_TOKENS)):
        forged = AESGCMSIV(other).encrypt(data[:12], PLAIN, CONTEXT)
        assert sealer.open(text(data[:12] + forged), CONTEXT) is None


def test_other_associated_data_or_another_secret_opens_nothing(sealer: AeadSealer) -> None:
    sealed = sealer.seal(PLAIN, CONTEXT)
    assert sealer.open(sealed, CONTEXT + b"x") is None
    assert sealer.open(sealed, CONTEXT[:-1]) is None
    assert sealer.open(sealed, b"") is None
    assert AeadSealer(SECRET + b"!").open(sealed, CONTEXT) is None


def test_every_flipped_bit_is_refused(sealer: AeadSealer) -> None:
    data = raw(sealer.seal(PLAIN, CONTEXT))
    for index in range(len(data)):
        for bit in range(8):
            altered = bytearray(data)
            altered[index] ^= 1 << bit
            assert sealer.open(text(bytes(altered)), CONTEXT) is None


def test_truncated_extended_or_foreign_text_is_refused(sealer: AeadSealer) -> None:
    sealed = sealer.seal(PLAIN, CONTEXT)
    data = raw(sealed)
    for length in range(len(data)):
        assert sealer.open(text(data[:length]), CONTEXT) is None
    for length in range(1, len(sealed)):
        assert sealer.open(sealed[:length], CONTEXT) is None
    for index, char in enumerate(sealed):
        for other in {"A", "B", "-", "_", "+", "/", "="} - {char}:
            changed = sealed[:index] + other + sealed[index + 1 :]
            assert sealer.open(changed, CONTEXT) is None, (index, other)
    for broken in (sealed + "A", text(data + b"\x00"), sealed + "!", "é" + sealed, "", "===="):
        assert sealer.open(broken, CONTEXT) is None
