"""``policysim explain``: show, rule by rule, why an event gets its verdict."""

from __future__ import annotations

import argparse
import sys

import msgspec
import orjson

from policysim.app.loading import LoadError, load_policies, load_registry
from policysim.base.settings import Settings
from policysim.policies.engine import Engine
from policysim.policies.explain import explain, render
from policysim.policies.model import Rejection, decode_event


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    parser = sub.add_parser(
        "explain",
        help="explain the verdict of one event: rules tried, conditions, matching entity/prefix",
        description="Evaluate one event (JSON; `id` and `sport` may be left out) and show which"
        " rules were tried, which matched and which set, entity and prefix made each set"
        " condition true.",
    )
    parser.add_argument("event", metavar="EVENT_JSON", help="the event as JSON, or @FILE, or -")
    parser.add_argument("--policy", action="append", required=True, help="policy file (repeat)")
    parser.add_argument("--registry", help="registry CSV or JSON lines")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    parser.set_defaults(handler=run)


def read_event_text(arg: str) -> str:
    """The event argument itself, a file named ``@FILE``, or stdin for ``-``."""
    if arg == "-":
        return sys.stdin.read()
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as handle:
            return handle.read()
    return arg


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        policies = load_policies(args.policy)
        registry = load_registry(args.registry)
        raw = orjson.loads(read_event_text(args.event))
    except LoadError:
        return 2
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"policysim explain: cannot read the event: {exc}", file=sys.stderr)
        return 2
    if isinstance(raw, dict):
        raw = {"id": "explain", "sport": 0, **raw}
    event = decode_event(orjson.dumps(raw), source="EVENT_JSON")
    if isinstance(event, Rejection):
        print(f"policysim explain: bad event ({event.reason}): {event.detail}", file=sys.stderr)
        return 2
    explanations = explain(Engine(policies, registry), event)
    if args.json:
        print(msgspec.json.encode(explanations).decode())
    else:
        print(render(explanations))
    return 0
