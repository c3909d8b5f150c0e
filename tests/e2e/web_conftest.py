"""The browser UI for tests: its routes and headers on swappable storage, and an HTML reader."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Final

import attrs
import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware

from adapters.auth import Argon2Hasher, SecretIssuer, SecretVerifier
from adapters.memory import AlwaysReady, MemoryStore
from adapters.throttle import LimitsThrottle
from adapters.web import WebDependencies, WebSecurityHeaders, web_routes
from domain.throttling import Bucket
from taskservice.bootstrap import Adapters, bind_use_cases
from taskservice.clock import SystemClock
from taskservice.ports import Clock, Throttle, UnitOfWorkFactory
from tests.sealing import SEALER
from tests.tokens import SECRET

Client = httpx.AsyncClient
BASE: Final = "https://testserver"
CSRF_SECRET: Final = b"csrf-secret-of-the-web-tests-0123456789abcdef"
PASSWORD: Final = "correct horse battery"
LOOSE_LIMITS: Final = dict.fromkeys(Bucket, "1000/minute")


def storage() -> UnitOfWorkFactory:
    """The storage the web tests run on (swap for SqlUnitOfWorkFactory to run on PostgreSQL)."""
    return MemoryStore()


def web_app(
    uow: UnitOfWorkFactory | None = None,
    *,
    clock: Clock | None = None,
    throttle: Throttle | None = None,
    cookie_secure: bool = True,
    allow_signup: bool = True,
    closers: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Starlette:
    """The web UI's routes behind its security headers, on real auth adapters.

    `closers` run at the end of the app's lifespan, inside the loop that served it (e.g. the
    `dispose` of a SQL engine, whose connections belong to that loop).
    """
    adapters = Adapters(
        uow=uow or storage(),
        readiness=AlwaysReady(),
        verifier=SecretVerifier(SECRET),
        issuer=SecretIssuer(SECRET, issuer=None),
        hasher=Argon2Hasher(),
        throttle=throttle or LimitsThrottle(LOOSE_LIMITS),
        clock=clock or SystemClock(),
    )
    deps = WebDependencies(
        use_cases=bind_use_cases(adapters, SEALER, allow_signup=allow_signup),
        clock=adapters.clock,
        sealer=SEALER,
        cookie_secure=cookie_secure,
        csrf_secret=CSRF_SECRET,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for close in closers:
            await close()

    return Starlette(
        routes=web_routes(deps), middleware=[Middleware(WebSecurityHeaders)], lifespan=lifespan
    )


def new_email() -> str:
    """An e-mail address no test has used."""
    return f"person.{uuid.uuid4().hex[:10]}@example.com"


def client_for(app: Starlette) -> Client:
    """A cookie-keeping client that follows no redirects (https, so Secure cookies come back)."""
    return Client(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def sign_up(client: Client, email: str | None = None) -> httpx.Response:
    """A new account through the sign-up form; the client keeps its session cookie."""
    page = Html((await client.get("/sign-up")).text)
    response = await client.post(
        "/sign-up",
        data={
            "csrf_token": page.value("csrf_token"),
            "email": email or new_email(),
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    return response


async def csrf(client: Client) -> str:
    """The CSRF token of the client's session, as its pages carry it."""
    return Html((await client.get("/tasks")).text).value("csrf_token")


async def post(client: Client, url: str, **fields: str) -> httpx.Response:
    """Post a form the way our pages do, with the session's CSRF token unless one is given."""
    if "csrf_token" not in fields:
        fields["csrf_token"] = await csrf(client)
    return await client.post(url, data=fields)


async def titles(client: Client, url: str = "/tasks") -> list[str]:
    """The titles of the tasks the page at `url` shows, in order."""
    page = Html((await client.get(url)).text)
    return [t.removeprefix("Completed: ") for t in page.by_class("task-title")]


_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@attrs.define
class _Open:
    tag: str
    attributes: dict[str, str]
    text: list[str] = attrs.Factory(list)


class Html(HTMLParser):
    """What the tests read from a page: text by element id, inputs by name, links by text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, str] = {}
        self.elements: list[tuple[str, dict[str, str], str]] = []
        self.inputs: dict[str, list[dict[str, str]]] = {}
        self.links: list[tuple[str, str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._open: list[_Open] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        """Record the element and keep it open for its text."""
        values = {k: v or "" for k, v in attributes}
        self.tags.append((tag, values))
        if tag == "input" and "name" in values:
            self.inputs.setdefault(values["name"], []).append(values)
        if tag not in _VOID:
            self._open.append(_Open(tag, values))

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost element of this tag and file its text."""
        while self._open:
            element = self._open.pop()
            text = " ".join("".join(element.text).split())
            self.elements.append((element.tag, element.attributes, text))
            if "id" in element.attributes:
                self.texts[element.attributes["id"]] = text
            if element.tag == "a":
                self.links.append((text, element.attributes.get("href", "")))
            if element.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        """Add text to every open element."""
        for element in self._open:
            element.text.append(data)

    def value(self, name: str) -> str:
        """The value of the first input called `name`."""
        return self.inputs[name][0].get("value", "")

    def link(self, text: str) -> str:
        """The href of the first link whose text is `text`."""
        return next(href for label, href in self.links if label == text)

    def has_link(self, text: str) -> bool:
        """Whether a link with this text exists."""
        return any(label == text for label, _ in self.links)

    def by_class(self, css_class: str) -> list[str]:
        """The texts of the elements carrying `css_class`, in document order of their ends."""
        return [t for _, a, t in self.elements if css_class in a.get("class", "").split()]

    def count(self, tag: str, css_class: str) -> int:
        """How many `tag` elements carry `css_class`."""
        return sum(1 for t, a in self.tags if t == tag and css_class in a.get("class", "").split())
