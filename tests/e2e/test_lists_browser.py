"""Lists in headless Chromium (SPEC §7 "Web UI"), with and without JavaScript: the switcher,
lists made, renamed and deleted, moves between lists, reordering by buttons and by drag and
drop, subtasks, and sharing between two browsers."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import add, chromium, post_tasks, serve, sign_in, sign_up, titles
from tests.e2e.conftest import service_app

SCRIPTS = pytest.mark.parametrize("scripts", [True, False], ids=["js", "no-js"])


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Browser]:
    """Debian's Chromium, headless, started after the service it will browse: the service's
    async fixtures cannot start inside the event loop that playwright's sync API runs."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def app_url(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole service on each storage, over loopback HTTP."""
    with serve(service_app(database_url, tmp_path_factory.mktemp("lists"))) as url:
        yield url


def new_context(browser: Browser, app_url: str, *, scripts: bool = True) -> BrowserContext:
    """A fresh browser profile (another person), with or without JavaScript."""
    ctx = browser.new_context(
        base_url=app_url, java_script_enabled=scripts, viewport={"width": 1280, "height": 900}
    )
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def page(app_url: str, browser: Browser) -> Iterator[Page]:
    ctx = new_context(browser, app_url)
    yield ctx.new_page()
    ctx.close()


def switcher(page: Page) -> list[str]:
    """The names of the lists in the switcher, in order."""
    return [name.strip() for name in page.locator(".list-links .list-name").all_text_contents()]


