"""Live updates in headless Chromium (SPEC §8 "Web UI"): a change made in one browser appears in
another that shows the same list, without a reload; without JavaScript the pages stay as served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import add, chromium, serve, sign_in, sign_up
from tests.e2e.conftest import service_app

LIVE_WITHIN: Final = 2_000
"""Milliseconds a change may take to show in the other browser (SPEC: within a second across
processes; a second more for the page's refresh)."""


@pytest.fixture(scope="module")
def app_url(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole service on each storage, over loopback HTTP."""
    with serve(service_app(database_url, tmp_path_factory.mktemp("live"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Browser]:
    """Debian's Chromium, started after the service it browses."""
    with chromium() as launched:
        yield launched


def new_context(browser: Browser, app_url: str, *, scripts: bool = True) -> BrowserContext:
    """Another device: a fresh browser profile, with or without JavaScript."""
    ctx = browser.new_context(base_url=app_url, java_script_enabled=scripts)
    ctx.set_default_timeout(10_000)
    return ctx


def signed_in_elsewhere(browser: Browser, app_url: str, email: str, *, scripts: bool) -> Page:
    """The account `email` signed in on another device, showing its task list."""
    page = new_context(browser, app_url, scripts=scripts).new_page()
    page.goto("/sign-in")
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/tasks$"))
    return page


def test_a_task_added_on_one_device_appears_on_the_other(app_url: str, browser: Browser) -> None:
    phone = new_context(browser, app_url).new_page()
    email = sign_up(phone)
    laptop = signed_in_elsewhere(browser, app_url, email, scripts=True)
    offline = signed_in_elsewhere(browser, app_url, email, scripts=False)
    # The laptop's stream is open once the page has loaded its script; what it shows is current.
    expect(laptop.locator(".task-title")).to_have_count(0)

    add(phone, "Buy bread")
    expect(laptop.locator(".task-title", has_text="Buy bread")).to_be_visible(timeout=LIVE_WITHIN)
    expect(laptop.locator(".list-count").first).to_have_text("1", timeout=LIVE_WITHIN)

    phone.get_by_role("button", name=re.compile(r"^Complete ")).first.click()
    expect(laptop.locator(".task-title", has_text="Buy bread")).to_have_count(1)
    expect(laptop.locator(".list-count").first).to_have_text("0", timeout=LIVE_WITHIN)

    # A refresh keeps the focus where it was: on the same control of the fresh list.
    reopen = laptop.get_by_role("button", name="Reopen “Buy bread”")
    reopen.focus()
    add(phone, "Buy milk")
    expect(laptop.locator(".task-title", has_text="Buy milk")).to_be_visible(timeout=LIVE_WITHIN)
    expect(reopen).to_be_focused()

    # Without JavaScript the page is as it was served, and a reload shows the change.
    expect(offline.locator(".task-title")).to_have_count(0)
    offline.reload()
    expect(offline.locator(".task-title", has_text="Buy bread")).to_be_visible()
    expect(offline.locator(".task-title", has_text="Buy milk")).to_be_visible()
    for page in (phone, laptop, offline):
        page.context.close()
