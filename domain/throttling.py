"""What the service counts to slow down password guessing, and under which keys."""

import enum
import ipaddress
from typing import Final

IPV6_SUBSCRIBER_PREFIX: Final = 64
"""An IPv6 client is counted by its /64: one subscriber gets at least that many addresses."""


class Bucket(enum.Enum):
    """A family of counted attempts, each with its own configured limit."""

    AUTH_PER_ADDRESS = "auth-per-address"
    """Every sign-in or sign-up attempt, by client address."""

    FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS = "failed-sign-in-per-email-and-address"
    """Every sign-in attempt not yet succeeded, by e-mail and client address: the strict limit."""

    FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES = "failed-sign-in-per-email-all-addresses"
    """Sign-in attempts the strict limit let through, by e-mail: the bound on distributed guessing."""


def address_key(address: str) -> str:
    """The key a client address is counted under: IPv4 as it is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    # From the integer, so that a zone id (fe80::1%eth0) does not split one host's buckets.
    host_bits = 128 - IPV6_SUBSCRIBER_PREFIX
    network = ipaddress.IPv6Network(((int(ip) >> host_bits) << host_bits, IPV6_SUBSCRIBER_PREFIX))
    return str(network)


def email_and_address_key(email_key: str, address: str) -> str:
    """The key of one e-mail tried from one address (the address first: it contains no space)."""
    return f"{address_key(address)} {email_key}"
