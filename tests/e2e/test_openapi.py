"""/openapi.json lists exactly the routes the app answers; /docs is served entirely by the app."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from adapters.http.openapi import openapi_document
from adapters.http.style import STYLES

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def documented(paths: dict[str, dict[str, object]]) -> dict[str, set[str]]:
    """Each documented path and its methods."""
    return {path: {m.upper() for m in item if m in HTTP_METHODS} for path, item in paths.items()}


def answered(app: Starlette) -> dict[str, set[str]]:
    """Each /api, /healthz and /readyz route of the app and its methods (HEAD comes with GET)."""
    routes: dict[str, set[str]] = {}
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        if route.path.startswith("/api/") or route.path in {"/healthz", "/readyz"}:
            routes.setdefault(route.path, set()).update((route.methods or set()) - {"HEAD"})
    return routes


def test_the_document_lists_exactly_the_routes_the_app_answers(app: Starlette) -> None:
    assert documented(openapi_document()["paths"]) == answered(app)


async def test_the_served_document_is_openapi_3_1_in_the_style_in_force(
    client: Client, api_style: str
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document == json.loads(json.dumps(openapi_document(STYLES[api_style])))


def test_the_plain_document_describes_bare_bodies_headers_and_the_frontends_names() -> None:
    document = openapi_document(STYLES["plain"])
    listing = document["paths"]["/api/{user_id}/tasks"]["get"]
    ok = listing["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Task"},
    }
    assert {"Link", "X-Total-Count", "X-Pending-Count", "X-Completed-Count"} <= ok["headers"].keys()
    assert {"search", "completed", "order"} <= {p["name"] for p in listing["parameters"]}
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "error"]
    created = document["paths"]["/api/{user_id}/tasks"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Task"}
    assert "ListMeta" not in document["components"]["schemas"]


def test_every_operation_documents_its_errors_and_request_id() -> None:
    document = openapi_document()
    shared = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation["responses"]
            if path.startswith("/api/"):
                assert {"500", "503"} <= responses.keys(), (path, method)
            if operation.get("security"):
                assert "401" in responses, (path, method)
            for status, response in responses.items():
                resolved = (
                    shared[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
                )
                assert "X-Request-ID" in resolved["headers"], (path, method, status)


class _Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append(value)


async def test_docs_load_everything_from_the_app_itself(client: Client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(?i)\b(?:https?:)?//", page.text), "the page names another host"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert not re.search(r"https?://", csp)

    parser = _Assets()
    parser.feed(page.text)
    assert parser.urls, "the page loads its assets"
    for url in parser.urls:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    init = await client.get("/docs/assets/docs-init.js")
    assert "/openapi.json" in init.text