def create_list(page: Page, name: str) -> None:
    """Create a list with the switcher's form; the page then shows it."""
    page.get_by_label("New list").fill(name)
    page.get_by_role("button", name="Create list").click()
    expect(page.locator("#live")).to_have_text("List created.")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def open_list(page: Page, name: str) -> None:
    """Switch to the list `name` with the switcher."""
    page.locator(".list-links a", has_text=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def subtask(page: Page, parent: str, title: str) -> None:
    """Add a subtask under `parent` with the form beneath it."""
    page.get_by_text(f"Add subtask to “{parent}”").click()
    page.get_by_label(f"Subtask of “{parent}”").fill(title)
    page.get_by_label(f"Subtask of “{parent}”").press("Enter")
    expect(page.locator("#live")).to_have_text("Task added.")


def subtasks_of(page: Page, parent: str) -> list[str]:
    """The titles of the subtasks shown under `parent`."""
    item = page.locator(
        "li.task", has=page.locator(":scope > .task-row .task-title", has_text=parent)
    )
    return item.locator(".subtasks .task-title").all_text_contents()


@SCRIPTS
def test_lists_are_made_switched_renamed_and_deleted(
    browser: Browser, app_url: str, scripts: bool
) -> None:
    ctx = new_context(browser, app_url, scripts=scripts)
    page = ctx.new_page()
    sign_up(page)
    assert switcher(page) == ["Inbox"]
    expect(page.locator(".list-link[aria-current=page]")).to_contain_text("Inbox")
    create_list(page, "Groceries")
    create_list(page, "Chores")
    assert switcher(page) == ["Inbox", "Chores", "Groceries"]
    expect(page.locator(".list-link[aria-current=page]")).to_contain_text("Chores")

    open_list(page, "Groceries")
    add(page, "Milk")
    open_list(page, "Inbox")
    expect(page.get_by_text("No tasks yet")).to_be_visible()
    open_list(page, "Groceries")
    assert titles(page) == ["Milk"]
    expect(page.get_by_role("link", name="Groceries, 1 pending")).to_have_count(1)

    page.get_by_role("link", name="List settings").click()
    page.get_by_label("Name of the list").fill("Food & drink")
    page.get_by_role("button", name="Rename list").click()
    expect(page.locator("#live")).to_have_text("List renamed.")
    assert switcher(page) == ["Inbox", "Chores", "Food & drink"]

    page.get_by_role("link", name="List settings").click()
    page.get_by_role("link", name="Delete list…").click()
    expect(page.get_by_role("heading", name="Delete “Food & drink”?")).to_be_visible()
    expect(page.get_by_text("Its 1 task goes to your trash")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    assert titles(page) == ["Milk"]
    page.get_by_role("link", name="List settings").click()
    page.get_by_role("link", name="Delete list…").click()
    page.get_by_role("button", name="Delete list").click()
    expect(page).to_have_url(re.compile(r"/tasks\?notice=list_deleted$"))
    expect(page.locator("#live")).to_have_text("List deleted.")
    assert switcher(page) == ["Inbox", "Chores"]

    # The default list is renamed like any other, and the page says why it stays.
    open_list(page, "Inbox")
    page.get_by_role("link", name="List settings").click()
    expect(page.get_by_text("The default list cannot be deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Delete list…")).to_have_count(0)
    expect(page.get_by_role("link", name="Share", exact=True)).to_have_count(0)
    ctx.close()


@SCRIPTS
def test_a_task_moves_to_another_list_with_its_subtasks(
    browser: Browser, app_url: str, scripts: bool
) -> None:
    ctx = new_context(browser, app_url, scripts=scripts)
    page = ctx.new_page()
    sign_up(page)
    create_list(page, "Party")
    open_list(page, "Inbox")
    add(page, "Bake a cake")
    subtask(page, "Bake a cake", "Buy flour")
    subtask(page, "Bake a cake", "Buy eggs")
    add(page, "Call mum")

    page.get_by_role("link", name="Edit “Bake a cake”").click()
    expect(page.get_by_text("It goes to the end of that list, with its subtasks.")).to_be_visible()
    page.get_by_label("Move to another list").select_option(label="Party")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("#live")).to_have_text("Task moved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    assert titles(page) == ["Call mum"]
    open_list(page, "Party")
    assert titles(page) == ["Bake a cake", "Buy flour", "Buy eggs"]
    assert subtasks_of(page, "Bake a cake") == ["Buy flour", "Buy eggs"]

    # A subtask leaves its parent: it becomes a task of its own at the end.
    page.get_by_role("link", name="Edit “Buy flour”").click()
    page.get_by_role("button", name="Make it a task of its own").click()
    expect(page.locator("#live")).to_have_text("Task moved.")
    assert subtasks_of(page, "Bake a cake") == ["Buy eggs"]
    assert titles(page) == ["Bake a cake", "Buy eggs", "Buy flour"]
    ctx.close()


def test_reordering_by_buttons_works_without_javascript(app_url: str, browser: Browser) -> None:
    ctx = new_context(browser, app_url, scripts=False)
    page = ctx.new_page()
    sign_up(page)
    for title in ("Apples", "Bread", "Cheese"):
        add(page, title)
    expect(page.get_by_role("button", name="Move “Apples” up")).to_have_count(0)
    expect(page.get_by_role("button", name="Move “Cheese” down")).to_have_count(0)
    page.get_by_role("button", name="Move “Cheese” up").click()
    expect(page).to_have_url(re.compile(r"/tasks\?notice=moved$"))
    assert titles(page) == ["Apples", "Cheese", "Bread"]
    page.get_by_role("button", name="Move “Cheese” up").click()
    assert titles(page) == ["Cheese", "Apples", "Bread"]
    page.get_by_role("button", name="Move “Apples” down").click()
    assert titles(page) == ["Cheese", "Bread", "Apples"]

    subtask(page, "Bread", "Rye")
    subtask(page, "Bread", "Spelt")
    page.get_by_role("button", name="Move “Spelt” up").click()
    assert subtasks_of(page, "Bread") == ["Spelt", "Rye"]
    # A parent moves with its subtasks.
    page.get_by_role("button", name="Move “Bread” up").click()
    assert titles(page) == ["Bread", "Spelt", "Rye", "Cheese", "Apples"]
    # Other orders show no reorder buttons.
    page.get_by_label("Sort").select_option("title")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".reorder")).to_have_count(0)
    ctx.close()


