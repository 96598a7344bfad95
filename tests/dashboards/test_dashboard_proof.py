"""The proof of issue 5: every dashboard query returns data from a real run.

The embedded broker, a worker with two policies (the enforced PTA deadline policy and a
lenient shadow), the simulator with ground truth for the PTA deadline scenario (three
weeks of event time in about twenty seconds, so the deadline passes mid-run), a few
malformed messages and one refused policy edit; a real Prometheus scrapes the worker
with the project's scrape config and rules. Then every panel query and annotation of
every dashboard, with its variables filled in, and every recording rule goes through
Prometheus's HTTP API and must return data. ``policysim snapshot`` draws the overview.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka_topics import private_settings
from ruamel.yaml import YAML

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.dashboards import generate
from policysim.dashboards.promapi import Prometheus
from policysim.dashboards.queries import PanelQuery, annotation_queries, fill, panel_queries
from policysim.dashboards.snapshot import enforced_policy, variable_values
from policysim.streams.broker import EmbeddedBroker, free_port
from policysim.streams.kafka_config import kafka_python_kwargs

_yaml = YAML(typ="safe")

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.prometheus,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None, reason="prometheus missing: apt-get install prometheus"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "dashboards" / "prometheus"
ENFORCED, SHADOW = "pta-vpn-2024", "pta-vpn-lenient"
EVENTS_PER_SECOND, SECONDS = 1000, 20
REGISTRATION = json.dumps(
    {"entity_id": "dash-proof-entity", "category": "freelancer", "prefixes": ["203.0.113.7/32"]}
).encode()
MALFORMED = [b"not json", b'{"id": "x1"}', b'{"id": "x2", "ts": 1, "src": "999.1.1.1"}']

#: Queries that legitimately have no data in this run, with the reason. Empty: the run
#: is built so that every panel has something to show (malformed input for the reject
#: panels, a refused edit for the reload-failure marker, a registration sent mid-run for
#: the registry marker, the deadline passing for the rule-decision marker).
NO_DATA_EXPECTED: dict[str, str] = {}

#: How long Prometheus gets to scrape and evaluate before a query counts as empty.
SETTLE_SECONDS = 90.0


@dataclass
class Stack:
    """The running pieces the tests query."""

    prometheus: Prometheus
    worker_log: Path
    metrics_url: str


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def metrics_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return ""


def sample_value(text: str, name: str) -> float:
    """The value of an unlabelled sample ``name`` in a /metrics page (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name in (
        "bootstrap",
        "topic_connections",
        "topic_verdicts",
        "topic_registrations",
        "topic_dlq",
        "consumer_group",
    ):
        env[f"POLICYSIM_{name.upper()}"] = str(getattr(settings, name))
    return env


def policysim(*args: str) -> list[str]:
    return [sys.executable, "-m", "policysim.cli", *args]


def prometheus_config(tmp: Path, worker_port: int) -> Path:
    """The project's prometheus.yml, pointed at the test's worker and scraping every second."""
    config = _yaml.load((PROM_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROM_DIR / path) for path in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
    path = tmp / "prometheus.yml"
    _yaml.dump(config, path)
    return path


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("dash-proof")
    settings = private_settings(broker.bootstrap, f"dash-proof-{os.getpid()}")
    env = child_env(settings)
    policies = tmp / "policies"
    shutil.copytree(ROOT / "policies" / "examples", policies)
    registry = tmp / "registry.csv"
    scenario = str(ROOT / "simulators" / "scenarios" / "pta-deadline.yaml")
    subprocess.run(
        policysim("simulate", "--scenario", scenario, "--events", "1", "--out", os.devnull,
                  "--registry-out", str(registry), "--no-progress"),
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip

    worker_port, prom_port = free_port(), free_port()
    processes = []
    try:
        prom = start(
            [
                "prometheus",
                f"--config.file={prometheus_config(tmp, worker_port)}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp / "prometheus.log",
            env,
        )
        processes.append(prom)
        prometheus = Prometheus(f"http://127.0.0.1:{prom_port}")
        wait_for(prometheus.ready, 60, "Prometheus to be ready")

        worker_log = tmp / "worker.log"
        worker = start(
            policysim(
                "worker",
                "--policy", str(policies / f"{ENFORCED}.yaml"),
                "--policy", str(policies / f"{SHADOW}.yaml"),
                "--registry", str(registry),
                "--metrics-port", str(worker_port),
            ),
            worker_log,
            env,
        )  # fmt: skip
        processes.append(worker)
        metrics_url = f"http://127.0.0.1:{worker_port}/metrics"

        def worker_ready() -> bool:
            if worker.poll() is not None:
                pytest.fail(f"worker exited {worker.returncode}:\n{worker_log.read_text()}")
            return sample_value(metrics_text(metrics_url), "policysim_worker_ready") == 1.0

        wait_for(worker_ready, 120, "the worker to report ready")

        simulator = start(
            policysim(
                "simulate", "--scenario", scenario,
                "--to", f"kafka://{broker.bootstrap}/{settings.topic_connections}",
                "--rate", str(EVENTS_PER_SECOND), "--duration", str(SECONDS), "--no-progress",
            ),
            tmp / "simulator.log",
            env,
        )  # fmt: skip
        processes.append(simulator)
        producer = KafkaProducer(**kafka_python_kwargs(settings))
        for raw in MALFORMED:
            producer.send(settings.topic_connections, raw)
        # A registration mid-run: the worker follows the topic and bumps the registry version.
        version = sample_value(metrics_text(metrics_url), "policysim_registry_version")
        # Prometheus must have the version before the change, or changes() sees none.
        wait_for(
            lambda: has_data(prometheus, f"policysim_registry_version == {version}"),
            60,
            "Prometheus to scrape the registry version before the registration",
        )
        producer.send(settings.topic_registrations, key=b"dash-proof-entity", value=REGISTRATION)
        producer.flush()
        producer.close()
        wait_for(
            lambda: sample_value(metrics_text(metrics_url), "policysim_registry_version") > version,
            60,
            "the worker to apply the registration",
        )

        # A broken edit of the shadow policy: refused, counted, the old version stays.
        (policies / f"{SHADOW}.yaml").write_text("policy: [this is not a policy\n")
        wait_for(
            lambda: (
                sample_value(metrics_text(metrics_url), "policysim_policy_reload_failures_total")
                >= 1
            ),
            60,
            "the worker to refuse the broken policy edit",
        )
        assert simulator.wait(timeout=SECONDS * 10) == 0, (tmp / "simulator.log").read_text()
        yield Stack(prometheus, worker_log, metrics_url)
    finally:
        for process in reversed(processes):
            stop(process)


def all_queries() -> list[PanelQuery]:
    found = []
    for name in generate.DASHBOARDS:
        board = json.loads((generate.OUTPUT_DIR / name).read_text())
        found += panel_queries(board) + annotation_queries(board)
    return found


def recording_rules() -> list[str]:
    names = []
    for path in sorted((PROM_DIR / "rules").glob("*.yml")):
        for group in _yaml.load(path.read_text())["groups"]:
            names += [rule["record"] for rule in group["rules"] if "record" in rule]
    return names


def has_data(prometheus: Prometheus, expr: str) -> bool:
    return any(prometheus.query(expr))


def test_every_recording_rule_has_data(stack: Stack) -> None:
    rules = recording_rules()
    assert len(rules) >= 10
    for group in stack.prometheus.rule_groups():
        for rule in group["rules"]:
            assert rule["health"] != "err", f"{rule['name']}: {rule.get('lastError')}"
    missing = set(rules)
    deadline = time.monotonic() + SETTLE_SECONDS
    while missing and time.monotonic() < deadline:
        missing = {rule for rule in missing if not has_data(stack.prometheus, rule)}
        time.sleep(0.5 if missing else 0)
    assert not missing, f"recording rules without data: {sorted(missing)}"


def test_every_panel_query_of_every_dashboard_has_data(stack: Stack) -> None:
    policy = enforced_policy(stack.prometheus)
    assert policy == ENFORCED
    values = variable_values(policy, 600)
    queries = all_queries()
    assert len(queries) >= 30
    assert set(NO_DATA_EXPECTED) <= {q.name for q in queries}, "stale NO_DATA_EXPECTED entry"
    pending = {q.name: fill(q.expr, values) for q in queries if q.name not in NO_DATA_EXPECTED}
    deadline = time.monotonic() + SETTLE_SECONDS
    while pending and time.monotonic() < deadline:
        pending = {n: e for n, e in pending.items() if not has_data(stack.prometheus, e)}
        time.sleep(0.5 if pending else 0)
    assert not pending, "queries without data:\n" + "\n".join(
        f"{name}: {expr}" for name, expr in sorted(pending.items())
    )


def test_the_comparison_sees_both_policies_and_the_ground_truth(stack: Stack) -> None:
    prometheus = stack.prometheus
    per_policy = prometheus.query("sum by (policy) (policysim_verdicts_total)")
    assert {item["metric"]["policy"] for item in per_policy} == {ENFORCED, SHADOW}
    truth = prometheus.query("sum by (truth) (policysim_truth_total)")
    assert {item["metric"]["truth"] for item in truth} >= {
        "vpn_unregistered",
        "non_vpn_unregistered",
    }
    blocked = prometheus.query(
        f'sum(policysim_verdicts_total{{policy="{ENFORCED}", decision="block"}})'
    )
    assert blocked and float(blocked[0]["value"][1]) > 0, "the deadline never passed"


def test_snapshot_draws_the_overview(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "snapshot"
    assert main(["snapshot", "--prometheus", stack.prometheus.url, "--out", str(out),
                 "--minutes", "3"]) == 0  # fmt: skip
    overview = out / "overview.png"
    assert overview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    board = generate.as_dict(generate.DASHBOARDS["overview.json"]())
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len(list(out.glob("*.png"))) == len(panels) + 1
    keep = os.environ.get("POLICYSIM_SNAPSHOT_KEEP")
    if keep:
        shutil.copytree(out, keep, dirs_exist_ok=True)
