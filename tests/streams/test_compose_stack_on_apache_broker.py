"""What the compose stack does, done on Apache Kafka from its jars with the compose commands.

There is no Docker engine here, so the services of ``docker-compose.yml`` run as processes:
its registry, both workers (one consumer group) and its simulator run their compose commands
(only addresses, ports, paths and the run length swapped for local ones) against the session's
Apache Kafka node, and a real Prometheus scrapes both workers with the project's configuration.
Every event gets a verdict from each of the three policies, each worker takes part, and
Prometheus sees both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kafka_topics import private_settings
from ruamel.yaml import YAML
from waiting import wait_until

from policysim.app.worker_process import sample_sum, scrape
from policysim.dashboards.promapi import Prometheus
from policysim.streams.broker import Broker, free_port
from policysim.streams.reading import read_items
from policysim.streams.topics import partition_count, topic_names

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.prometheus,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None, reason="prometheus missing: apt-get install prometheus"
    ),
]

_yaml = YAML(typ="safe")
ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "dashboards" / "prometheus"
VOLUME = "/var/lib/policysim"
RATE, SECONDS = 500, 6


def compose_services() -> dict[str, dict]:
    return _yaml.load((ROOT / "docker-compose.yml").read_text())["services"]


def swapped(command: list[str], values: dict[str, str], folder: Path) -> list[str]:
    """``command`` with each flag of ``values`` given that value, and the volume made ``folder``."""
    out = [arg.replace(VOLUME, str(folder)) for arg in command]
    for flag, value in values.items():
        out[out.index(flag) + 1] = value
    return [sys.executable, "-m", "policysim.cli", *out]


def test_the_compose_stack_runs_on_apache_kafka(apache_broker: Broker, tmp_path: Path) -> None:
    services = compose_services()
    settings = private_settings(apache_broker.bootstrap, f"compose-{os.getpid()}")
    # the `topics` service: the four topics, with the partitions of the settings
    assert all(partition_count(settings, name) == 8 for name in topic_names(settings))
    env = {
        **os.environ,
        **services["worker-1"]["environment"],
        "POLICYSIM_BOOTSTRAP": settings.bootstrap,
        "POLICYSIM_METRICS_HOST": "127.0.0.1",  # loopback here, not the container's 0.0.0.0
        "POLICYSIM_TOPIC_CONNECTIONS": settings.topic_connections,
        "POLICYSIM_TOPIC_VERDICTS": settings.topic_verdicts,
        "POLICYSIM_TOPIC_REGISTRATIONS": settings.topic_registrations,
        "POLICYSIM_TOPIC_DLQ": settings.topic_dlq,
        "POLICYSIM_CONSUMER_GROUP": settings.consumer_group,
    }
    run = {"cwd": ROOT, "env": env, "stderr": subprocess.STDOUT}
    subprocess.run(swapped(services["registry"]["command"], {}, tmp_path), check=True, **run)

    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, port in zip(("worker-1", "worker-2"), ports, strict=True):
            command = swapped(services[name]["command"], {"--metrics-port": str(port)}, tmp_path)
            with (tmp_path / f"{name}.log").open("wb") as log:
                processes.append(subprocess.Popen(command, stdout=log, **run))
        config = _yaml.load((PROM_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(PROM_DIR / path) for path in config["rule_files"]]
        config["scrape_configs"][0]["static_configs"] = [
            {"targets": [f"127.0.0.1:{port}" for port in ports]}
        ]
        _yaml.dump(config, tmp_path / "prometheus.yml")
        prom_port = free_port()
        with (tmp_path / "prometheus.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        "prometheus",
                        f"--config.file={tmp_path / 'prometheus.yml'}",
                        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                    ],
                    stdout=log,
                    **run,
                )
            )

        def metrics(port: int) -> dict:
            try:
                return scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return {}

        def sharing() -> bool:
            assigned = [sample_sum(metrics(p), "policysim_assigned_partitions") for p in ports]
            return all(0 < n < 8 for n in assigned) and sum(assigned) == 8

        wait_until(sharing, 120, "both workers sharing the 8 partitions in one group", 0.5)
        simulator = swapped(
            services["simulator"]["command"],
            {
                "--bootstrap-server": settings.bootstrap,
                "--topic": settings.topic_connections,
                "--rate": str(RATE),
                "--duration-seconds": str(SECONDS),
            },
            tmp_path,
        )
        subprocess.run(simulator, check=True, timeout=300, **run)
        count = RATE * SECONDS
        verdicts = read_items(settings, settings.topic_verdicts, until_idle=5.0, expected=3 * count)
        pairs = {(v["id"], v["policy"]) for v in verdicts}
        assert len({event for event, _ in pairs}) == count
        assert len(pairs) == 3 * count
        events = [sample_sum(metrics(p), "policysim_events_total") for p in ports]
        assert all(n > 0 for n in events) and sum(events) >= count

        prometheus = Prometheus(f"http://127.0.0.1:{prom_port}")
        wait_until(prometheus.ready, 60, "Prometheus ready", 0.5)

        def both_scraped() -> bool:
            found = prometheus.query(
                'sum by (instance) (policysim_events_total{job="policysim-worker"})'
            )
            return len(found) == 2 and all(float(r["value"][1]) > 0 for r in found)

        wait_until(both_scraped, 60, "both workers scraped by Prometheus", 0.5)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
