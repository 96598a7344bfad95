"""The enforcement worker as a process: load the policies and registry, run the Faust agent.

``policysim worker`` calls :func:`start`; child workers (``policysim up``,
``run``, the benchmarks, the tests) run ``python -m policysim.app.worker``
with their settings in the environment, so a child imports the worker's own
modules and nothing of the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from policysim.base.settings import Settings, load_settings

log = logging.getLogger(__name__)


def start(
    settings: Settings,
    policies: Sequence[str],
    registry: str | None,
) -> int:
    """Run one worker until SIGINT/SIGTERM; 2 if it cannot start (the reason is logged)."""
    from policysim.streams.worker import build_engine, run_worker

    if not settings.bootstrap:
        log.error("policysim worker: --bootstrap-server (or $POLICYSIM_BOOTSTRAP) is required")
        return 2
    try:
        engine = build_engine(list(policies), registry)
    except (ValueError, OSError) as exc:  # PolicyError, RegistryError, unreadable files
        log.error("policysim worker: cannot start:\n%s", exc)
        return 2
    return run_worker(settings, engine, list(policies))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m policysim.app.worker --policy P [--registry R]``; settings from the env."""
    parser = argparse.ArgumentParser(prog="python -m policysim.app.worker")
    parser.add_argument("--policy", action="append", required=True)
    parser.add_argument("--registry")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return start(settings, args.policy, args.registry)


if __name__ == "__main__":
    sys.exit(main())
