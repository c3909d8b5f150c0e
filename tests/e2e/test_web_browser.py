"""The browser UI in headless Chromium against the app served by uvicorn on a loopback port."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from tests.e2e.browser import add, chromium, post_tasks, serve, sign_in, sign_up, titles
from tests.e2e.conftest import service_app
from tests.e2e.web_conftest import PASSWORD

RESULTS: Final = Path(__file__).resolve().parents[2] / "test-results"


@contextmanager
def serve_attacker(target: str) -> Iterator[str]:
    """Another origin whose page auto-submits a form to our task endpoint, without a CSRF token."""
    page = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{target}/tasks"><input name="title" value="planted by another site"></form>
<script>document.getElementById("f").submit()</script>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Browser]:
    """Debian's Chromium, headless, started after the service it will browse: the service's
    async fixtures cannot start inside the event loop that playwright's sync API runs."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def app_url(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole service, as `taskservice serve` builds it, on each storage (PostgreSQL and in
    memory) over loopback HTTP."""
    with serve(service_app(database_url, tmp_path_factory.mktemp("web"))) as url:
        yield url


@pytest.fixture
def context(app_url: str, browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile in Paris time, so that local due times are really converted."""
    ctx = browser.new_context(base_url=app_url, timezone_id="Europe/Paris", locale="en-GB")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def test_a_day_with_tasks(page: Page) -> None:
    email = sign_up(page)
    live = page.locator("#live")
    expect(live).to_contain_text("Welcome!")
    expect(page.get_by_text("No tasks yet")).to_be_visible()

    page.get_by_label("New task").fill("Buy milk")
    page.get_by_text("More details").click()
    page.get_by_label("Description").fill("Two litres\nsemi-skimmed")
    page.get_by_label("Priority").select_option("high")
    page.get_by_label("Tags").fill("Shopping, errands")
    page.get_by_label("Day", exact=True).fill("2030-01-31")
    page.get_by_role("button", name="Add task").click()
    expect(live).to_have_text("Task added.")
    expect(page.locator(".task-title")).to_have_text(["Buy milk"])
    expect(page.locator(".task-description")).to_have_text("Two litres\nsemi-skimmed")
    expect(page.locator(".tag")).to_have_text(["#shopping", "#errands"])
    expect(page.locator(".counts")).to_have_text("1 pending · 0 completed")

    page.get_by_role("link", name="Edit “Buy milk”").click()
    page.get_by_label("Title").fill("Buy oat milk")
    page.get_by_label("Day", exact=True).fill("")
    page.get_by_label("Day and time").fill("2030-02-01T09:30")
    expect(page.get_by_text("Times are in your time zone (Europe/Paris).")).to_be_visible()
    page.get_by_role("button", name="Save changes").click()
    expect(live).to_have_text("Task saved.")
    expect(page.locator(".task-title")).to_have_text(["Buy oat milk"])
    due = page.locator(".due time")
    # 09:30 in Paris in winter is 08:30 UTC; the script shows it back in local time.
    expect(due).to_have_attribute("datetime", "2030-02-01T08:30:00Z")
    expect(due).to_contain_text("09:30")
    page.get_by_role("link", name="Edit “Buy oat milk”").click()
    expect(page.get_by_label("Day and time")).to_have_value("2030-02-01T09:30")
    page.get_by_role("link", name="Cancel").click()

    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Complete “Buy oat milk”").click()
    expect(live).to_have_text("Task completed.")
    expect(page.locator("li.task.is-done")).to_have_count(1)
    expect(page.locator(".counts")).to_have_text("0 pending · 1 completed")
    reopen = page.get_by_role("button", name="Reopen “Buy oat milk”")
    expect(reopen).to_be_focused()
    reopen.click()
    expect(live).to_have_text("Task reopened.")
    expect(page.locator("li.task.is-done")).to_have_count(0)

    page.get_by_role("button", name="Delete “Buy oat milk”").click()
    expect(live).to_contain_text("Deleted “Buy oat milk”.")
    expect(page.locator(".task-title")).to_have_count(0)
    undo = page.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()
    undo.click()
    expect(live).to_have_text("Task restored.")
    expect(page.locator(".task-title")).to_have_text(["Buy oat milk"])
    expect(page.locator(".tag")).to_have_text(["#shopping", "#errands"])
    assert page.evaluate("window.__sameDocument") is True, "the enhanced forms reloaded the page"

    add(page, "Call mum")
    page.get_by_role("button", name="Complete “Call mum”").click()
    expect(page.locator("li.task.is-done")).to_have_count(1)
    page.get_by_role("link", name="Pending", exact=True).click()
    expect(page.locator(".task-title")).to_have_text(["Buy oat milk"])
    page.get_by_role("link", name="Completed", exact=True).click()
    expect(page.locator(".task-title")).to_have_text(["Completed: Call mum"])
    page.get_by_role("link", name="All", exact=True).click()
    page.get_by_label("Sort").select_option("title")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/tasks\?sort=title$"))
    assert titles(page) == ["Buy oat milk", "Call mum"]

    page.get_by_role("button", name="Sign out").click()
    expect(live).to_have_text("You have signed out.")
    page.goto("/tasks?status=pending")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/tasks%3Fstatus%3Dpending$"))
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/tasks\?status=pending$"))
    assert titles(page) == ["Buy oat milk"]


