"""The resident memory a registry snapshot costs a process of its own: loaded, answering, then
after changes.

Measured in a fresh process because in the benchmark's own process memory freed by earlier
contenders is reused, and a difference of resident sizes there can read near zero. The child
loads the snapshot, answers the queries as a batch and one by one, then reads every byte of
the compiled indexes, so the figure is what a worker holds once every part of the index has
been used; then it takes changes (a new entity's registration, a grant of an existing
entity, that entity's revocation, as the ``registrations`` topic brings them) and answers
again, which is what a worker following that topic holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

from policysim.policies import registry_snapshot
from policysim.policies.address_columns import AddressColumns
from policysim.policies.registry import RegistryRecord


def measure(
    snapshot: Path, ips: list[tuple[int, int]], ts: list[float], entity_id: str
) -> dict[str, float]:
    """Resident bytes a fresh process adds by loading ``snapshot`` ("loaded"), then by
    answering ``ips`` at ``ts`` and reading its whole index ("answering"), then by three
    changes (one of them to ``entity_id``, of the snapshot) and the same answers again
    ("changed"); and the seconds of the first change."""
    queries = snapshot.with_suffix(".queries.json")
    given = {"ips": [[v, str(value)] for v, value in ips], "ts": ts, "entity": entity_id}
    queries.write_text(json.dumps(given))
    done = subprocess.run(
        [sys.executable, "-m", "policysim.bench.resident", str(snapshot), str(queries)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _child(snapshot: str, queries: str) -> dict[str, float]:
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
    at, known = float(ts[0]), given["entity"]
    started = time.perf_counter()
    registry.apply(RegistryRecord("bench-new", None, "bank", ["198.18.0.0/24"], at))
    first_change = time.perf_counter() - started
    registry.apply(RegistryRecord(known, None, None, ["198.18.1.0/24"], at))
    registry.apply(RegistryRecord(known, revoked_at=at + 86_400))
    view.contains_batch(columns, ts)
    for ip, t in zip(ips, ts.tolist(), strict=True):
        contains(ip, t)
    changed = process.memory_info().rss
    return {
        "loaded": loaded - before,
        "answering": answering - before,
        "changed": changed - before,
        "first_change_seconds": first_change,
    }


if __name__ == "__main__":
    print(json.dumps(_child(*sys.argv[1:3])))
