"""The trash in headless Chromium (SPEC §8 "Web UI"), with and without JavaScript: deleted
tasks restored, deleted for good and emptied after a confirmation, a deleted list's tasks
restored to the default list."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import add, chromium, serve, sign_up, titles
from tests.e2e.conftest import service_app
from tests.e2e.test_lists_browser import SCRIPTS, create_list, new_context, open_list, subtask

SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", tempfile.gettempdir()))
"""Where the test leaves a picture of the trash page, for people to look at."""


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Browser]:
    """Debian's Chromium, headless, started after the service it will browse."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def app_url(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole service on each storage, over loopback HTTP."""
    with serve(service_app(database_url, tmp_path_factory.mktemp("trash"))) as url:
        yield url


def trashed(page: Page) -> list[str]:
    """The titles of the entries the trash page shows, in order."""
    return page.locator(".trash-item .task-title").all_text_contents()


def delete(page: Page, title: str) -> None:
    """Delete a task from the list the page shows."""
    page.get_by_role("button", name=f"Delete “{title}”").click()
    expect(page.locator("#live")).to_contain_text(f"Deleted “{title}”.")


def open_trash(page: Page) -> None:
    """Go to the trash with the link under the lists."""
    page.get_by_role("link", name="Trash", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trash")


@SCRIPTS
def test_deleted_tasks_are_restored_deleted_for_good_and_emptied(
    browser: Browser, app_url: str, scripts: bool
) -> None:
    ctx = new_context(browser, app_url, scripts=scripts)
    page = ctx.new_page()
    sign_up(page)
    for title in ("Milk", "Bread", "Eggs"):
        add(page, title)
    subtask(page, "Milk", "Oat milk")
    delete(page, "Milk")
    delete(page, "Bread")
    assert titles(page) == ["Eggs"]

    open_trash(page)
    assert trashed(page) == ["Bread", "Milk"]
    expect(page.locator(".trash-item").first).to_contain_text("by you")
    page.screenshot(path=str(SCREENSHOTS / f"trash-page-{'js' if scripts else 'no-js'}.png"))
    page.get_by_role("button", name="Restore “Milk”").click()
    expect(page).to_have_url(re.compile(r"/trash\?notice=restored$"))
    expect(page.locator("#live")).to_have_text("Task restored to its list.")
    assert trashed(page) == ["Bread"]

    # Deleting for good asks first; cancelling keeps the task.
    page.get_by_role("link", name="Delete forever “Bread”").click()
    expect(page.get_by_role("heading", name="Delete “Bread” for good?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    assert trashed(page) == ["Bread"]
    page.get_by_role("link", name="Delete forever “Bread”").click()
    page.get_by_role("button", name="Delete forever").click()
    expect(page.locator("#live")).to_have_text("Task deleted for good.")
    expect(page.get_by_text("The trash is empty.")).to_be_visible()

    page.get_by_role("link", name="Back to your tasks").click()
    assert titles(page) == ["Eggs", "Milk", "Oat milk"]
    delete(page, "Eggs")
    open_trash(page)
    page.get_by_role("link", name="Empty trash").click()
    expect(page.get_by_role("heading", name="Empty the trash?")).to_be_visible()
    page.get_by_role("button", name="Empty trash").click()
    expect(page.locator("#live")).to_have_text("Trash emptied.")
    assert trashed(page) == []
    ctx.close()


@SCRIPTS
def test_a_deleted_lists_tasks_come_back_to_the_default_list(
    browser: Browser, app_url: str, scripts: bool
) -> None:
    ctx = new_context(browser, app_url, scripts=scripts)
    page = ctx.new_page()
    sign_up(page)
    create_list(page, "Party")
    add(page, "Bake a cake")
    page.get_by_role("link", name="List settings").click()
    page.get_by_role("link", name="Delete list…").click()
    page.get_by_role("button", name="Delete list").click()
    expect(page.locator("#live")).to_have_text("List deleted.")

    open_trash(page)
    assert trashed(page) == ["Bake a cake"]
    expect(page.locator(".trash-facts")).to_contain_text("From a deleted list")
    page.get_by_role("button", name="Restore “Bake a cake”").click()
    expect(page.locator("#live")).to_have_text("Task restored to its list.")
    page.get_by_role("link", name="Back to your tasks").click()
    open_list(page, "Inbox")
    assert titles(page) == ["Bake a cake"]
    ctx.close()
