"""The real sealer and cursor codec under the tests' secret (sealing is cheap: no stand-in)."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Final
from urllib.parse import unquote

from adapters.auth import AeadSealer
from taskservice.cursors import CursorCodec
from tests.tokens import SECRET

SEALER: Final = AeadSealer(SECRET)
CURSORS: Final = CursorCodec(SEALER)


def decodings(value: str) -> list[bytes]:
    """What a reader of `value` could recover without a key: the text, base64 and zlib of it.

    Base64 is tried at every alignment and in both alphabets, and zlib from every early offset,
    so that a plain value behind a prefix (a MAC, a version byte) is found too.
    """
    text = unquote(value)
    found = [value.encode(), text.encode()]
    for start in range(4):
        chunk = text[start:].rstrip("=")
        chunk = chunk[: len(chunk) // 4 * 4]  # whole groups: the last few bytes may be lost
        for alphabet in (b"-_", b"+/"):
            try:
                found.append(base64.b64decode(chunk, alphabet))
            except (binascii.Error, ValueError):
                continue
    for raw in found[2:]:
        for offset in range(min(len(raw), 40)):
            try:
                found.append(zlib.decompress(raw[offset:]))
            except zlib.error:
                continue
    return found


def shows(value: str, *needles: str) -> bool:
    """Whether any decoding of `value` contains any of `needles` (as UTF-8)."""
    return any(n.encode() in raw for raw in decodings(value) for n in needles)
