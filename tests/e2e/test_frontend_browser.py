"""A page in the manner of the Next.js + Better Auth frontends, in headless Chromium (SPEC §11).

The page (tests/e2e/frontend) lives on an origin of its own, reads its bearer token from a cookie
that script can read, and calls the API in the plain style over real HTTP with `fetch`: CORS is
what lets it, exactly as for those frontends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from taskservice.bootstrap import build_app
from tests.e2e.browser import chromium, serve, serve_files
from tests.e2e.conftest import settings_for
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

PAGE: Final = Path(__file__).parent / "frontend"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def frontend() -> Iterator[str]:
    """The page's origin, listed in CORS_ORIGINS."""
    with serve_files(PAGE) as origin:
        yield origin


@pytest.fixture(scope="module")
def api(
    migrated_postgres_url: str, tmp_path_factory: pytest.TempPathFactory, frontend: str
) -> Iterator[str]:
    """The service in the plain style over loopback HTTP, open to the page's origin only."""
    settings = settings_for(
        migrated_postgres_url,
        tmp_path_factory.mktemp("frontend"),
        api_style="plain",
        cors_origins=(frontend,),
    )
    with serve(build_app(settings)) as url:
        yield url


def open_page(browser: Browser, origin: str, api: str, user: str) -> Page:
    """The page at `origin`, signed in as `user` the way such a frontend keeps its session."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": "auth_token", "value": hs256(user), "url": origin}])
    page = context.new_page()
    page.goto(f"{origin}/index.html?api={api}")
    return page


def test_list_create_toggle_and_back_delete_and_an_error_from_another_origin(
    browser: Browser, frontend: str, api: str
) -> None:
    page = open_page(browser, frontend, api, f"next-{uuid.uuid4().hex[:8]}")
    sent: list[Request] = []
    page.on(
        "request", lambda request: sent.append(request) if request.url.startswith(api) else None
    )
    counts = page.locator("#counts")
    expect(counts).to_have_text("0 pending · 0 completed")

    page.get_by_label("New task").fill("Buy milk")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".task .title")).to_have_text(["Buy milk"])
    expect(counts).to_have_text("1 pending · 0 completed")

    page.get_by_role("button", name="Mark complete").click()
    expect(page.locator(".task.done .title")).to_have_text(["Buy milk"])
    expect(counts).to_have_text("0 pending · 1 completed")
    page.get_by_role("button", name="Mark incomplete").click()
    expect(page.locator(".task.done")).to_have_count(0)
    expect(counts).to_have_text("1 pending · 0 completed")

    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("alert")).to_have_text("The title cannot be empty.")

    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".task")).to_have_count(0)
    expect(counts).to_have_text("0 pending · 0 completed")
    expect(page.get_by_role("alert")).to_have_text("")

    toggles = [r for r in sent if r.method == "PATCH"]
    assert [r.url.endswith("/complete") for r in toggles] == [True, True]
    assert [r.post_data for r in toggles] == [None, None]
    assert {r.all_headers()["origin"] for r in sent} == {frontend}
    page.context.close()


def test_an_origin_not_in_cors_origins_cannot_read_the_api(browser: Browser, api: str) -> None:
    with serve_files(PAGE) as elsewhere:
        page = open_page(browser, elsewhere, api, f"next-{uuid.uuid4().hex[:8]}")
        expect(page.get_by_role("alert")).to_have_text("Failed to fetch")
        expect(page.locator("#counts")).to_have_text("")
        page.context.close()
