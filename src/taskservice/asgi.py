"""The app factory for `uvicorn --factory taskservice.asgi:create_app`."""

from starlette.applications import Starlette

from taskservice.bootstrap import build_app
from taskservice.settings import Settings


def create_app() -> Starlette:
    """The service configured from the environment."""
    return build_app(Settings.load())
