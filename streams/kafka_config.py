"""Client settings for kafka-python, aiokafka and Faust, derived from one :class:`Settings`.

Every Kafka client in policysim is built from these functions, so pointing
the whole pipeline at a real cluster (SASL_SSL with PLAIN or SCRAM, a private
CA) is a matter of settings, never of code.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

from policysim.base.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaConfigError(ValueError):
    """Settings that cannot make a working Kafka client."""


def bootstrap_of(settings: Settings) -> str:
    """The bootstrap ``HOST:PORT[,HOST:PORT]``, without a ``kafka://`` prefix."""
    text = settings.bootstrap.strip()
    if not text:
        raise KafkaConfigError(
            "no Kafka broker named: give --bootstrap-server HOST:PORT (or set POLICYSIM_BOOTSTRAP)"
        )
    return ",".join(part.removeprefix("kafka://") for part in text.split(","))


def _checked(settings: Settings) -> tuple[str, str]:
    protocol = settings.security_protocol.upper()
    mechanism = settings.sasl_mechanism.upper() or "PLAIN"
    if protocol not in PROTOCOLS:
        raise KafkaConfigError(f"security_protocol {protocol!r} is not one of {PROTOCOLS}")
    if protocol.startswith("SASL") and mechanism not in MECHANISMS:
        raise KafkaConfigError(f"sasl_mechanism {mechanism!r} is not one of {MECHANISMS}")
    return protocol, mechanism


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying SSL context (with the CA file if given) for SSL protocols, else None."""
    protocol, _ = _checked(settings)
    if not protocol.endswith("SSL"):
        return None
    return ssl.create_default_context(cafile=settings.ssl_cafile or None)


def _quiet_client() -> dict[str, Any]:
    """kafka-python's network client without its slow-task warnings.

    kafka-python 3 warns whenever one step of its I/O loop takes over 0.1 s;
    with the worker, the broker and a load generator sharing a few cores that
    is scheduling, not a fault, and the warnings buried the progress bars.
    Older kafka-python has no such loop and nothing to quiet.
    """
    try:
        from kafka.net.compat import KafkaNetClient
    except ImportError:
        return {}
    return {"kafka_client": functools.partial(KafkaNetClient, slow_task_threshold_secs=0)}


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's ``KafkaProducer``/``KafkaConsumer``/admin."""
    protocol, mechanism = _checked(settings)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_of(settings),
        "security_protocol": protocol,
        **_quiet_client(),
    }
    if protocol.endswith("SSL") and settings.ssl_cafile:
        kwargs["ssl_cafile"] = settings.ssl_cafile
    return kwargs | _sasl_kwargs(settings, protocol, mechanism)


def _sasl_kwargs(settings: Settings, protocol: str, mechanism: str) -> dict[str, Any]:
    """The SASL arguments, which kafka-python and aiokafka spell alike."""
    if not protocol.startswith("SASL"):
        return {}
    return {
        "sasl_mechanism": mechanism,
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": settings.sasl_password,
    }


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's ``AIOKafkaProducer``/``AIOKafkaConsumer``."""
    protocol, mechanism = _checked(settings)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_of(settings),
        "security_protocol": protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    return kwargs | _sasl_kwargs(settings, protocol, mechanism)


def faust_broker_kwargs(settings: Settings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` arguments for ``faust.App``."""
    import faust

    protocol, mechanism = _checked(settings)
    servers = ";".join(f"kafka://{part}" for part in bootstrap_of(settings).split(","))
    kwargs: dict[str, Any] = {"broker": servers}
    context = ssl_context(settings)
    if protocol.startswith("SASL"):
        kwargs["broker_credentials"] = faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            ssl_context=context,
            mechanism=mechanism,
        )
    elif context is not None:
        kwargs["broker_credentials"] = faust.SSLCredentials(context)
    return kwargs
