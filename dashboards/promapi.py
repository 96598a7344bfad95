"""A minimal client of Prometheus's HTTP API (``/api/v1``), with the standard library only.

The snapshot command and the tests need four calls: an instant query, a range query,
the rule groups and the scrape targets. Errors become :class:`PrometheusError` with the
query and Prometheus's own message, never an empty result.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or refused a request."""


class Prometheus:
    """The HTTP API of one Prometheus server at ``url`` (e.g. ``http://127.0.0.1:9090``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        address = f"{self.url}/api/v1/{path}{query}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise PrometheusError(f"{path} {params}: HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PrometheusError(f"{address}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query: a list of ``{"metric": labels, "value": [t, "v"]}``."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        return self._result(self._get("query", params), expr)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query: a list of ``{"metric": labels, "values": [[t, "v"], ...]}``."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        return self._result(self._get("query_range", params), expr)

    @staticmethod
    def _result(data: dict[str, Any], expr: str) -> list[dict[str, Any]]:
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        if data["resultType"] not in ("vector", "matrix"):
            raise PrometheusError(f"{expr}: unexpected result type {data['resultType']}")
        return data["result"]

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups with their rules' health and last errors."""
        return self._get("rules")["groups"]

    def ready(self) -> bool:
        """Whether the server answers ``/-/ready``."""
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=self.timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False
