"""Annotations shared by the dashboards: policy changes, refused edits, registry updates.

These markers say why the charts changed at a moment: a new policy version came into
force (its ``policysim_policy_info`` series is new), an edit was refused, the registry
changed, or a rule began deciding differently. The last is how a deadline shows: the
worker counts verdicts by rule, not by phase, and a phased rule's decision is what
changes when a phase begins (grace ends: ``unregistered-vpn`` goes from flag to block).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from policysim.dashboards.builders import annotation

#: A policy version that was not in force a minute earlier: a start or a hot reload.
POLICY_LOADED = (
    "max by (policy, version) (policysim_policy_info)"
    " unless max by (policy, version) (policysim_policy_info offset 1m)"
)
POLICY_REFUSED = "sum by (instance) (increase(policysim_policy_reload_failures_total[1m])) > 0"
REGISTRY_CHANGED = "max(changes(policysim_registry_version[1m])) > 0"
#: A rule that began giving a decision within the last minute: at a deadline (a new phase)
#: the phased rule's decision changes, e.g. ``unregistered-vpn`` from flag to block.
RULE_DECISION_STARTED = (
    "(sum by (policy, rule, decision) (policysim:verdicts:rate1m) > 0)"
    " unless (sum by (policy, rule, decision) (policysim:verdicts:rate1m offset 1m) > 0)"
)


def markers() -> list[dash.AnnotationQuery]:
    """The annotations every policysim dashboard shows."""
    return [
        annotation("Policy version in force", POLICY_LOADED, "green"),
        annotation("Policy edit refused", POLICY_REFUSED, "red"),
        annotation("Registry changed", REGISTRY_CHANGED, "blue"),
        annotation("Rule decision began (deadline)", RULE_DECISION_STARTED, "orange"),
    ]
