"""``policysim register FILE``: publish a registry file's records to the registrations topic.

Registrations keep arriving while workers run; every worker follows the
topic and applies each record as of its event time. The file is validated
whole before anything is sent: by default a file with any bad row is refused
and nothing is published (the registry the workers hold stays as it was);
with ``skip_bad_rows`` the good rows go out and the bad ones are counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from policysim.app.errors import BadInput, RunFailed
from policysim.app.sending import kafka_failures
from policysim.base.settings import Settings


@dataclass(frozen=True)
class RegisterResult:
    """What was published, from which file, to which topic."""

    file: str
    topic: str
    records: int  # sent
    entities: int
    skipped_rows: int
    acknowledged: int = 0
    lost: int = 0
    first_error: str = ""


def bad_rows(n: int) -> str:
    """``1 bad row``, ``2 bad rows``."""
    return f"{n:,} bad row" if n == 1 else f"{n:,} bad rows"


def register_file(
    settings: Settings, path: str, topic: str, skip_bad_rows: bool = False
) -> RegisterResult:
    """Validate ``path``, then publish every record keyed by entity id to ``topic``."""
    from policysim.policies.registry import RegistryError
    from policysim.policies.registry_files import encode_record, load_registry
    from policysim.streams.connect import BrokerUnreachable
    from policysim.streams.kafka_config import KafkaConfigError
    from policysim.streams.producers import publish
    from policysim.streams.topics import ensure_topics

    try:
        registry = load_registry(path, strict=False)
    except RegistryError as exc:
        problems = [str(p) for p in exc.problems]
        raise BadInput(f"{path} refused, nothing published", problems) from exc
    problems = [str(p) for p in registry.problems]
    if problems and not skip_bad_rows:
        raise BadInput(
            f"{path} refused: {bad_rows(len(problems))}, nothing published "
            "(--skip-bad-rows publishes the good ones)",
            problems,
        )
    records = list(registry.records())
    try:
        ensure_topics(settings, [topic])
        delivery = asyncio.run(
            publish(settings, topic, ((r.entity_id, encode_record(r)) for r in records))
        )
    except (KafkaConfigError, BrokerUnreachable) as exc:
        raise BadInput(str(exc)) from exc
    except kafka_failures() as exc:
        raise RunFailed(f"publishing {path} to {topic} failed: {exc}") from exc
    return RegisterResult(
        file=path,
        topic=topic,
        records=delivery.sent,
        entities=len({r.entity_id for r in records}),
        skipped_rows=len(problems),
        acknowledged=delivery.acknowledged,
        lost=delivery.lost,
        first_error=delivery.first_error,
    )
