"""Flags that several commands share, spelled, typed and documented once.

Not a command: the command modules import it so that a flag means the same
everywhere it appears. The convention:

* a file read is ``--events-file``/``--registry``/``--policy``; a file or folder
  written is ``--out``; a count is ``--count``; units are in the name
  (``--linger-ms``, ``--idle-seconds``, ``--rate-per-second``);
* Kafka is ``--bootstrap-server HOST:PORT`` and ``--topic`` (as Kafka's own tools);
* a scenario is the positional ``SCENARIO`` (a file or a bundled name);
* a registry with bad rows is refused unless ``--skip-bad-rows``;
* a summary table is printed for people, or as JSON with ``--format json``;
* every help text states the flag's default;
* an error is one sentence (and the problems it lists) after ``policysim CMD: ``.

Older spellings stay as hidden aliases (``help=SUPPRESS``) for one release.

This module is imported whenever the parser is built (``policysim --help``),
so it imports nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import sys

FORMATS = ("table", "json")

# The Kafka producer paths of policysim.streams.producers (PRODUCERS, DEFAULT_PRODUCER), named
# here so that building the parser does not import asyncio and the producers; a test keeps the
# two in step.
PRODUCER_NAMES = ("aiokafka-batch", "aiokafka", "kafka-python")
# The readers' formats (policysim.simulators.logfiles.FORMATS), kept here so --help stays light.
EVENTS_FORMATS = ("auto", "jsonl", "csv", "zeek")
DEFAULT_PRODUCER = "aiokafka-batch"
# The broker engines of policysim.app.broker (ENGINES), named here for a light --help.
ENGINE_NAMES = ("tansu", "apache")


def add_alias(parser: argparse.ArgumentParser, old: str, dest: str, **kwargs) -> None:
    """An older spelling of a flag: accepted, not shown in ``--help``."""
    parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def add_bootstrap_server(parser: argparse.ArgumentParser, required_note: str = "") -> None:
    """``--bootstrap-server HOST:PORT`` into ``args.bootstrap`` (the ``bootstrap`` setting)."""
    parser.add_argument(
        "--bootstrap-server",
        dest="bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap server (default: the bootstrap setting; empty starts the embedded"
        f" broker where a command can){required_note}",
    )
    add_alias(parser, "--bootstrap", "bootstrap")


def add_engine(parser: argparse.ArgumentParser) -> None:
    """``--engine tansu|apache`` into ``args.engine`` (the ``broker_engine`` setting)."""
    parser.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        help="the broker to start where no Kafka is named: tansu (embedded, in memory) or"
        " apache (Apache Kafka from `make kafka`, needs a JDK 17+) (default: the"
        " broker_engine setting, auto: tansu, and for up apache where its jars are here)",
    )


def add_topic(parser: argparse.ArgumentParser, setting: str) -> None:
    """``--topic NAME``; without it the command uses the topic named by ``setting``."""
    parser.add_argument(
        "--topic", metavar="NAME", help=f"Kafka topic (default: the {setting} setting)"
    )


def add_scenario(parser: argparse.ArgumentParser) -> None:
    """The positional ``SCENARIO`` (``--scenario`` stays as an alias); see :func:`scenario_of`."""
    parser.add_argument(
        "scenario",
        nargs="?",
        metavar="SCENARIO",
        help="scenario file, or the name of a bundled one (pta-2024, pta-deadline, small-isp)",
    )
    add_alias(parser, "--scenario", "scenario_option")


def scenario_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The scenario given either way; a usage error (exit 2) when there is none."""
    given = args.scenario or getattr(args, "scenario_option", None)
    if not given:
        parser.error("the SCENARIO argument is required")
    return given


def add_count(parser: argparse.ArgumentParser, what: str, default_note: str) -> None:
    """``--count N`` (``--events`` stays as an alias)."""
    parser.add_argument("--count", type=int, metavar="N", help=f"{what} ({default_note})")
    add_alias(parser, "--events", "count", type=int)


def add_seed(parser: argparse.ArgumentParser, default_note: str = "default: 1") -> None:
    """``--seed N``: the same seed gives the same events, verdicts and report numbers."""
    parser.add_argument("--seed", type=int, metavar="N", help=f"scenario seed ({default_note})")


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format table|json`` for the summary a command prints."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="summary as a table for people or as JSON for scripts (default: table)",
    )


