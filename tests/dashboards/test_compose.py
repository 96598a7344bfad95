"""docker-compose.yml: valid for a real compose parser, and everything it names exists.

There is no Docker engine on the development or CI machines, so the file is checked
statically: Debian's ``docker-compose config`` parses and validates it against the
compose schema, and every command, mounted path, port and scrape target is checked
against the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

_yaml = YAML(typ="safe")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROJECT_IMAGE = "policysim:latest"
WORKER_METRICS_PORT = "9464"


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The file as docker-compose resolves it (anchors merged, paths absolute)."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose missing: apt-get install docker-compose")
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return _yaml.load(result.stdout)


def project_services(resolved: dict) -> dict[str, dict]:
    return {n: s for n, s in resolved["services"].items() if s.get("image") == PROJECT_IMAGE}


def test_compose_file_is_valid(resolved: dict) -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {"kafka", "topics", "worker-1", "simulator", "prometheus", "grafana"} <= set(
        resolved["services"]
    )


def test_kafka_runs_in_kraft_mode_with_one_broker(resolved: dict) -> None:
    env = resolved["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 1
    assert "ZOOKEEPER" not in " ".join(env)


def test_kafka_is_the_release_and_settings_of_the_jar_based_broker(resolved: dict) -> None:
    """The image is the pom's Apache Kafka release; every server setting is the launcher's."""
    from policysim.streams.kafka.cluster import HEAP_OPTIONS
    from policysim.streams.kafka.server_settings import cluster_settings, compose_variable

    pom = (ROOT / "streams/kafka/pom.xml").read_text()
    release = re.search(r"<kafka.version>(.+)</kafka.version>", pom).group(1)
    for name in ("kafka", "topics"):
        assert resolved["services"][name]["image"] == f"apache/kafka:{release}", name
    env = resolved["services"]["kafka"]["environment"]
    expected = {compose_variable(key): value for key, value in cluster_settings(1).items()}
    assert {name: str(env.get(name)) for name in expected} == expected
    assert env["KAFKA_HEAP_OPTS"] == " ".join(HEAP_OPTIONS)


def test_every_published_port_is_on_loopback(resolved: dict) -> None:
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_project_services_build_the_dockerfile(resolved: dict) -> None:
    services = project_services(resolved)
    assert {"worker-1", "worker-2", "simulator"} <= set(services)
    for name, service in services.items():
        assert Path(service["build"]["context"]) == ROOT, name
        assert (ROOT / service["build"].get("dockerfile", "Dockerfile")).is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install ." in dockerfile
    assert 'ENTRYPOINT ["policysim"]' in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_project_commands_are_policysim_subcommands_that_exist(resolved: dict) -> None:
    for name, service in project_services(resolved).items():
        command = service["command"]
        result = subprocess.run(
            [sys.executable, "-m", "policysim.cli", command[0], "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{name}: `policysim {command[0]}`: {result.stderr}"
        for option in (arg for arg in command[1:] if arg.startswith("--")):
            assert option in result.stdout, f"{name}: `policysim {command[0]}` has no {option}"


def test_files_named_in_commands_exist(resolved: dict) -> None:
    """Relative paths are repository files; absolute ones are written by another service."""
    services = project_services(resolved)
    written = {
        command[command.index(flag) + 1]
        for command in (s["command"] for s in services.values())
        for flag in ("--registry-out",)
        if flag in command
    }
    for name, service in services.items():
        for arg in service["command"]:
            if not arg.endswith((".yaml", ".yml", ".csv", ".jsonl")):
                continue
            if arg.startswith("/"):
                assert arg in written, f"{name}: no service writes {arg}"
                volume_dirs = [v.split(":")[1] for v in service.get("volumes", [])]
                assert any(arg.startswith(d + "/") for d in volume_dirs), f"{name}: {arg}"
            else:
                assert (ROOT / arg).is_file(), f"{name}: {arg} is not in the repository"


def test_mounted_files_exist_and_match_what_the_services_read(resolved: dict) -> None:
    mounts = {}
    for name, service in resolved["services"].items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source in resolved.get("volumes", {}):
                continue
            assert Path(source).exists(), f"{name}: mounts missing {source}"
            assert Path(source).resolve().is_relative_to(ROOT), f"{name}: {source}"
            mounts[(name, target)] = Path(source)
    prom_dir = mounts[("prometheus", "/etc/prometheus")]
    config = _yaml.load((prom_dir / "prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        assert (prom_dir / rule_file).is_file()
    provisioning = mounts[("grafana", "/etc/grafana/provisioning")]
    providers = _yaml.load((provisioning / "dashboards" / "policysim.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    dashboards = mounts[("grafana", path)]
    assert sorted(p.name for p in dashboards.glob("*.json")) == ["comparison.json", "overview.json"]
    grafana_env = resolved["services"]["grafana"]["environment"]
    home = grafana_env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).relative_to(path)).is_file()


def test_scrape_targets_and_datasource_point_at_compose_services(resolved: dict) -> None:
    config = _yaml.load((ROOT / "dashboards/prometheus/prometheus.yml").read_text())
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    workers = [n for n, s in project_services(resolved).items() if s["command"][0] == "worker"]
    assert sorted(targets) == sorted(f"{w}:{WORKER_METRICS_PORT}" for w in workers)
    for worker in workers:
        command = resolved["services"][worker]["command"]
        assert command[command.index("--metrics-port") + 1] == WORKER_METRICS_PORT
        assert resolved["services"][worker]["environment"]["POLICYSIM_METRICS_HOST"] == "0.0.0.0"
    datasource = _yaml.load(
        (ROOT / "dashboards/grafana/provisioning/datasources/policysim.yml").read_text()
    )["datasources"][0]
    prometheus = resolved["services"]["prometheus"]
    assert datasource["url"] == "http://prometheus:9090"
    assert any(str(p).endswith(":9090/tcp") for p in prometheus["ports"])


def test_topic_setup_creates_the_topics_the_settings_name(resolved: dict) -> None:
    from policysim.base.settings import Settings

    script = " ".join(resolved["services"]["topics"]["command"])
    settings = Settings()
    for topic in (
        settings.topic_connections,
        settings.topic_verdicts,
        settings.topic_registrations,
        settings.topic_dlq,
    ):
        assert topic in script
    assert f"--partitions {settings.partitions}" in script
