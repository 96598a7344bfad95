"""A Faust app with one table, counting the messages of each key: Faust's own recovery, measured.

The table lives in memory and is rebuilt from its changelog topic at every
start, the way a Faust app keeps state across restarts. Twice a second, once
Faust says its table recovery is complete, it prints one JSON line:
``{"sum": total of the counts, "keys": keys in the table}``.

    python tests/streams/faust_table_app.py   (topic and group from the POLICYSIM_* settings)
"""

from __future__ import annotations

import sys
import tempfile
from typing import Any

import orjson

from policysim.base.settings import load_settings
from policysim.streams.kafka_config import faust_broker_kwargs
from policysim.streams.worker import WorkerApp, run_faust


def main() -> int:
    settings = load_settings()
    session = settings.session_timeout_ms / 1000
    app = WorkerApp(
        settings.consumer_group,
        **faust_broker_kwargs(settings),
        web_enabled=False,
        datadir=tempfile.mkdtemp(prefix="faust-table-"),
        store="memory://",
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session,
        broker_heartbeat_interval=max(session / 6, 0.5),
        broker_commit_interval=1.0,
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    counts = app.Table("counts", default=int, key_type=str, value_type=int)
    topic = app.topic(settings.topic_connections, value_serializer="raw", key_serializer="raw")

    async def count(stream: Any) -> None:
        async for key, _value in stream.items():
            counts[key.decode()] += 1

    app.agent(topic, name="table.count", concurrency=1)(count)

    @app.timer(0.5)
    async def report() -> None:
        if app.tables.recovery.completed.is_set():
            values = list(counts.values())
            line = {"sum": sum(values), "keys": len(values)}
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            sys.stdout.flush()

    return run_faust(app, loglevel="WARNING")


if __name__ == "__main__":
    sys.exit(main())
