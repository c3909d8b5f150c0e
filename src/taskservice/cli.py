"""The `taskservice` command: `serve` the app, or `migrate` the database to the latest schema."""

from __future__ import annotations

import argparse
import logging
import sys

from adapters.persistence import Endpoints, endpoints, upgrade_to_head
from taskservice import serving
from taskservice.logs import configure_logging
from taskservice.settings import ConfigurationError, Settings

log = logging.getLogger("taskservice")


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
        settings = Settings.load()
        database = _endpoints(settings)
    except ConfigurationError as exc:
        print(f"taskservice: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "migrate":
        url, pooled = database.migrations
        if pooled:
            log.info(
                "migrating through the transaction pooler in one transaction; "
                "set DATABASE_DIRECT_URL to migrate on the database's own host"
            )
        upgrade_to_head(url, pooled=pooled)
        return 0
    if settings.throttles_per_process:
        # Refused in production (settings); in development, said once, by the one who starts them.
        log.warning(
            "RATE_LIMIT_STORAGE=memory:// counts sign-in attempts in each of the %d workers "
            "apart; set it to a shared redis://… before going to production",
            settings.web_concurrency,
        )
    serving.serve(settings, args.host or settings.host, args.port or settings.port)
    return 0


def _endpoints(settings: Settings) -> Endpoints:
    try:
        # The engines would refuse them too, but later and with a traceback.
        return endpoints(
            settings.database_url,
            direct_url=settings.database_direct_url,
            pooler=settings.transaction_pooler,
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
