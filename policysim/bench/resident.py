"""The resident memory a registry snapshot costs a process of its own: loaded, then answering.

Measured in a fresh process because in the benchmark's own process memory freed by earlier
contenders is reused, and a difference of resident sizes there can read near zero. The child
loads the snapshot, answers the queries as a batch and one by one, then reads every byte of
the compiled indexes, so the figure is what a worker holds once every part of the index has
been used, short of a change (which makes the per-grant objects).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil

from policysim.policies import registry_snapshot
from policysim.policies.address_columns import AddressColumns


def measure(snapshot: Path, ips: list[tuple[int, int]], ts: list[float]) -> dict[str, int]:
    """Resident bytes a fresh process adds by loading ``snapshot`` ("loaded") and then by
    answering ``ips`` at ``ts`` and reading its whole index ("answering")."""
    queries = snapshot.with_suffix(".queries.json")
    queries.write_text(json.dumps({"ips": [[v, str(value)] for v, value in ips], "ts": ts}))
    done = subprocess.run(
        [sys.executable, "-m", "policysim.bench.resident", str(snapshot), str(queries)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _child(snapshot: str, queries: str) -> dict[str, int]:
    given = json.loads(Path(queries).read_text())
    ips = [(version, int(value)) for version, value in given["ips"]]
    ts = np.array(given["ts"], np.float64)
    columns = AddressColumns(ips)
    process = psutil.Process()
    before = process.memory_info().rss
    registry = registry_snapshot.load(snapshot)
    loaded = process.memory_info().rss
    view = registry.view(None)
    view.contains_batch(columns, ts)
    contains = view.contains
    for ip, t in zip(ips, ts.tolist(), strict=True):
        contains(ip, t)
    for version in (4, 6):
        index = registry.index(version)
        if index is not None:
            for array in index.columns().values():
                array.sum()  # every page read once
    answering = process.memory_info().rss
    return {"loaded": loaded - before, "answering": answering - before}


if __name__ == "__main__":
    print(json.dumps(_child(*sys.argv[1:3])))
