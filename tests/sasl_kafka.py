"""An Apache Kafka node whose client listener asks for a SASL login (PLAIN and SCRAM-SHA-256).

Only the credential tests need it: the product's clusters (``policysim broker
--engine apache``) are plaintext on loopback. It uses the same jars, Java and
main classes as :class:`policysim.streams.kafka.ApacheKafka`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from policysim.streams.broker import LOOPBACK, BrokerError, api_versions_ok, free_port
from policysim.streams.kafka.cluster import (
    JVM_OPTIONS,
    SERVER_MAIN,
    STORAGE_MAIN,
    classpath,
    java_command,
    new_cluster_id,
)
from policysim.streams.kafka.server_settings import properties_text

USERS = {"alice": "alice-secret"}
ADMIN = ("admin", "admin-secret")


def _properties(client: int, controller: int, data: Path) -> dict[str, str]:
    plain_users = " ".join(f'user_{u}="{p}"' for u, p in [ADMIN, *USERS.items()])
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{controller}",
        "listeners": f"SASL_PLAINTEXT://{LOOPBACK}:{client},CONTROLLER://{LOOPBACK}:{controller}",
        "advertised.listeners": f"SASL_PLAINTEXT://{LOOPBACK}:{client}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN[0]}" password="{ADMIN[1]}" {plain_users};'
        ),
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "log.dirs": str(data / "logs"),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
    }


class SaslKafka:
    """One SASL-guarded node on loopback; use as a context manager."""

    def __init__(self, start_timeout: float = 90.0) -> None:
        self.port, self.controller = free_port(), free_port()
        self.data = Path(tempfile.mkdtemp(prefix="policysim-sasl-kafka-"))
        self.log_path = self.data / "kafka.log"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def __enter__(self) -> SaslKafka:
        config = self.data / "server.properties"
        config.write_text(properties_text(_properties(self.port, self.controller, self.data)))
        java, jars = java_command(), classpath()
        scram = [f"SCRAM-SHA-256=[name={u},password={p}]" for u, p in USERS.items()]
        fmt = [java, "-cp", jars, STORAGE_MAIN, "format", "-t", new_cluster_id(), "-c", str(config)]
        for entry in scram:
            fmt += ["--add-scram", entry]
        with self.log_path.open("ab") as out:
            subprocess.run(fmt, check=True, stdout=out, stderr=subprocess.STDOUT)
            self.process = subprocess.Popen(
                [java, *JVM_OPTIONS, "-cp", jars, SERVER_MAIN, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while not api_versions_ok(LOOPBACK, self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise BrokerError(f"SASL Kafka did not start; see {self.log_path}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)
