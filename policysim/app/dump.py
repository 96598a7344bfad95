"""``policysim dump``: a topic to JSON lines, one verdict (or rejection) per line.

The topic is read from the beginning, every partition, without a consumer
group (nothing is committed, so dumping twice gives the same file), until it
has been quiet for ``idle_seconds``.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import dataclass

from policysim.app.errors import BadInput, RunFailed
from policysim.app.outputs import STDOUT, output_file
from policysim.app.sending import kafka_failures
from policysim.base.settings import Settings


@dataclass(frozen=True)
class DumpResult:
    """How many JSON objects went where, and how many messages were not JSON."""

    topic: str
    out: str
    objects: int
    not_json: int


def dump(
    settings: Settings, topic: str, out: str, idle_seconds: float, progress: bool = True
) -> DumpResult:
    """Copy ``topic`` to ``out`` (``-``: standard output) with a spinner on stderr."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from policysim.streams.connect import BrokerUnreachable, TopicMissing, wait_for_broker
    from policysim.streams.kafka_config import KafkaConfigError
    from policysim.streams.reading import dump_topic

    if idle_seconds <= 0:
        raise BadInput(f"--idle-seconds {idle_seconds:g}: more than 0 seconds")
    output_file(out, "--out")
    columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed:,} objects"))
    with ExitStack() as stack:
        try:
            wait_for_broker(settings)  # before the file is created
            stream = sys.stdout.buffer if out == STDOUT else stack.enter_context(open(out, "wb"))
        except (KafkaConfigError, BrokerUnreachable) as exc:
            raise BadInput(str(exc)) from exc
        except OSError as exc:
            raise BadInput(f"--out {out}: cannot write: {exc.strerror}") from exc
        console = Console(stderr=True)
        bar = stack.enter_context(
            Progress(*columns, console=console, transient=True, disable=not progress)
        )
        task = bar.add_task(f"dumping {topic}", total=None)
        try:
            counts = dump_topic(
                settings, topic, stream, idle_seconds, lambda n: bar.update(task, completed=n)
            )
        except (BrokerUnreachable, TopicMissing) as exc:
            raise BadInput(str(exc)) from exc
        except kafka_failures() as exc:
            raise RunFailed(f"dumping {topic} failed: {exc}") from exc
    return DumpResult(topic, out, counts.objects, counts.not_json)