def add_pacing(parser: argparse.ArgumentParser) -> None:
    """``--rate`` and ``--duration-seconds`` (``--duration`` stays as an alias)."""
    parser.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help="events per second, paced open loop (default: as fast as possible)",
    )
    parser.add_argument(
        "--duration-seconds",
        type=float,
        metavar="S",
        help="seconds to send for at --rate; sends R*S events (default: none, give --count)",
    )
    add_alias(parser, "--duration", "duration_seconds", type=float)


def add_linger_ms(parser: argparse.ArgumentParser) -> None:
    """``--linger-ms`` (``--linger`` stays as an alias): how long an envelope may wait to fill."""
    parser.add_argument(
        "--linger-ms",
        type=float,
        metavar="MS",
        help="longest an event waits for its envelope (default: the linger_ms setting, 20)",
    )
    add_alias(parser, "--linger", "linger_ms", type=float)


def add_sink_arguments(parser: argparse.ArgumentParser, default_batch: str) -> None:
    """Where events go and how they are packed: the same on every sending command.

    Exactly one of ``--out FILE`` and ``--bootstrap-server`` (with ``--topic``).
    ``default_batch`` is ``"settings"`` (the ``batch`` setting, 100 unless
    configured) or a fixed number as text (replay keeps 1: one event per message).
    """
    parser.add_argument("--out", metavar="FILE", help="write JSON lines (one event per line)")
    add_bootstrap_server(parser)
    add_topic(parser, "topic_connections")
    add_alias(parser, "--to", "to")
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        default=None if default_batch == "settings" else int(default_batch),
        help="most events per Kafka message (envelope); an envelope closes early rather than"
        " exceed the max_event_bytes setting (default: "
        + ("the batch setting, 100)" if default_batch == "settings" else f"{default_batch})"),
    )
    add_linger_ms(parser)
    parser.add_argument(
        "--producer",
        choices=PRODUCER_NAMES,
        default=DEFAULT_PRODUCER,
        help=f"Kafka producer path (default: {DEFAULT_PRODUCER}, the fastest)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_policies(parser: argparse.ArgumentParser, default_note: str = "required") -> None:
    """``--policy FILE``, repeatable: the first is enforced, the others run as shadows.

    Required unless ``default_note`` says what is used without it.
    """
    parser.add_argument(
        "--policy",
        action="append",
        required=default_note == "required",
        metavar="FILE",
        help=f"policy file; repeat for shadows, the first is enforced ({default_note})",
    )


def add_registry(
    parser: argparse.ArgumentParser, default_note: str, required: bool = False
) -> None:
    """``--registry FILE`` and ``--skip-bad-rows``: one rule for registry files everywhere."""
    parser.add_argument(
        "--registry",
        metavar="FILE",
        required=required,
        help="registry file: .csv, .jsonl or a snapshot from `policysim registry compile`"
        f" ({'required' if required else default_note})",
    )
    add_skip_bad_rows(parser)


def add_skip_bad_rows(parser: argparse.ArgumentParser) -> None:
    """``--skip-bad-rows``: load a registry's good rows instead of refusing the file."""
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="load the registry's usable rows and skip the bad ones (each logged, the count in"
        " the summary) instead of refusing the whole file",
    )


def add_events_file(parser: argparse.ArgumentParser) -> None:
    """An events file and how to read it: ``--events-file``, ``--events-format``, ``--csv-mapping``.

    ``evaluate`` and ``replay`` read the same formats through the same readers,
    so they take them with the same flags (see :func:`events_file_of`).
    """
    parser.add_argument(
        "--events-file",
        metavar="FILE",
        help="events: JSON lines, CSV or a Zeek conn.log, gzip recognised (required)",
    )
    add_alias(parser, "--events", "events_file")
    parser.add_argument(
        "--events-format",
        choices=EVENTS_FORMATS,
        default="auto",
        help="format of the events file; auto tells from its first lines (default: auto)",
    )
    parser.add_argument(
        "--csv-mapping",
        metavar="FIELD=COLUMN,...",
        help="CSV column of each event field (default: columns named as the fields)",
    )
    add_alias(parser, "--csv-map", "csv_mapping")


def events_file_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The events file given either way; a usage error (exit 2) when there is none."""
    if not args.events_file:
        parser.error("the --events-file argument is required")
    return args.events_file


def fail(command: str, error: BaseException | str, exit_code: int = 2) -> int:
    """Report ``error`` on stderr as ``policysim COMMAND: message``; the exit code to return.

    For what does not come as an :class:`~policysim.app.errors.AppError` (which
    reports itself, details first, with its own exit code): bad input (2) unless
    ``exit_code`` says otherwise.
    """
    print(f"policysim {command}: {error}", file=sys.stderr)
    return exit_code
