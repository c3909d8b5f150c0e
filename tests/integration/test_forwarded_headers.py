"""What uvicorn's proxy headers do with the options `taskservice serve` gives it (SPEC §4, §6).

The service relies on these: the client is the right-most X-Forwarded-For entry that is not a
listed proxy, a peer that is not listed is its own client whatever it sends, and the scheme comes
from X-Forwarded-Proto of a listed proxy only. With "*" uvicorn believes the left-most entry,
which the client writes: the reason the settings refuse it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from taskservice.serving import proxy_options
from taskservice.settings import ConfigurationError, Settings

SECRET = "s" * 32


class Probe:
    """An ASGI app answering with the client address and scheme it was given."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Echo `client` and `scheme` as plain text."""
        body = f"{scope['client'][0]} {scope['scheme']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def served(forwarded_allow_ips: str) -> Any:
    """The probe as uvicorn wraps it for `taskservice serve` under this FORWARDED_ALLOW_IPS."""
    environ = {"BETTER_AUTH_SECRET": SECRET, "FORWARDED_ALLOW_IPS": forwarded_allow_ips}
    settings = Settings.load(environ, cwd=Path(__file__).parent)
    config = uvicorn.Config(Probe(), log_config=None, **proxy_options(settings))
    config.load()
    return config.loaded_app


async def seen(app: Any, peer: str, headers: dict[str, str]) -> tuple[str, str]:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        host, scheme = (await client.get("/", headers=headers)).text.split()
    return host, scheme


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # The proxy appended the client's address; the client's own entries to its left are ignored.
        ("10.0.0.2", "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        # Through two listed proxies: the first one's entry is skipped too.
        ("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.7", "203.0.113.5"),
        # A peer that is not a listed proxy is the client, whatever it claims.
        ("198.51.100.4", "203.0.113.5", "198.51.100.4"),
        ("198.51.100.4", "10.0.0.7", "198.51.100.4"),
        # IPv6 in the chain.
        ("10.0.0.2", "6.6.6.6, 2001:db8::5", "2001:db8::5"),
    ],
)
async def test_the_client_is_the_right_most_entry_not_a_listed_proxy(
    peer: str, forwarded_for: str, client: str
) -> None:
    app = served("10.0.0.0/24")
    assert (await seen(app, peer, {"X-Forwarded-For": forwarded_for}))[0] == client


async def test_the_scheme_is_taken_from_a_listed_proxy_only() -> None:
    app = served("10.0.0.0/24")
    https = {"X-Forwarded-Proto": "https"}

    assert (await seen(app, "10.0.0.2", https))[1] == "https"
    assert (await seen(app, "198.51.100.4", https))[1] == "http"
    assert (await seen(app, "10.0.0.2", {}))[1] == "http"


async def test_without_a_listed_proxy_nothing_forwarded_counts() -> None:
    app = served("")
    headers = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
    assert await seen(app, "127.0.0.1", headers) == ("127.0.0.1", "http")


async def test_a_wildcard_would_believe_what_the_client_wrote() -> None:
    # Why FORWARDED_ALLOW_IPS refuses "*": uvicorn then takes the left-most entry.
    config = uvicorn.Config(Probe(), log_config=None, proxy_headers=True, forwarded_allow_ips="*")
    config.load()
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.5"}
    assert (await seen(config.loaded_app, "198.51.100.4", headers))[0] == "6.6.6.6"

    with pytest.raises(ConfigurationError, match="FORWARDED_ALLOW_IPS"):
        served("*")
