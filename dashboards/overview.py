"""The Enforcement overview dashboard: what one policy does to the traffic, live.

Rates and latency read the recording rules (``policysim:...``) so that Grafana and the
alerts agree on the numbers; gauges (registry, lag, policy info) read the worker metrics.
``policysim snapshot`` draws the panels of this dashboard without Grafana.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from policysim.dashboards.builders import (
    ACTING_DECISIONS,
    FULL_WIDTH,
    INSTANCE,
    WORKER_JOB,
    PanelBuilder,
    Query,
    dashboard,
    instance_variable,
    instant_table,
    latency_heatmap,
    policy_variable,
    single_stat,
    time_series,
    with_sections,
)
from policysim.dashboards.markers import markers

UID = "policysim-overview"

POLICY = f'policy="$policy", {INSTANCE}'


def _quantiles(bucket_rate: str) -> list[Query]:
    """p50, p95 and p99 over the selected workers from a recorded bucket rate."""
    return [
        Query(
            f"histogram_quantile({q}, sum by (le) ({bucket_rate}{{{INSTANCE}}}))",
            f"p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def _decisions_panels() -> list[PanelBuilder]:
    return [
        time_series(
            "Events per second by decision",
            "Verdicts of the selected policy per second, stacked: allowed, flagged, blocked.",
            [
                Query(
                    f"sum by (decision) (policysim:verdicts:rate1m{{{POLICY}}})",
                    "{{decision}}",
                )
            ],
            "ops",
            stacked=True,
        ),
        time_series(
            "Flagged and blocked share",
            "Share of the selected policy's verdicts that flag or block (all workers).",
            [
                Query(
                    'sum by (decision) (policysim:decisions:share_rate1m{policy="$policy",'
                    f' decision=~"{ACTING_DECISIONS}"}})',
                    "{{decision}}",
                )
            ],
            "percentunit",
        ),
        time_series(
            "Verdicts by rule",
            "Which rule of the policy decided (an empty rule is the policy's default).",
            [
                Query(
                    f"sum by (rule, decision) (policysim:verdicts:rate1m{{{POLICY}}})",
                    "{{rule}} → {{decision}}",
                )
            ],
            "ops",
        ),
        time_series(
            "Flagged and blocked by rule",
            "Only the verdicts that act, by deciding rule: at a policy's deadline a rule's"
            " series moves from flag to block.",
            [
                Query(
                    "sum by (rule, decision)"
                    f' (policysim:verdicts:rate1m{{{POLICY}, decision!="allow"}})',
                    "{{rule}} → {{decision}}",
                )
            ],
            "ops",
        ),
        time_series(
            "Verdicts by source category",
            "Decisions by the registered category of the source address"
            " (`unregistered` when no registration covers it at event time).",
            [
                Query(
                    "sum by (category, decision)"
                    f" (policysim:verdicts_by_category:rate1m{{{POLICY}}})",
                    "{{category}} → {{decision}}",
                )
            ],
            "ops",
        ),
    ]


def _registry_panels() -> list[PanelBuilder]:
    # Every worker holds the whole registry, so the largest figure is the registry's, not a sum.
    return [
        single_stat(
            "Registered prefixes",
            "CIDR prefixes in the registry, per address family.",
            [Query(f"max by (family) (policysim_registry_prefixes{{{INSTANCE}}})", "{{family}}")],
            "short",
        ),
        single_stat(
            "Registered addresses",
            "Addresses covered by the registry, per address family.",
            [
                Query(
                    f"max by (family) (policysim_registry_addresses{{{INSTANCE}}})",
                    "{{family}}",
                )
            ],
            "short",
        ),
        single_stat(
            "Registry size",
            "Serialized size of the registry's roaring bitmaps.",
            [Query(f"max(policysim_registry_bytes{{{INSTANCE}}})", "bytes")],
            "bytes",
        ),
        single_stat(
            "Registry version",
            "Bumped by every registration or revocation applied; workers should agree.",
            [Query(f"policysim_registry_version{{{INSTANCE}}}", "{{instance}}")],
            "none",
        ),
        time_series(
            "Rejected events by reason",
            "Input that could not become an event; it goes to the dead-letter topic.",
            [
                Query(
                    f"sum by (reason) (policysim:events_rejected:rate1m{{{INSTANCE}}})",
                    "{{reason}}",
                )
            ],
            "ops",
        ),
        time_series(
            "Rejected share of the input",
            "Rejected events over all input (the alert fires above 1 %).",
            [Query("policysim:events_rejected:ratio_rate1m", "rejected")],
            "percentunit",
        ),
    ]


def _latency_panels() -> list[PanelBuilder]:
    return [
        time_series(
            "End-to-end latency",
            "From the producer's send time to the verdict being sent.",
            _quantiles("policysim:end_to_end_seconds_bucket:rate1m"),
            "s",
        ),
        time_series(
            "Decision latency",
            "Evaluation time per event in the decision core.",
            _quantiles("policysim:decision_seconds_bucket:rate1m"),
            "s",
        ),
        latency_heatmap(
            "End-to-end latency distribution",
            "Events per second in each latency bucket.",
            Query(
                f"sum by (le) (policysim:end_to_end_seconds_bucket:rate1m{{{INSTANCE}}})",
                "{{le}}",
                heatmap=True,
            ),
            width=FULL_WIDTH,
        ),
    ]


def _workers_panels() -> list[PanelBuilder]:
    return [
        time_series(
            "Consumer lag per partition",
            "Messages not yet processed, per topic and partition.",
            [
                Query(
                    f"sum by (topic, partition) (policysim_consumer_lag{{{INSTANCE}}})",
                    "{{topic}}/{{partition}}",
                )
            ],
            "short",
        ),
        single_stat(
            "Workers up",
            "Workers that answered the last scrape.",
            [Query(f'sum(up{{job="{WORKER_JOB}", {INSTANCE}}})', "workers")],
            "none",
        ),
        instant_table(
            "Policies in force",
            "Policy name and version each worker evaluates.",
            [
                Query(
                    f"max by (instance, policy, version) (policysim_policy_info{{{INSTANCE}}})",
                    instant=True,
                    table=True,
                )
            ],
            width=6,
            height=4,
        ),
    ]


def build() -> dash.Dashboard:
    """The Enforcement overview dashboard."""
    board = (
        dashboard(
            UID,
            "policysim — Enforcement overview",
            "Allowed, flagged and blocked traffic of one policy, the registry it reads,"
            " rejected input, latency and the workers.",
            ["enforcement"],
        )
        .with_variable(policy_variable())
        .with_variable(instance_variable())
        .annotations(markers())
    )
    sections = {
        "Decisions": _decisions_panels(),
        "Registry and input": _registry_panels(),
        "Latency": _latency_panels(),
        "Workers": _workers_panels(),
    }
    return with_sections(board, sections)
