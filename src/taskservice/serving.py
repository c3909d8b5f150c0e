"""How `taskservice serve` runs the app: in one uvicorn process, or in WEB_CONCURRENCY of them.

Several workers run under gunicorn's arbiter (uvicorn's own worker class for it, from
`uvicorn-worker`) rather than uvicorn's `--workers` supervisor. On SIGTERM both signal every
worker, which drains its requests; but uvicorn's supervisor (0.54, `supervisors/multiprocess.py`)
keeps its copy of the listening socket open until the last worker has exited, so a connection
made meanwhile is accepted by the kernel, never answered, and reset at the end, where gunicorn's
arbiter closes its sockets first (`Arbiter.stop`) and such a connection is refused and can be
retried elsewhere. Gunicorn also SIGKILLs a worker still draining after its graceful timeout,
and reports every worker that exits (`child_exit`), which the metrics of dead workers need.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Final

import uvicorn
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.util import import_app
from uvicorn_worker import UvicornWorker

from taskservice.logs import configure_logging
from taskservice.settings import Settings

APP: Final = "taskservice.asgi:create_app"
METRICS_DIR_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
RELEASE_WITHIN: Final = 5
"""Seconds a worker gets after SHUTDOWN_TIMEOUT to close its connections before it is killed."""
KEEP_ALIVE: Final = 5
"""Seconds an idle client connection stays open: uvicorn's default, so the same either way."""


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then drain: one process, or a worker per WEB_CONCURRENCY."""
    if settings.web_concurrency == 1:
        _one_process(settings, host, port)
    else:
        _workers(settings, host, port)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the client's address and scheme: X-Forwarded-* from listed proxies.

    uvicorn (0.54) takes the right-most X-Forwarded-For entry that is not itself a listed proxy,
    so whatever a client writes to the left of it is ignored.
    """
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


def _server_options(settings: Settings) -> dict[str, Any]:
    # What every uvicorn server of the service runs with, alone or as a worker.
    return {
        **proxy_options(settings),
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_timeout),
        "timeout_keep_alive": KEEP_ALIVE,
        "log_config": None,
        "access_log": False,
    }


def _one_process(settings: Settings, host: str, port: int) -> None:
    # One process keeps its metrics in memory: prometheus-client picks file-backed values for
    # the whole process when this variable is set, and they cost twice as much per request.
    os.environ.pop(METRICS_DIR_VARIABLE, None)
    # uvicorn re-raises SIGTERM after its graceful shutdown; under the default handler the process
    # would then die by the signal, which supervisors report as a failure rather than a clean stop.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(APP, factory=True, host=host, port=port, **_server_options(settings))


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _workers(settings: Settings, host: str, port: int) -> None:
    with _metrics_directory(settings.metrics_dir) as directory:
        # Before any worker imports prometheus-client, which reads it once, at import.
        os.environ[METRICS_DIR_VARIABLE] = str(directory)
        options = {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": settings.web_concurrency,
            "worker_class": _worker_class(settings),
            "logger_class": _JsonLogger,
            "loglevel": settings.log_level.lower(),
            "graceful_timeout": math.ceil(settings.shutdown_timeout) + RELEASE_WITHIN,
            "child_exit": _forgetting(directory),
            "proc_name": "taskservice",
            # gunicorn's control socket (a file in $HOME or $XDG_RUNTIME_DIR) is not needed here.
            "control_socket_disable": True,
        }
        _Arbiter(options).run()


@contextmanager
def _metrics_directory(chosen: Path | None) -> Iterator[Path]:
    """The operator's directory emptied of earlier runs' files, or a fresh one removed at exit."""
    if chosen is None:
        fresh = Path(tempfile.mkdtemp(prefix="taskservice-metrics-"))
        try:
            yield fresh
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        return
    chosen.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Counters left by an earlier run would be added to this one's.
    for leftover in chosen.glob("*.db"):
        leftover.unlink()
    yield chosen


def _forgetting(directory: Path) -> Callable[[Any, Any], None]:
    """gunicorn's `child_exit` hook: the pool gauge of a worker that exited leaves the sum."""

    def child_exit(_arbiter: Any, worker: Any) -> None:
        # Imported only now, in the arbiter, once the directory variable is set: prometheus-client
        # chooses between in-memory and file-backed values at import, and forked workers inherit it.
        from adapters.http.metrics import forget_process  # noqa: PLC0415

        forget_process(worker.pid, directory)

    return child_exit


def _worker_class(settings: Settings) -> type[UvicornWorker]:
    options = {"loop": "auto", "http": "auto", **_server_options(settings)}

    class ServiceWorker(UvicornWorker):  # type: ignore[misc]  # gunicorn and uvicorn-worker are untyped
        """uvicorn serving the app in a gunicorn worker, as `taskservice serve` alone would."""

        CONFIG_KWARGS = options

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # uvicorn-worker hands uvicorn's loggers to gunicorn's handlers; ours are JSON.
            configure_logging(settings.log_level)

    return ServiceWorker


class _JsonLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's own log records, as JSON lines through the root logger like every other."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


class _Arbiter(BaseApplication):  # type: ignore[misc]
    """gunicorn's arbiter over the service's workers, configured here rather than on a command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        # In each worker, after the fork: every worker builds its own app, pool and event loop.
        return import_app(f"{APP}()")
