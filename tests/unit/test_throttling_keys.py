"""The keys attempts are counted under: one per IPv4 address, one per IPv6 /64."""

from __future__ import annotations

import pytest

from domain.throttling import address_key, email_and_address_key


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unknown", "unknown"),
    ],
)
def test_an_address_is_counted_under_its_own_key_or_its_64(address: str, key: str) -> None:
    assert address_key(address) == key


def test_the_pair_key_cannot_be_forged_through_the_email() -> None:
    # The e-mail of a sign-in is anything the client sends; the address comes first and has no space.
    victim = email_and_address_key("a@b.co", "203.0.113.7")
    assert victim == "203.0.113.7 a@b.co"
    assert email_and_address_key("203.0.113.7 a@b.co", "198.51.100.1") != victim
    assert email_and_address_key("a@b.co", "2001:db8::9") == "2001:db8::/64 a@b.co"
