"""A Faust agent that does nothing: the ceiling the worker's own Faust machinery allows.

It runs with the worker's Faust configuration (same fetch wait, session
timeout, raw serializers) on a fresh consumer group, counts messages, and
prints one JSON line ``{"messages": N, "first": T0, "last": T1}`` (wall clock)
when it has seen ``--expect`` of them. The pipeline benchmark starts it as a
child process, reads that line and stops it.

    python -m policysim.streams.noop_agent --topic T --group G --expect N  (bootstrap from settings)
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson

from policysim.base.settings import load_settings
from policysim.streams.worker import make_app, run_faust


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policysim.streams.noop_agent")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--expect", type=int, required=True, help="messages to count")
    args = parser.parse_args(argv)
    settings = load_settings()
    app = make_app(settings, args.group)
    topic = app.topic(args.topic, value_serializer="raw", key_serializer="raw")
    seen = {"messages": 0, "first": 0.0, "last": 0.0}

    async def count(stream: Any) -> None:
        async for _value in stream:
            if not seen["messages"]:
                seen["first"] = time.time()
            seen["messages"] += 1
            if seen["messages"] == args.expect:
                seen["last"] = time.time()
                sys.stdout.write(orjson.dumps(seen).decode() + "\n")
                sys.stdout.flush()

    app.agent(topic, name="policysim.noop", concurrency=1)(count)
    return run_faust(app, loglevel="WARNING")


if __name__ == "__main__":
    sys.exit(main())
