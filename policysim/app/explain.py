"""Why one event gets its verdict: the use case behind ``policysim explain``.

The registry is chosen as ``policy test`` chooses it (``--registry``, else the
enforced policy's ``test_registry``), and the choice is part of the result so
that the output can say which registrations the explanation saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import orjson

from policysim.app.errors import AppError
from policysim.app.loading import RegistryChoice, choose_registry, load_policies, load_registry
from policysim.policies.engine import Engine
from policysim.policies.explain import Explanation, explain
from policysim.policies.model import Rejection, decode_event


@dataclass(frozen=True)
class ExplainResult:
    """The explanations (one per policy, enforced first) and the registry they saw."""

    explanations: list[Explanation]
    registry: RegistryChoice
    registry_rows_skipped: int = 0

    def as_dict(self) -> dict:
        """The result for scripts: the registry used and each policy's explanation."""
        return {
            "registry": {
                "path": self.registry.path,
                "reason": self.registry.reason,
                "rows_skipped": self.registry_rows_skipped,
            },
            "explanations": msgspec.to_builtins(self.explanations),
        }


def explain_event(
    policy_paths: Sequence[str],
    event_json: str,
    registry_path: str | None = None,
    skip_bad_rows: bool = False,
) -> ExplainResult:
    """Explain the event given as JSON text (``id`` and ``sport`` may be left out)."""
    policies = load_policies(policy_paths)
    choice = choose_registry(registry_path, policies)
    registry = load_registry(choice.path, skip_bad_rows)
    try:
        raw = orjson.loads(event_json)
    except orjson.JSONDecodeError as exc:
        raise AppError(f"the event is not JSON: {exc}") from exc
    if isinstance(raw, dict):
        raw = {"id": "explain", "sport": 0, **raw}
    event = decode_event(orjson.dumps(raw), source="EVENT_JSON")
    if isinstance(event, Rejection):
        raise AppError(f"bad event ({event.reason}): {event.detail}")
    return ExplainResult(explain(Engine(policies, registry), event), choice, len(registry.problems))
