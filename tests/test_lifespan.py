"""The process's collector settings after start-up, and the record of full collections the
benchmarks read."""

from __future__ import annotations

import gc
from pathlib import Path

from tickstream.lifespan import record_full_collections


def test_each_full_collection_is_recorded_with_its_time_and_length(tmp_path: Path) -> None:
    path = tmp_path / "gc.log"
    callback = record_full_collections(str(path))
    try:
        gc.collect(1)  # a young collection: not recorded
        assert not path.exists()
        gc.collect()
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    lines = [line.split() for line in path.read_text().splitlines()]
    assert len(lines) == 2
    (t1, ms1), (t2, ms2) = ((float(a), float(b)) for a, b in lines)
    assert t1 <= t2 and ms1 >= 0 and ms2 >= 0
