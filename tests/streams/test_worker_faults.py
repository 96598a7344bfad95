"""Workers that die or stop mid-run, against the real broker: nothing is lost.

Events go out paced from a thread while a worker is killed (SIGKILL) or
stopped (SIGTERM) and replaced; every event must then have its verdict.
Progress is polled from metrics and topics with deadlines, never assumed
after a sleep. The figures (duplicates, the pause after a kill) are printed
for docs/guarantees.md (``pytest -s``); the report of a run with duplicates
counts each event once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from policysim.app.report_files import report_from_verdicts
from policysim.app.worker_process import WorkerProcess, sample_sum
from policysim.base.settings import Settings
from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.kafka_config import kafka_python_kwargs
from policysim.streams.reading import read_items

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 20_000
ENVELOPE = 10
POLICY = EXAMPLES_DIR / "pta-vpn-2024.yaml"


def _envelopes() -> list[tuple[bytes, bytes]]:
    """``EVENTS`` events in envelopes of ``ENVELOPE``, one source per envelope."""
    out = []
    for start in range(0, EVENTS, ENVELOPE):
        src = f"10.{start % 250}.{start // 250 % 250}.9"
        chunk = [
            {"id": f"f{i}", "ts": 1733000400.0, "src": src, "sport": 40000,
             "dst": "198.51.100.7", "dport": 51820, "proto": "udp", "app": "wireguard"}
            for i in range(start, start + ENVELOPE)
        ]  # fmt: skip
        out.append((src.encode(), orjson.dumps(chunk)))
    return out


class Feeder(threading.Thread):
    """Sends the envelopes at about ``rate`` events per second, then flushes."""

    def __init__(self, settings: Settings, rate: float = 2500.0) -> None:
        super().__init__(name="feeder", daemon=True)
        self.settings = settings
        self.rate = rate
        self.error: BaseException | None = None

    def run(self) -> None:
        producer = KafkaProducer(**kafka_python_kwargs(self.settings))
        try:
            start = time.monotonic()
            for n, (key, value) in enumerate(_envelopes()):
                due = start + n * ENVELOPE / self.rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                producer.send(self.settings.topic_connections, value, key=key)
            producer.flush(60)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            producer.close()


def _worker(settings: Settings, folder: Path, name: str) -> WorkerProcess:
    return WorkerProcess(settings, [POLICY], EXAMPLES_DIR / "registry.csv", folder / name)


def _verdicts(settings: Settings) -> list[dict]:
    """The verdicts, once the verdict topic holds every event (or a minute passed)."""
    wanted = {f"f{i}" for i in range(EVENTS)}
    verdicts: list[dict] = []
    deadline = time.monotonic() + 60
    while not wanted <= {v["id"] for v in verdicts} and time.monotonic() < deadline:
        verdicts = read_items(settings, settings.topic_verdicts, 3.0)
    return verdicts


def _decided(worker: WorkerProcess) -> float:
    return sample_sum(worker.metrics(), "policysim_events_total")


def test_kill_9_of_one_of_two_workers_loses_nothing(kafka_settings: Settings, tmp_path) -> None:
    settings = kafka_settings.replace(session_timeout_ms=6000)
    with _worker(settings, tmp_path, "a.log") as a, _worker(settings, tmp_path, "b.log") as b:
        a.wait_ready()
        b.wait_ready()
        b.wait_for(lambda m: sample_sum(m, "policysim_assigned_partitions") >= 1, 60, "sharing")
        feeder = Feeder(settings)
        feeder.start()
        a.wait_for(lambda m: sample_sum(m, "policysim_events_total") >= 2000, 60, "busy")
        assert a.process is not None
        a.process.kill()
        killed = time.monotonic()
        a.process.wait()
        b.wait_for(lambda m: sample_sum(m, "policysim_assigned_partitions") == 8, 60, "taking over")
        took_over = time.monotonic() - killed
        feeder.join(120)
        assert feeder.error is None
        verdicts = _verdicts(settings)
    seen = Counter(v["id"] for v in verdicts)
    missing = EVENTS - len(seen)
    duplicates = sum(n - 1 for n in seen.values())
    print(f"\nkill -9: {missing} lost, {duplicates} duplicates, takeover {took_over:.1f} s")
    assert missing == 0
    # The report counts each event once and says how many repeats it ignored.
    kept = tmp_path / "verdicts.jsonl"
    kept.write_bytes(b"".join(orjson.dumps(v) + b"\n" for v in verdicts))
    totals = report_from_verdicts(str(kept), tmp_path / "report").report["totals"]
    assert totals["events"] == EVENTS
    assert totals["duplicate_verdicts"] == duplicates


def test_sigterm_and_restart_loses_nothing_and_repeats_nothing(
    kafka_settings: Settings, tmp_path
) -> None:
    settings = kafka_settings
    first = _worker(settings, tmp_path, "first.log")
    with first:
        first.wait_ready()
        feeder = Feeder(settings)
        feeder.start()
        first.wait_for(lambda m: sample_sum(m, "policysim_events_total") >= 2000, 60, "busy")
    assert first.process is not None and first.process.returncode == 0
    with _worker(settings, tmp_path, "second.log") as second:
        second.wait_ready()
        feeder.join(120)
        assert feeder.error is None
        seen = Counter(v["id"] for v in _verdicts(settings))
    missing = EVENTS - len(seen)
    duplicates = sum(n - 1 for n in seen.values())
    print(f"\nSIGTERM and restart: {missing} lost, {duplicates} duplicates")
    assert missing == 0
    assert duplicates == 0