def test_reordering_by_drag_and_drop(app_url: str, browser: Browser) -> None:
    ctx = new_context(browser, app_url)
    page = ctx.new_page()
    sign_up(page)
    create_list(page, "Later")
    open_list(page, "Inbox")
    post_tasks(page, *({"title": t} for t in ("Apples", "Bread", "Cheese", "Dates")))
    page.goto("/tasks")
    page.evaluate("window.__sameDocument = true")

    page.locator(".task-row", has_text="Dates").drag_to(
        page.locator(".task-row", has_text="Apples"), target_position={"x": 200, "y": 4}
    )
    expect(page.locator("#live")).to_have_text("Task moved.")
    expect(page.locator(".task-title")).to_have_text(["Dates", "Apples", "Bread", "Cheese"])
    # The rows move at once, the answer comes later: the next drag waits for it, or the page
    # it brings could replace the rows under that drag.
    page.evaluate("document.getElementById('live').textContent = ''")
    page.locator(".task-row", has_text="Apples").drag_to(
        page.locator(".task-row", has_text="Cheese"), target_position={"x": 200, "y": 50}
    )
    expect(page.locator("#live")).to_have_text("Task moved.")
    expect(page.locator(".task-title")).to_have_text(["Dates", "Bread", "Cheese", "Apples"])
    # A task dropped on another list in the switcher moves there.
    page.locator(".task-row", has_text="Bread").drag_to(
        page.locator(".list-link", has_text="Later")
    )
    expect(page.locator(".task-title")).to_have_text(["Dates", "Cheese", "Apples"])
    assert page.evaluate("window.__sameDocument") is True, "the drops reloaded the page"

    page.reload()
    assert titles(page) == ["Dates", "Cheese", "Apples"]
    open_list(page, "Later")
    assert titles(page) == ["Bread"]
    ctx.close()


@SCRIPTS
def test_subtasks_are_added_and_shown_under_their_parent(
    browser: Browser, app_url: str, scripts: bool
) -> None:
    ctx = new_context(browser, app_url, scripts=scripts)
    page = ctx.new_page()
    sign_up(page)
    add(page, "Plan the trip")
    add(page, "Pack")
    subtask(page, "Plan the trip", "Book the train")
    subtask(page, "Plan the trip", "Find a hotel")
    subtask(page, "Pack", "Toothbrush")
    assert titles(page) == ["Plan the trip", "Book the train", "Find a hotel", "Pack", "Toothbrush"]
    assert subtasks_of(page, "Plan the trip") == ["Book the train", "Find a hotel"]
    assert subtasks_of(page, "Pack") == ["Toothbrush"]
    # Subtasks are one level deep: a subtask offers no subtask form.
    expect(page.get_by_text("Add subtask to “Book the train”")).to_have_count(0)
    page.get_by_role("button", name="Complete “Book the train”").click()
    expect(page.locator("#live")).to_have_text("Task completed.")
    expect(page.locator(".counts")).to_have_text("4 pending · 1 completed")
    # In another order a subtask says whose it is.
    page.goto("/tasks?sort=title")
    expect(page.locator("#task-region .task-parent")).to_have_text(
        ["Subtask of “Plan the trip”", "Subtask of “Plan the trip”", "Subtask of “Pack”"]
    )
    ctx.close()


def test_a_list_is_shared_by_an_invite_and_unshared(app_url: str, browser: Browser) -> None:
    owner_ctx = new_context(browser, app_url)
    owner = owner_ctx.new_page()
    sign_up(owner)
    create_list(owner, "Groceries")
    add(owner, "Milk")
    owner.get_by_role("link", name="Share", exact=True).click()
    owner.get_by_label("Joins as").select_option("editor")
    owner.get_by_role("button", name="Make an invite link").click()
    link = owner.get_by_label("Invite link").input_value()
    assert re.fullmatch(rf"{re.escape(app_url)}/invites/[A-Za-z0-9_-]{{43}}", link), link
    expect(owner.get_by_role("button", name="Copy link")).to_be_visible()
    expect(owner.locator(".invite .row-title")).to_have_text(["Editor"])

    # Someone with an account, signed out, opens the link: sign in first, then back to it.
    friend_ctx = new_context(browser, app_url, scripts=False)
    friend = friend_ctx.new_page()
    email = sign_up(friend)
    friend.get_by_role("button", name="Sign out").click()
    friend.goto(link)
    expect(friend).to_have_url(re.compile(r"/sign-in\?next=/invites/"))
    sign_in(friend, email)
    expect(friend).to_have_url(link)
    expect(friend.get_by_role("heading", name="Join “Groceries”")).to_be_visible()
    expect(friend.get_by_text("As an editor you can add")).to_be_visible()
    friend.get_by_role("button", name="Accept and join").click()
    expect(friend.locator("#live")).to_have_text("You have joined the list.")
    expect(friend.get_by_role("heading", level=1)).to_have_text("Groceries")
    assert titles(friend) == ["Milk"]
    assert switcher(friend) == ["Inbox", "Groceries"]
    add(friend, "Eggs")
    groceries = friend.url

    # The link worked once.
    friend.goto(link)
    expect(friend.get_by_role("heading", name="This invite cannot be used")).to_be_visible()

    owner.goto("/tasks")
    open_list(owner, "Groceries")
    assert titles(owner) == ["Milk", "Eggs"]
    expect(owner.locator(".list-facts")).to_contain_text("Shared by 2 people")
    owner.get_by_role("link", name="Share", exact=True).click()
    expect(owner.locator(".member .row-title")).to_have_count(2)
    expect(owner.locator(".invite")).to_have_count(0)
    owner.get_by_role("button", name=re.compile(r"^Remove ")).click()
    expect(owner.locator("#live")).to_have_text("Member removed. They no longer see this list.")
    expect(owner.locator(".member .row-title")).to_have_count(1)

    # Their next page shows the list gone.
    response = friend.goto(groceries)
    assert response is not None
    assert response.status == 404
    expect(friend.get_by_role("heading", name="List not found")).to_be_visible()
    friend.get_by_role("link", name="Back to your tasks").click()
    assert switcher(friend) == ["Inbox"]
    owner_ctx.close()
    friend_ctx.close()


