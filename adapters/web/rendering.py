"""Jinja2 templates (autoescaped), the static files' URLs and the date formats pages show."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import jinja2
from starlette.responses import HTMLResponse

from domain.tasks import Task

PACKAGE_DIR: Final = Path(__file__).parent
TEMPLATES_DIR: Final = PACKAGE_DIR / "templates"
STATIC_DIR: Final = PACKAGE_DIR / "static"


class Views:
    """Renders the page templates into responses that no cache keeps."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(static=static_url, due_state=due_state)
        self.env.filters.update(day=day_label, moment=moment_label, iso=iso_moment)

    def render(
        self,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The page `template` filled with `context`."""
        html = self.env.get_template(template).render(context)
        response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
        # Pages carry the user's tasks and CSRF tokens: keep them out of every cache.
        response.headers["Cache-Control"] = "no-store"
        return response


@cache
def static_url(name: str) -> str:
    """The URL of a static file, with a content hash so that browsers may cache it safely."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


def day_label(value: date) -> str:
    """A calendar date the way people write it, e.g. "Fri, 31 Jan 2030"."""
    return f"{value:%a}, {value.day} {value:%b %Y}"


def moment_label(value: datetime) -> str:
    """A moment in UTC, e.g. "Fri, 31 Jan 2030, 09:00 UTC" (the script shows it in local time)."""
    moment = value.astimezone(UTC)
    return f"{day_label(moment.date())}, {moment:%H:%M} UTC"


def iso_moment(value: datetime) -> str:
    """A moment as RFC 3339 in UTC, for `<time datetime>`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def due_state(task: Task, now: datetime) -> str | None:
    """How a pending task's due stands: "overdue", "today" or "upcoming" (None without one)."""
    # A timed due is overdue by the clock alone; whether it falls on the reader's today depends on
    # a time zone the server does not know, so only an all-day date is "today" (judged in UTC).
    if task.completed:
        return None
    if task.due_at is not None:
        return "overdue" if task.due_at < now else "upcoming"
    if task.due_date is not None:
        today = now.astimezone(UTC).date()
        if task.due_date < today:
            return "overdue"
        return "today" if task.due_date == today else "upcoming"
    return None
