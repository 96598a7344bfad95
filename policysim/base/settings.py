"""The one place where policysim's configuration lives.

Every knob that more than one command (or a deployment) needs is a field of
:class:`Settings`. Values come, lowest precedence first, from the defaults
below, a TOML file (``--config FILE`` or ``POLICYSIM_CONFIG``), environment
variables named ``POLICYSIM_<FIELD>`` and finally command-line flags. Keeping
the order in one function means a value never silently depends on which
command happened to read it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "POLICYSIM_"


class SettingsError(ValueError):
    """A configuration value that cannot be used, named by where it came from."""


@dataclass(frozen=True)
class Settings:
    """Typed configuration shared by all subcommands.

    Field docs are the help text of the matching environment variable and
    config-file key (see ``policysim config``).
    """

    # --- Kafka transport ---------------------------------------------------
    bootstrap: str = field(
        default="", metadata={"help": "Kafka bootstrap HOST:PORT; empty starts the embedded broker"}
    )
    broker_engine: str = field(
        default="auto",
        metadata={
            "help": "broker started when bootstrap is empty: tansu (in memory), apache, or auto"
            " (up: apache where make kafka has fetched its jars, else tansu; others: tansu)"
        },
    )
    security_protocol: str = field(
        default="PLAINTEXT", metadata={"help": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"}
    )
    sasl_mechanism: str = field(
        default="", metadata={"help": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"}
    )
    sasl_username: str = field(default="", metadata={"help": "SASL user name"})
    sasl_password: str = field(default="", metadata={"help": "SASL password"})
    ssl_cafile: str = field(default="", metadata={"help": "CA bundle for SSL/SASL_SSL"})
    partitions: int = field(default=8, metadata={"help": "partitions per topic created"})
    topic_connections: str = field(default="connections", metadata={"help": "input events"})
    topic_verdicts: str = field(default="verdicts", metadata={"help": "verdicts out"})
    topic_registrations: str = field(
        default="registrations", metadata={"help": "registry records, keyed by entity id"}
    )
    topic_dlq: str = field(default="connections-dlq", metadata={"help": "rejected events"})
    connect_timeout_seconds: float = field(
        default=5.0,
        metadata={"help": "longest wait for a broker to answer before a command gives up"},
    )

    # --- worker ------------------------------------------------------------
    consumer_group: str = field(default="policysim-worker", metadata={"help": "worker group"})
    fetch_max_wait_ms: int = field(
        default=10, metadata={"help": "consumer fetch wait; the broker holds fetches this long"}
    )
    durable: bool = field(
        default=False,
        metadata={
            "help": "survive the loss of a broker: topics (3 replicas where the cluster has"
            " 3 brokers) get min.insync.replicas 2, producers wait for acks=all"
        },
    )
    session_timeout_ms: int = field(
        default=6000, metadata={"help": "consumer session timeout (group joins take half)"}
    )
    max_event_bytes: int = field(
        default=65536, metadata={"help": "larger events go to the dead-letter topic, each alone"}
    )
    earliest_event_year: int = field(
        default=1970, metadata={"help": "events timed before 1 January of this year are rejected"}
    )
    latest_event_year: int = field(
        default=2100, metadata={"help": "events timed after 31 December of this year are rejected"}
    )
    metrics_host: str = field(default="127.0.0.1", metadata={"help": "metrics bind address"})
    metrics_port: int = field(default=9464, metadata={"help": "metrics port; 0 picks a free one"})
    policy_watch_seconds: float = field(
        default=1.0, metadata={"help": "how often policy files are checked for changes"}
    )
    worker_take_max: int = field(
        default=1000, metadata={"help": "most Kafka messages the worker evaluates as one batch"}
    )
    # 10 ms, not 5: batches twice as large when a backlog drains (6 % more messages a second
    # one event per message) for 2.5 ms more of waiting on average at a low rate.
    worker_take_within_ms: float = field(
        default=10.0, metadata={"help": "longest wait to fill a worker batch before evaluating"}
    )

    # --- producers ---------------------------------------------------------
    batch: int = field(
        default=100,
        metadata={
            "help": "most events per Kafka message (envelope; closed early at max_event_bytes)"
        },
    )
    linger_ms: int = field(default=20, metadata={"help": "longest wait to fill an envelope"})

    # --- offline evaluation (policysim evaluate) -----------------------------
    evaluate_batch: int = field(
        default=4096, metadata={"help": "events per Engine.evaluate call in `policysim evaluate`"}
    )
    progress_min_bytes: int = field(
        default=1 << 20, metadata={"help": "inputs at least this large get a progress bar"}
    )

    # --- run and report ----------------------------------------------------
    run_events: int = field(
        default=200_000, metadata={"help": "events `policysim run` simulates unless --count"}
    )
    run_seed: int = field(default=1, metadata={"help": "scenario seed of `policysim run`"})
    report_dir: str = field(
        default="reports", metadata={"help": "where `policysim run` writes reports"}
    )

    # --- general -----------------------------------------------------------
    log_level: str = field(default="INFO", metadata={"help": "logging level"})
    data_dir: str = field(
        default="../shared/data",
        metadata={"help": "folder of the shared real data (CIDR lists, Zeek logs)"},
    )

    @property
    def producer_acks(self) -> int | str:
        """What producers wait for: every in-sync replica when durable, else the leader."""
        return "all" if self.durable else 1

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied, skipping ``None`` (flags not given)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **{k: _coerce(k, v, "argument") for k, v in given.items()})


_FIELD_TYPES: dict[str, type] = {
    f.name: typing.get_type_hints(Settings)[f.name] for f in fields(Settings)
}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Convert ``value`` to the field's type, or explain which source gave a bad value."""
    if name not in _FIELD_TYPES:
        raise SettingsError(f"{origin}: unknown setting {name!r}")
    kind = _FIELD_TYPES[name]
    if isinstance(value, kind):
        return value
    if kind is bool and isinstance(value, str):
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off", ""}:
            return False
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"{origin}: setting {name!r} wants {kind.__name__}, got {value!r}"
        ) from exc


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Build settings from defaults, then the file, then the environment, then flags."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc}") from exc
        section = data.get("policysim", data)
        for key, value in section.items():
            values[key] = _coerce(key, value, str(path))
    for name in _FIELD_TYPES:
        raw = env.get(f"{ENV_PREFIX}{name.upper()}")
        if raw is not None:
            values[name] = _coerce(name, raw, f"${ENV_PREFIX}{name.upper()}")
    return Settings(**values).replace(**flags)
