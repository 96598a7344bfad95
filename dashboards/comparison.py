"""The Policy comparison dashboard: the enforced policy and its shadows on the same traffic.

Every worker evaluates every event against every loaded policy, so the per-policy counters
cover identical input and their differences are the policies' differences. From counters
alone the number of events two policies decide differently is known only from below (half
the sum of the per-decision differences), which is what the disagreement panel shows. With
ground truth on the events, the confusion matrix splits the verdicts into collateral
damage (legitimate traffic flagged or blocked) and misses (unregistered VPN traffic allowed).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from policysim.dashboards.builders import (
    ACTING_DECISIONS,
    FULL_WIDTH,
    INSTANCE,
    PanelBuilder,
    Query,
    dashboard,
    instance_variable,
    instant_table,
    time_series,
    with_sections,
)
from policysim.dashboards.markers import markers

UID = "policysim-comparison"

#: Legitimate traffic: registered, or not a VPN at all. Only unregistered VPN use is a target.
LEGITIMATE = 'truth=~"vpn_registered|non_vpn_registered|non_vpn_unregistered"'
TARGETED = 'truth="vpn_unregistered"'

_PER_DECISION = f"sum by (policy, decision) (policysim:verdicts:rate1m{{{INSTANCE}}})"
#: The enforced policy's verdicts per decision (``policysim_policy_info`` marks it per worker).
_ENFORCED = (
    f"sum by (decision) (policysim:verdicts:rate1m{{{INSTANCE}}}"
    " * on (instance, policy) group_left"
    ' max by (instance, policy) (policysim_policy_info{enforced="true"}))'
)
#: Each policy's verdicts per decision minus the enforced policy's (0 where they agree).
DECISION_DIFFERENCE = f"{_PER_DECISION} - on (decision) group_left {_ENFORCED}"


def _decisions() -> list[PanelBuilder]:
    return [
        time_series(
            "Decisions per policy",
            "Verdicts per second of every loaded policy on the same events.",
            [Query(_PER_DECISION, "{{policy}} {{decision}}")],
            "ops",
        ),
        time_series(
            "Decision share per policy",
            "Share of each decision per policy (all workers).",
            [Query("policysim:decisions:share_rate1m", "{{policy}} {{decision}}")],
            "percentunit",
        ),
        time_series(
            "Decisions minus the enforced policy's",
            "Per decision, how many more (or fewer) events per second each shadow policy gives"
            " that decision than the enforced policy.",
            [Query(DECISION_DIFFERENCE, "{{policy}} {{decision}}")],
            "ops",
        ),
        time_series(
            "Events decided differently from the enforced policy (at least)",
            "Half the sum of the per-decision differences: a lower bound on the events per"
            " second on which each shadow policy and the enforced one disagree.",
            [Query(f"sum by (policy) (abs({DECISION_DIFFERENCE})) / 2", "{{policy}}")],
            "ops",
        ),
    ]


def _per_policy_or_zero(selector: str) -> str:
    """Truth-cell rate per policy, 0 (not a gap) for a policy with no such verdicts yet."""
    counted = f"sum by (policy) (policysim:truth:rate1m{{{selector}, {INSTANCE}}})"
    every_policy = f"sum by (policy) (policysim:truth:rate1m{{{INSTANCE}}}) * 0"
    return f"({counted} or {every_policy})"


def _ground_truth() -> list[PanelBuilder]:
    collateral = _per_policy_or_zero(f'{LEGITIMATE}, decision=~"{ACTING_DECISIONS}"')
    legitimate = f"sum by (policy) (policysim:truth:rate1m{{{LEGITIMATE}, {INSTANCE}}})"
    return [
        time_series(
            "Collateral damage: legitimate traffic flagged or blocked",
            "Registered users and non-VPN traffic that a policy flags or blocks, per second.",
            [Query(collateral, "{{policy}}")],
            "ops",
        ),
        time_series(
            "Collateral damage share",
            "Flagged or blocked share of the legitimate traffic, per policy.",
            [Query(f"{collateral} / {legitimate}", "{{policy}}")],
            "percentunit",
        ),
        time_series(
            "Missed: unregistered VPN traffic allowed",
            "Traffic the regulation targets that a policy lets through, per second"
            " (0 for a policy that acts on all of it).",
            [Query(_per_policy_or_zero(f'{TARGETED}, decision="allow"'), "{{policy}}")],
            "ops",
        ),
        time_series(
            "Verdicts by ground truth",
            "Every cell of the confusion matrix over time: policy, truth and decision.",
            [
                Query(
                    f"sum by (policy, truth, decision) (policysim:truth:rate1m{{{INSTANCE}}})",
                    "{{policy}} {{truth}} → {{decision}}",
                )
            ],
            "ops",
        ),
        instant_table(
            "Confusion matrix per policy (events in the time range)",
            "Events per policy, ground truth and decision over the dashboard's time range.",
            [
                Query(
                    "sum by (policy, truth, decision)"
                    f" (increase(policysim_truth_total{{{INSTANCE}}}[$__range]))",
                    instant=True,
                    table=True,
                )
            ],
            width=FULL_WIDTH,
            height=10,
        ),
    ]


def _policies() -> list[PanelBuilder]:
    return [
        instant_table(
            "Policies in force",
            "Name and version of every loaded policy, per worker.",
            [
                Query(
                    f"max by (instance, policy, version) (policysim_policy_info{{{INSTANCE}}})",
                    instant=True,
                    table=True,
                )
            ],
            width=FULL_WIDTH,
            height=6,
        )
    ]


def build() -> dash.Dashboard:
    """The Policy comparison dashboard."""
    board = (
        dashboard(
            UID,
            "policysim — Policy comparison",
            "The enforced policy and its shadows side by side: decisions, disagreement,"
            " and with ground truth the collateral damage and the misses of each.",
            ["comparison"],
        )
        .with_variable(instance_variable())
        .annotations(markers())
    )
    sections = {
        "Decisions": _decisions(),
        "Ground truth": _ground_truth(),
        "Policies": _policies(),
    }
    return with_sections(board, sections)
