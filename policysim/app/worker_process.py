"""A worker as a child process, for ``policysim up``, the pipeline benchmark and the tests.

A worker is a separate process (as in a deployment) so that it can be
stopped with a real SIGTERM and two of them can share a consumer group.
Readiness comes from the worker's own ``policysim_worker_ready`` gauge on
``/metrics``, never from a sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from policysim.base.settings import ENV_PREFIX, Settings
from policysim.streams.broker import free_port


class WorkerProcessError(RuntimeError):
    """The worker exited or did not become ready (its log file is named in the message)."""


def scrape(url: str, timeout: float = 2.0) -> dict[tuple[str, tuple], float]:
    """Every sample at a ``/metrics`` URL as ``{(name, sorted label items): value}``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def sample_sum(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, items), v in samples.items() if n == name and wanted <= set(items))


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process the same settings."""
    from dataclasses import fields

    env = dict(os.environ)
    for f in fields(Settings):
        env[f"{ENV_PREFIX}{f.name.upper()}"] = str(getattr(settings, f.name))
    return env


class WorkerProcess:
    """A worker (:mod:`policysim.app.worker`) in a child process, metrics on a known port."""

    def __init__(
        self,
        settings: Settings,
        policies: Sequence[str | Path],
        registry: str | Path | None,
        log_path: str | Path,
        metrics_port: int = 0,
    ) -> None:
        self.metrics_port = metrics_port or free_port()
        self.settings = settings.replace(metrics_port=self.metrics_port)
        self.policies = [str(p) for p in policies]
        self.registry = str(registry) if registry else None
        self.log_path = Path(log_path)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://{self.settings.metrics_host}:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int:
        """The worker's process id (0 before :meth:`start`), for resource sampling."""
        return self.process.pid if self.process else 0

    def start(self) -> WorkerProcess:
        command = [sys.executable, "-m", "policysim.app.worker"]
        for policy in self.policies:
            command += ["--policy", policy]
        if self.registry:
            command += ["--registry", self.registry]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                command,
                env=settings_env(self.settings),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        return self

    def metrics(self) -> dict[tuple[str, tuple], float]:
        return scrape(self.metrics_url)

    def wait_ready(self, timeout: float = 90.0) -> WorkerProcess:
        """Return once the worker reports ready; raise if it exits or times out."""
        self.wait_for(lambda m: sample_sum(m, "policysim_worker_ready") >= 1, timeout, "ready")
        return self

    def wait_for(
        self, condition, timeout: float = 30.0, what: str = "condition", interval: float = 0.1
    ) -> dict:
        """Poll ``/metrics`` every ``interval`` seconds until ``condition(samples)`` holds;
        return the samples."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise WorkerProcessError(f"worker exited ({code}); see {self.log_path}")
            try:
                samples = self.metrics()
                if condition(samples):
                    return samples
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() >= deadline:
                raise WorkerProcessError(
                    f"worker not {what} after {timeout} s; see {self.log_path}"
                )
            time.sleep(interval)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; return the exit code (killed workers give a negative code)."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
