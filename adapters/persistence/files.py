"""The embedded database's files, readable by the service's user only (SPEC §6)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Final

PRIVATE_DIRECTORY: Final = 0o700
PRIVATE_FILE: Final = 0o600
# SQLite keeps these beside the database and creates them with the database file's mode.
SQLITE_COMPANIONS: Final = ("-wal", "-shm", "-journal")
log = logging.getLogger("taskservice.persistence")


def private_database(database: Path) -> None:
    """Create `database` (and a missing folder for it) private, or make an existing one private.

    SQLite then creates its write-ahead log and shared memory with the same mode. A folder that
    exists is left as it is, for it may be anyone's: `tighten_folder` is for DATA_DIR only.
    """
    create_private_folder(database.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for path in (database, *(database.with_name(database.name + c) for c in SQLITE_COMPANIONS)):
        _tighten(path, PRIVATE_FILE)


def create_private_folder(path: Path) -> None:
    """Create a missing folder (and its missing parents) with the last one private."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)


def tighten_folder(path: Path) -> None:
    """Make the service's own folder private, if it exists and belongs to the service's user."""
    _tighten(path, PRIVATE_DIRECTORY)


def _tighten(path: Path, private: int) -> None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(status.st_mode)
    if not mode & ~private:
        return
    if status.st_uid != os.geteuid():
        # Not ours to change: say so rather than fail; the operator decides.
        log.warning("%s is open to others (mode %o) and not ours to change", path, mode)
        return
    path.chmod(mode & private)
    log.warning("%s was open to others (mode %o); made it mode %o", path, mode, mode & private)
