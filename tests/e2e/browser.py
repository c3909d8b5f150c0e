"""Headless Chromium, real HTTP servers on loopback ports, and what the browser tests do on our
pages (sign up, sign in, add tasks, read titles)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from starlette.types import ASGIApp

from tests.e2e.web_conftest import PASSWORD, new_email
from tests.infra.processes import unavailable

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; a missing one skips locally and fails in CI."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def loopback_socket() -> socket.socket:
    """A socket bound to a free loopback port, for a server whose URL must be known first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: ASGIApp, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread on `sock` (else a free loopback port);
    yield its URL."""
    sock = sock or loopback_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serve_files(directory: Path) -> Iterator[str]:
    """Serve the files of `directory` on a free loopback port (an origin of its own)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def sign_up(page: Page, email: str | None = None) -> str:
    """A new account, signed in on `page` (which lands on its task list); its e-mail."""
    email = email or new_email()
    page.goto("/sign-up")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/tasks\?notice=welcome$"))
    return email


def sign_in(page: Page, email: str) -> None:
    """Fill in and send the sign-in form that `page` shows."""
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def add(page: Page, title: str) -> None:
    """Add a task with the composer of the list `page` shows."""
    page.get_by_label("New task").fill(title)
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#live")).to_have_text("Task added.")


def post_tasks(page: Page, *tasks: dict[str, str]) -> None:
    """Create tasks fast through the UI's own form endpoint, with the page's CSRF token."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    for fields in tasks:
        response = page.request.post(
            "/tasks", form={"csrf_token": token, **fields}, max_redirects=0
        )
        assert response.status == 303, response.text()


def titles(page: Page) -> list[str]:
    """The titles of the tasks `page` shows, in order, subtasks included."""
    return [t.removeprefix("Completed: ") for t in page.locator(".task-title").all_text_contents()]
