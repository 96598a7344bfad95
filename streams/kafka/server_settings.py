"""Apache Kafka's server settings, in one place: the jar-based cluster and the compose file.

:func:`cluster_settings` is what every node of a cluster of a given size
shares; :func:`node_properties` adds what is each node's own (its id, ports and
data folder). ``docker-compose.yml`` sets the same values for its one node as
``KAFKA_*`` variables, and a test compares them (see :func:`compose_variable`).
"""

from __future__ import annotations

from pathlib import Path

LOOPBACK = "127.0.0.1"

# Chosen for a broker that starts fast and serves policysim's topics on a small machine.
TUNING: dict[str, str] = {
    # Topics made by the broker itself get as many partitions as policysim makes (the
    # partitions setting, 8); policysim makes its topics itself, so the broker does not.
    "num.partitions": "8",
    "auto.create.topics.enable": "false",
    # A consumer group's first rebalance starts at once instead of waiting 3 s for members.
    "group.initial.rebalance.delay.ms": "0",
    # Small internal topics: made on first use, 50 partitions each would slow that use.
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.num.partitions": "8",
    # Consumer session timeouts as low as the worker's settings may ask (default 6 s).
    "group.min.session.timeout.ms": "1000",
}


def cluster_settings(nodes: int) -> dict[str, str]:
    """:data:`TUNING` plus the replication that ``nodes`` nodes allow (3 at most, 2 in sync)."""
    replicas = min(nodes, 3)
    return {
        **TUNING,
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min(replicas, 2)),
        "default.replication.factor": str(replicas),
    }


def node_properties(node_id: int, ports: list[tuple[int, int]], data_dir: Path) -> dict[str, str]:
    """The ``server.properties`` of node ``node_id`` (1-based) of a combined-mode cluster.

    ``ports`` holds each node's (client, controller) port; every node is both
    broker and controller, and all of them vote.
    """
    client, controller = ports[node_id - 1]
    voters = ",".join(f"{i}@{LOOPBACK}:{c}" for i, (_, c) in enumerate(ports, start=1))
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{LOOPBACK}:{client},CONTROLLER://{LOOPBACK}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{client}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        **cluster_settings(len(ports)),
    }


def properties_text(properties: dict[str, str]) -> str:
    """``key=value`` lines, as Kafka reads a ``server.properties`` file."""
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def compose_variable(key: str) -> str:
    """The apache/kafka image's environment variable for ``key`` (``a.b_c`` → ``KAFKA_A_B__C``)."""
    return "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper()
