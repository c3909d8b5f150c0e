"""The deployment files stay true to the code: every setting documented, the image's lock in step."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

from taskservice import settings

ROOT = Path(__file__).resolve().parents[2]


def pins(lock: Path) -> dict[str, str]:
    """Package name (normalised) to pinned version, from a `uv pip compile` lock file."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", lock.read_text(), re.MULTILINE)
    return {_normalised(name): version for name, version in found}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_env_example_documents_every_variable_the_settings_read() -> None:
    # Every lookup is get("NAME"…) or a parser called as _kind(env, "NAME", …).
    source = inspect.getsource(settings._from)
    read = set(re.findall(r'(?:get\(|env, )"([A-Z][A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )

    assert read
    assert read <= documented, f"undocumented in .env.example: {sorted(read - documented)}"


def test_the_image_lock_pins_every_runtime_dependency_as_the_development_lock_does() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {
        _normalised(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) for d in project["dependencies"]
    }
    runtime = pins(ROOT / "requirements.runtime.lock")
    development = pins(ROOT / "requirements.lock")

    assert needed <= runtime.keys(), f"missing from the image: {sorted(needed - runtime.keys())}"
    drift = {n: (v, development.get(n)) for n, v in runtime.items() if development.get(n) != v}
    assert not drift, f"run `make lock`: the two locks disagree on {drift}"
    assert not {"pytest", "mypy", "playwright", "ruff"} & runtime.keys()


def test_the_image_is_slim_hash_checked_unprivileged_and_health_checked() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.MULTILINE)
    assert "--require-hashes" in dockerfile
    assert "requirements.runtime.lock" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", dockerfile, re.MULTILINE)