def test_screenshots_of_a_shared_list(app_url: str, browser: Browser) -> None:
    shots = Path(tempfile.mkdtemp(prefix="lists-screens-"))
    owner_ctx = new_context(browser, app_url)
    owner = owner_ctx.new_page()
    sign_up(owner, f"ada.{uuid.uuid4().hex[:6]}@example.com")
    create_list(owner, "Weekend trip")
    create_list(owner, "Groceries")
    for title in ("Oat milk", "Bread", "Apples"):
        add(owner, title)
    subtask(owner, "Bread", "Sourdough from the bakery")
    subtask(owner, "Bread", "Ask for it sliced")
    owner.get_by_role("button", name="Complete “Ask for it sliced”").click()
    expect(owner.locator("#live")).to_have_text("Task completed.")
    owner.get_by_role("link", name="Share", exact=True).click()
    owner.get_by_role("button", name="Make an invite link").click()
    link = owner.get_by_label("Invite link").input_value()

    friend_ctx = new_context(browser, app_url)
    friend = friend_ctx.new_page()
    sign_up(friend, f"sam.{uuid.uuid4().hex[:6]}@example.com")
    friend.goto(link)
    friend.screenshot(path=shots / "invite.png", full_page=True)
    friend.get_by_role("button", name="Accept and join").click()
    expect(friend.locator("#live")).to_have_text("You have joined the list.")

    owner.get_by_label("Joins as").select_option("viewer")
    owner.get_by_label("Link works for").select_option(label="1 day")
    owner.get_by_role("button", name="Make another link").click()
    owner.screenshot(path=shots / "share.png", full_page=True)
    owner.goto("/tasks")
    open_list(owner, "Groceries")
    owner.locator(".task-row", has_text="Apples").hover()
    owner.screenshot(path=shots / "list.png", full_page=True)
    owner.get_by_role("link", name="Edit “Sourdough from the bakery”").click()
    owner.screenshot(path=shots / "edit-subtask.png", full_page=True)
    owner.go_back()
    owner.get_by_role("link", name="List settings").click()
    owner.get_by_role("link", name="Delete list…").click()
    owner.screenshot(path=shots / "delete.png", full_page=True)
    friend.get_by_role("link", name="Members").click()
    friend.screenshot(path=shots / "members.png", full_page=True)

    phone_ctx = browser.new_context(
        base_url=app_url,
        storage_state=owner_ctx.storage_state(),
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    phone = phone_ctx.new_page()
    phone.goto(owner.url)
    phone.screenshot(path=shots / "list-mobile.png", full_page=True)
    print(f"screenshots in {shots}")
    for name in ("invite", "share", "list", "edit-subtask", "delete", "members", "list-mobile"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
    phone_ctx.close()
    owner_ctx.close()
    friend_ctx.close()
