"""The enforcement worker as a process: load the policies and registry, run the Faust agent.

``policysim worker`` calls :func:`start`; child workers (``policysim up``,
``run``, the benchmarks, the tests) run ``python -m policysim.app.worker``
with their settings in the environment, so a child imports the worker's own
modules and nothing of the command line. A child's output is its log file:
what it logs there at the configured level is what a person debugging a run
reads.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from policysim.app.errors import AppError, BadInput
from policysim.base.settings import Settings, load_settings
from policysim.policies.model import set_time_window

log = logging.getLogger(__name__)


def start(
    settings: Settings,
    policies: Sequence[str],
    registry: str | None,
) -> int:
    """Run one worker until SIGINT/SIGTERM (0 on a clean stop); BadInput if it cannot start."""
    from policysim.streams.connect import BrokerUnreachable
    from policysim.streams.kafka_config import KafkaConfigError
    from policysim.streams.worker import build_engine, run_worker

    if not settings.bootstrap:
        raise BadInput(
            "no Kafka broker named: give --bootstrap-server HOST:PORT (or set POLICYSIM_BOOTSTRAP)"
        )
    try:
        engine = build_engine(list(policies), registry)
    except (ValueError, OSError) as exc:  # PolicyError, RegistryError, unreadable files
        raise BadInput("cannot start: a policy or the registry did not load", [str(exc)]) from exc
    try:
        return run_worker(settings, engine, list(policies))
    except (KafkaConfigError, BrokerUnreachable) as exc:
        raise BadInput(str(exc)) from exc
    except OSError as exc:  # the metrics address is taken
        raise BadInput(exc.strerror or str(exc)) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m policysim.app.worker --policy P [--registry R]``; settings from the env."""
    parser = argparse.ArgumentParser(prog="python -m policysim.app.worker")
    parser.add_argument("--policy", action="append", required=True)
    parser.add_argument("--registry")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    set_time_window(settings.earliest_event_year, settings.latest_event_year)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return start(settings, args.policy, args.registry)
    except AppError as exc:
        for line in exc.lines("worker"):
            log.error("%s", line)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
