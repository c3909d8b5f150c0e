"""/metrics with several workers reads every worker's file, and survives one still empty."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from adapters.http.metrics import WorkersCollector


def test_an_empty_file_of_a_starting_or_killed_worker_leaves_the_others_counted(
    tmp_path: Path,
) -> None:
    written = MmapedDict(str(tmp_path / "counter_101.db"))  # type: ignore[no-untyped-call]
    key = mmap_key("jobs_total", "jobs_total", ["kind"], ["a"], "Jobs.")
    written.write_value(key, 3.0, 0.0)  # type: ignore[no-untyped-call]
    written.close()  # type: ignore[no-untyped-call]
    # What a worker leaves when it is killed between creating its file and sizing it.
    (tmp_path / "counter_102.db").touch()
    registry = CollectorRegistry()
    WorkersCollector(registry, path=str(tmp_path))
    assert 'jobs_total{kind="a"} 3.0' in generate_latest(registry).decode()