def test_it_works_without_javascript(app_url: str, browser: Browser) -> None:
    ctx = browser.new_context(base_url=app_url, java_script_enabled=False)
    page = ctx.new_page()
    sign_up(page)
    add(page, "No script needed")
    page.get_by_role("button", name="Complete “No script needed”").click()
    expect(page).to_have_url(re.compile(r"/tasks\?notice=completed$"))
    expect(page.locator("li.task.is-done")).to_have_count(1)
    page.get_by_role("button", name="Delete “No script needed”").click()
    expect(page.locator(".task-title")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(page).to_have_url(re.compile(r"/tasks\?notice=restored$"))
    expect(page.locator(".task-title")).to_have_text(["Completed: No script needed"])
    page.get_by_label("New task").fill("x" * 200)
    page.get_by_role("button", name="Add task").click()
    expect(page.locator(".task-title")).to_have_count(2)
    ctx.close()


def test_paging_through_more_than_one_page(page: Page) -> None:
    sign_up(page)
    post_tasks(page, *({"title": f"Task {n:02}"} for n in range(55)))
    page.goto("/tasks")
    expect(page.locator(".task-title")).to_have_count(50)
    expect(page.locator(".counts")).to_have_text("55 pending · 0 completed")
    expect(page.get_by_role("link", name="First page")).to_have_count(0)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator(".task-title")).to_have_text([f"Task {n:02}" for n in range(50, 55)])
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="First page").click()
    expect(page.locator(".task-title").first).to_have_text("Task 00")


def test_a_second_user_sees_none_of_the_first_users_tasks(
    page: Page, browser: Browser, app_url: str
) -> None:
    sign_up(page)
    add(page, "Private plans")
    edit_url = page.get_by_role("link", name="Edit “Private plans”").get_attribute("href")
    assert edit_url is not None
    other = browser.new_context(base_url=app_url)
    stranger = other.new_page()
    sign_up(stranger)
    expect(stranger.get_by_text("No tasks yet")).to_be_visible()
    assert "Private plans" not in stranger.content()
    response = stranger.goto(edit_url)
    assert response is not None
    assert response.status == 404
    expect(stranger.get_by_role("heading", name="Page not found")).to_be_visible()
    other.close()


