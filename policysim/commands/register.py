"""``policysim register FILE``: publish registrations to the ``registrations`` topic.

Registrations keep arriving while workers run; every worker follows the
topic and applies each record as of its event time. The file is validated
whole before anything is sent, so a bad file changes nothing: the registry
the workers hold stays as it was, and the problems name the file and line.
"""

from __future__ import annotations

import argparse
import logging

from kafka import KafkaProducer

from policysim.base.settings import Settings
from policysim.policies.registry import RegistryError
from policysim.policies.registry_files import encode_record, load_registry
from policysim.streams.kafka_config import KafkaConfigError, kafka_python_kwargs
from policysim.streams.topics import ensure_topics

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``register`` subcommand."""
    parser = sub.add_parser(
        "register",
        help="publish a registry file's registrations and revocations to running workers",
        description="Validate a registry file (.csv or .jsonl of RegistryRecord) and publish "
        "its records to the registrations topic, keyed by entity id. Workers apply them as "
        "of their event time, within a second. A file with any problem is refused whole.",
    )
    parser.add_argument("file", help="registry file: .csv or .jsonl")
    parser.add_argument("--bootstrap", help="Kafka HOST:PORT (also $POLICYSIM_BOOTSTRAP)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Validate, then publish every record and wait until the broker has them all."""
    try:
        registry = load_registry(args.file, strict=True)
        kwargs = kafka_python_kwargs(settings)
    except RegistryError as exc:
        log.error("%s refused, nothing published:\n%s", args.file, exc)
        return 2
    except KafkaConfigError as exc:
        log.error("%s", exc)
        return 2
    ensure_topics(settings, [settings.topic_registrations])
    records = list(registry.records())
    producer = KafkaProducer(**kwargs)
    try:
        for record in records:
            producer.send(
                settings.topic_registrations,
                key=record.entity_id.encode(),
                value=encode_record(record),
            )
        producer.flush()
    finally:
        producer.close()
    entities = len({r.entity_id for r in records})
    print(
        f"published {len(records)} records of {entities} entities from {args.file} "
        f"to {settings.topic_registrations}"
    )
    return 0
