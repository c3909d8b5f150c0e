"""The `taskservice` command: `serve` the app, or `migrate` the database to the latest schema."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from types import FrameType
from typing import Any

import uvicorn

from adapters.persistence import async_database_url, upgrade_to_head
from taskservice.logs import configure_logging
from taskservice.settings import ConfigurationError, Settings


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="taskservice", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API and the web UI")
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    commands.add_parser("migrate", help="upgrade the database schema to the latest migration")
    args = parser.parse_args(argv)
    # Logging first, so that even what settings say while loading comes out as JSON.
    configure_logging("INFO")
    try:
        settings = _settings()
    except ConfigurationError as exc:
        print(f"taskservice: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "migrate":
        upgrade_to_head(settings.database_url)
        return 0
    # uvicorn re-raises SIGTERM after its graceful shutdown; under the default handler the process
    # would then die by the signal, which supervisors report as a failure rather than a clean stop.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "taskservice.asgi:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        **proxy_options(settings),
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
        log_config=None,
        access_log=False,
    )
    return 0


def _settings() -> Settings:
    settings = Settings.load()
    try:
        # The engines would refuse it too, but later and with a traceback.
        async_database_url(settings.database_url)
    except ValueError as exc:
        raise ConfigurationError(f"DATABASE_URL: {exc}") from None
    return settings


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the client's address and scheme: X-Forwarded-* from listed proxies.

    uvicorn (0.54) takes the right-most X-Forwarded-For entry that is not itself a listed proxy,
    so whatever a client writes to the left of it is ignored.
    """
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