def test_a_script_in_a_title_is_shown_as_text_and_never_runs(page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_up(page)
    script = "<script>window.__pwned = 1</script>"
    image = '<img src=x onerror="window.__pwned = 2; alert(2)">'
    add(page, script)
    add(page, image)
    expect(page.locator(".task-title")).to_have_text([script, image])
    page.get_by_role("link", name=f"Edit “{script}”").click()
    expect(page.get_by_label("Title")).to_have_value(script)
    page.goto("/tasks")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []


def test_a_cross_site_form_post_is_refused(page: Page, app_url: str) -> None:
    sign_up(page)
    with (
        serve_attacker(app_url) as attacker,
        page.expect_response(f"{app_url}/tasks") as refused,
    ):
        page.goto(attacker)
    assert refused.value.status == 403
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    page.goto("/tasks")
    expect(page.get_by_text("No tasks yet")).to_be_visible()


def test_the_session_cookie_flags(page: Page, context: BrowserContext) -> None:
    sign_up(page)
    cookies = {c["name"]: c for c in context.cookies()}
    assert "session" not in cookies
    session = cookies["__Host-session"]
    assert session["httpOnly"] is True
    assert session["secure"] is True
    assert session["sameSite"] == "Lax"
    assert session["path"] == "/"
    assert session["domain"] == "127.0.0.1"
    expires = datetime.fromtimestamp(session["expires"], UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
    assert page.evaluate("document.cookie") == ""


def test_screenshots_of_the_task_page(page: Page, app_url: str, browser: Browser) -> None:
    RESULTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_up(page, f"ada.{uuid.uuid4().hex[:6]}@example.com")
    today = datetime.now(UTC).date()
    post_tasks(
        page,
        {
            "title": "Renew passport",
            "due_date": (today - timedelta(days=2)).isoformat(),
            "priority": "high",
        },
        {"title": "Pick up the dry cleaning", "due_date": today.isoformat(), "tags": "errands"},
        {
            "title": "Send the quarterly report",
            "description": "Numbers from finance, charts from Sam.\nShare with the board.",
            "priority": "medium",
            "tags": "work",
            "due_at": f"{(today + timedelta(days=1)).isoformat()}T15:00",
        },
        {
            "title": "Book dentist appointment",
            "tags": "health",
            "due_date": (today + timedelta(days=9)).isoformat(),
        },
        {"title": "Water the plants", "priority": "low", "tags": "home, weekly"},
        {"title": "Read “The Pragmatic Programmer”", "description": "Chapter 3 next."},
    )
    page.goto("/tasks")
    page.get_by_role("button", name="Complete “Book dentist appointment”").click()
    expect(page.locator("#live")).to_have_text("Task completed.")
    page.screenshot(path=RESULTS / "tasks-desktop.png", full_page=True)
    page.get_by_role("link", name="Edit “Send the quarterly report”").click()
    page.screenshot(path=RESULTS / "edit-desktop.png", full_page=True)

    mobile = browser.new_context(
        base_url=app_url,
        storage_state=page.context.storage_state(),
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    phone = mobile.new_page()
    phone.goto("/tasks")
    expect(phone.locator(".task-title")).to_have_count(6)
    phone.screenshot(path=RESULTS / "tasks-mobile.png", full_page=True)
    phone.get_by_label("New task").fill("x" * 5)
    phone.get_by_label("New task").evaluate("input => input.value = ' '")
    phone.get_by_role("button", name="Add task").click()
    expect(phone.locator("#title-error")).to_be_visible()
    phone.screenshot(path=RESULTS / "tasks-mobile-error.png", full_page=True)
    mobile.close()

    page.context.clear_cookies()
    page.goto("/sign-in")
    page.screenshot(path=RESULTS / "sign-in-desktop.png")
    assert (RESULTS / "tasks-desktop.png").stat().st_size > 10_000


def test_the_settings_page(page: Page) -> None:
    email = sign_up(page)
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page).to_have_url(re.compile(r"/settings$"))

    page.get_by_label("Name").fill("nightly backup")
    page.get_by_label("Read and write tasks").check()
    page.get_by_label("Expires after").select_option("7")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").input_value()
    assert re.fullmatch(r"tsk_[A-Za-z0-9]{40}", secret)
    expect(page.locator(".token-name")).to_have_text(["nightly backup"])
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "settings-local.png"), full_page=True)

    page.get_by_role("button", name="Revoke nightly backup").click()
    expect(page.locator("h1")).to_have_text("Revoke the token “nightly backup”?")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator("#live")).to_contain_text("The token is revoked")
    expect(page.get_by_text("You have no tokens.")).to_be_visible()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#live")).to_contain_text("Your password is changed")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download your data").click()
    document = json.loads(Path(download.value.path()).read_text())
    assert document["account"]["email"] == email

    page.get_by_role("link", name="Delete account…").click()
    page.get_by_label("Your password").fill("a brand new password")
    page.get_by_label(re.compile("I understand")).check()
    page.screenshot(path=str(RESULTS / "delete-account.png"), full_page=True)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#live")).to_have_text(
        "Your account and everything it held have been deleted."
    )
    sign_in(page, email)
    expect(page.locator(".alert")).to_contain_text("incorrect")
