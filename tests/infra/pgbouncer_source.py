"""A PgBouncer that keeps named prepared statements (1.21 or newer), for the tests and the bench.

Debian 12's package is PgBouncer 1.18, which does not track prepared statements in transaction
mode (tests/infra/pgbouncer.py). `prepared_pgbouncer()` returns an installed `pgbouncer` when it
is 1.21 or newer (Debian 13 has 1.24); otherwise it builds Debian 13's own source of it (the
`.orig` tarball from deb.debian.org, checked against the SHA-256 that Debian's Sources index
gives) once, into `/var/tmp/taskservice-tests/pgbouncer-<version>/` (world-readable: PgBouncer
runs as an unprivileged user), about 10 s on 2 cores. Building needs Debian's `gcc`, `make`,
`pkg-config`, `libevent-dev` and `libssl-dev`; without them the test skips (fails in CI, whose
.ci/run installs them). `python -m tests.infra.pgbouncer_source` builds it ahead (.ci/run does).

/var/tmp is shared: a build there is run only if it, and the folders above it up to BUILD_ROOT,
belong to root or to whoever runs the tests and nobody else may write them (else the tests skip,
or fail in CI, saying so). When Debian's pool drops this version's tarball (after Debian 13 moves
to a newer upstream release), VERSION and SOURCE_SHA256 take the new one from Debian's Sources
index (dists/trixie/main/source/Sources.xz).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Final

from tests.infra.processes import installed, unavailable

VERSION: Final = "1.24.1"
SOURCE_URL: Final = (
    f"http://deb.debian.org/debian/pool/main/p/pgbouncer/pgbouncer_{VERSION}.orig.tar.gz"
)
SOURCE_SHA256: Final = "da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0"
"""From Debian 13's Sources index (pgbouncer 1.24.1-1+deb13u2); plain HTTP is Debian's
mirror network, and the checksum is what makes it trustworthy."""
TRACKS_PREPARED: Final = (1, 21)
"""The first PgBouncer with `max_prepared_statements`."""
BUILD_ROOT: Final = Path(
    os.environ.get("TASKSERVICE_BUILD_ROOT", "/var/tmp/taskservice-tests")
).resolve()
BUILD_NEEDS: Final = {
    "gcc": "gcc",
    "make": "make",
    "pkg-config": "pkg-config",
    "libevent": "libevent-dev",
    "libssl": "libssl-dev",
}
"""What the build needs (a program, or a library pkg-config must find) and its Debian package."""
BUILD_WITHIN: Final = 600


def prepared_pgbouncer() -> str:
    """The path of a PgBouncer that keeps named prepared statements, built when none is here."""
    found = _suitable_installed()
    if found is not None:
        return found
    built = built_path()
    if not built.is_file():
        missing = missing_build_packages()
        if missing:
            unavailable(
                f"building PgBouncer {VERSION} needs Debian's {' '.join(missing)} "
                "(apt-get install -y them)"
            )
        try:
            build(built.parent.parent)
        except OSError as error:  # offline, or the folder not ours
            unavailable(f"building PgBouncer {VERSION} failed: {error}")
    _check_trusted(built)
    return str(built)


def built_path() -> Path:
    """Where the build of VERSION puts its pgbouncer."""
    return BUILD_ROOT / f"pgbouncer-{VERSION}" / "bin" / "pgbouncer"


def needs_build() -> bool:
    """Whether `prepared_pgbouncer()` would build: no PgBouncer 1.21+ installed, none built yet."""
    return _suitable_installed() is None and not built_path().is_file()


def _check_trusted(built: Path) -> None:
    # Nobody but root and us may have put it there or be able to change it.
    for path in (built, *built.parents):
        status = path.stat()
        if status.st_uid not in {0, os.geteuid()} or status.st_mode & 0o022:
            unavailable(
                f"{path} belongs to uid {status.st_uid} or may be written by others: not running "
                f"a pgbouncer from there (remove {BUILD_ROOT}, or set TASKSERVICE_BUILD_ROOT)"
            )
        if path == BUILD_ROOT:
            return


def printed_version(program: str) -> str:
    """The version a pgbouncer program prints (`1.24.1`)."""
    printed = subprocess.run(  # noqa: S603 (a pgbouncer found or built here)
        [program, "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"PgBouncer (\S+)", printed)
    if found is None:
        raise RuntimeError(f"{program} --version printed no version: {printed!r}")
    return found[1]


def version_of(program: str) -> tuple[int, int]:
    """The (major, minor) version a pgbouncer program prints."""
    major, minor, *_ = printed_version(program).split(".")
    return int(major), int(minor)


def missing_build_packages() -> list[str]:
    """The Debian packages the build needs that are not installed."""
    pkg_config = shutil.which("pkg-config")
    missing = []
    for need, package in BUILD_NEEDS.items():
        if need in {"gcc", "make", "pkg-config"}:
            present = shutil.which(need) is not None
        else:
            present = pkg_config is not None and _succeeds([pkg_config, "--exists", need])
        if not present:
            missing.append(package)
    return missing


def _succeeds(command: list[str]) -> bool:
    return subprocess.run(command, check=False).returncode == 0  # noqa: S603 (fixed arguments)


def build(prefix: Path) -> None:
    """Download, check, configure, make and install PgBouncer VERSION under `prefix`."""
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    if BUILD_ROOT.stat().st_uid == os.geteuid():
        BUILD_ROOT.chmod(0o755)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=BUILD_ROOT))
    try:
        tarball = staging / "source.tar.gz"
        with urllib.request.urlopen(SOURCE_URL, timeout=120) as answer:
            tarball.write_bytes(answer.read())
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != SOURCE_SHA256:
            raise RuntimeError(f"{SOURCE_URL} has SHA-256 {digest}, not {SOURCE_SHA256}")
        with tarfile.open(tarball) as archive:
            # The data filter (no links out, no devices) where this Python has it (3.11.4+).
            if hasattr(tarfile, "data_filter"):
                archive.extractall(staging, filter="data")
            else:
                archive.extractall(staging)  # noqa: S202 (checked by its SHA-256 above)
        source = staging / f"pgbouncer-{VERSION}"
        installed = staging / "installed"
        for step in (
            ["./configure", f"--prefix={prefix}", "--without-cares", "--with-openssl"],
            ["make", f"-j{os.cpu_count() or 1}"],
            ["make", f"DESTDIR={installed}", "install"],
        ):
            _run(step, source)
        # Installed under DESTDIR with the final prefix inside it; moved into place at once, so
        # that a concurrent build (another test run, the bench) finds a whole one or none.
        (installed / prefix.relative_to("/")).chmod(0o755)
        if prefix.is_dir() and not (prefix / "bin" / "pgbouncer").is_file():
            shutil.rmtree(prefix)  # what an interrupted build left
        try:
            os.rename(installed / prefix.relative_to("/"), prefix)
        except OSError:
            if not (prefix / "bin" / "pgbouncer").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(  # noqa: S603 (the build's own fixed steps)
        command, cwd=cwd, capture_output=True, text=True, timeout=BUILD_WITHIN, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr}")


def _suitable_installed() -> str | None:
    found = installed("pgbouncer")
    return found if found is not None and version_of(found) >= TRACKS_PREPARED else None


if __name__ == "__main__":
    print(prepared_pgbouncer())
    sys.exit(0)
