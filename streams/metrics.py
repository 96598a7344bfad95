"""The worker's Prometheus metrics, defined here rather than by Faust's sensor.

Faust's own Prometheus sensor fed milliseconds into second buckets in the
version this project started with, so every histogram is ours. The hot loop
counts per batch: :class:`WorkerMetrics` keeps pre-bound label children and
increments them by ``n`` once per batch, since a labelled ``.labels().inc()``
per event costs more than the decision itself. Label values are bounded:
policy names, decisions, rule names, categories, truth cells, reject reasons,
partition numbers; never an address or an event id.
"""

from __future__ import annotations

import bisect
from collections import Counter as Tally
from collections.abc import Hashable, Iterable, Sequence
from operator import attrgetter
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from policysim.base.vocabulary import truth_label
from policysim.policies.model import REJECT_REASONS

_DECISION_RULE = attrgetter("decision", "rule")
_DECISION_CATEGORY = attrgetter("decision", "category")
_DECISION_TRUTH = attrgetter("decision", "truth.is_vpn", "truth.registered_at_event_time")

# Sub-millisecond resolution at the bottom (decisions take microseconds), up to a
# minute at the top (a backlog after a stall).
DECISION_BUCKETS = (
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 0.1,
)  # fmt: skip
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


def observe_many(histogram: Any, value: float, n: int) -> None:
    """Record ``n`` observations of the same ``value`` at the cost of one.

    An envelope's events share one send time and one evaluation, so they share
    one latency; observing it per event would cost a histogram update each.
    This adds to the same bucket and sum that ``n`` calls to ``observe`` would.
    """
    if n <= 0:
        return
    histogram._sum.inc(value * n)
    index = bisect.bisect_left(histogram._upper_bounds, value)
    histogram._buckets[index].inc(n)


def observe_each(histogram: Any, values: Sequence[float], counts: Sequence[int]) -> None:
    """Record ``counts[i]`` observations of ``values[i]`` for every ``i`` at once.

    A batch holds one latency per message; updating the histogram's locked
    values per message cost more than the rest of the bookkeeping. This adds
    to the same buckets and sum as :func:`observe_many` called per value.
    """
    if not len(values):
        return
    v, n = np.asarray(values, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    histogram._sum.inc(float(v @ n))
    bounds = histogram._upper_bounds
    per_bucket = np.bincount(np.searchsorted(bounds, v), weights=n, minlength=len(bounds))
    for index in np.flatnonzero(per_bucket):
        histogram._buckets[index].inc(float(per_bucket[index]))


class _Children:
    """Pre-bound label children of one metric, created on first use."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._bound: dict[Hashable, Any] = {}

    def get(self, *labels: str) -> Any:
        child = self._bound.get(labels)
        if child is None:
            child = self._bound[labels] = self._metric.labels(*labels)
        return child

    def add(self, tally: Tally) -> None:
        """Increment the child of each label tuple in ``tally`` by its count."""
        for labels, n in tally.items():
            self.get(*labels).inc(n)


class WorkerMetrics:
    """All metrics of one worker, in their own registry (so tests and benches can run several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.verdicts = Counter(
            "policysim_verdicts",
            "Verdicts written per policy, decision and deciding rule ('default': no rule matched)",
            ["policy", "decision", "rule"],
            registry=r,
        )
        self.by_category = Counter(
            "policysim_verdicts_by_category",
            "Verdicts per registered category of the source address ('unregistered' = none)",
            ["policy", "decision", "category"],
            registry=r,
        )
        self.truth = Counter(
            "policysim_truth",
            "Verdicts per ground-truth cell of events that carry truth (confusion matrix)",
            ["policy", "decision", "truth"],
            registry=r,
        )
        self.decision_seconds = Histogram(
            "policysim_decision_seconds",
            "Evaluation time per event (a batch's time divided among its events, all policies)",
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.end_to_end_seconds = Histogram(
            "policysim_end_to_end_seconds",
            "From the producer's send time (header sent_at) to the verdicts being acknowledged",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "policysim_events", "Events received and decoded (valid ones)", registry=r
        )
        self.messages = Counter(
            "policysim_messages", "Kafka messages read from the connections topic", registry=r
        )
        self.rejected = Counter(
            "policysim_events_rejected",
            "Malformed events sent to the dead-letter topic, by reason",
            ["reason"],
            registry=r,
        )
        self.accounted_messages = Counter(
            "policysim_accounted_messages",
            "Kafka messages per input partition and outcome: in = evaluated (at least one "
            "event decided) + rejected (all of it to the dead-letter topic)",
            ["partition", "outcome"],
            registry=r,
        )
        self.accounted_events = Counter(
            "policysim_accounted_events",
            "Events (an envelope's items one by one) per input partition and outcome: "
            "in = evaluated + rejected",
            ["partition", "outcome"],
            registry=r,
        )
        self.registry_prefixes = Gauge(
            "policysim_registry_prefixes", "Registered prefixes", ["family"], registry=r
        )
        self.registry_addresses = Gauge(
            "policysim_registry_addresses", "Registered addresses", ["family"], registry=r
        )
        self.registry_bytes = Gauge(
            "policysim_registry_bytes", "Serialized size of the registry's IP sets", registry=r
        )
        self.registry_version = Gauge(
            "policysim_registry_version", "Registry version (rises with every change)", registry=r
        )
        self.registry_updates = Counter(
            "policysim_registry_updates",
            "Records applied from the registrations topic, by outcome (applied, rejected)",
            ["outcome"],
            registry=r,
        )
        self.policy_info = Gauge(
            "policysim_policy_info",
            "1 for each loaded policy; enforced='true' for the enforced one, 'false' for shadows",
            ["policy", "version", "enforced"],
            registry=r,
        )
        self.policy_reload_failures = Counter(
            "policysim_policy_reload_failures",
            "Policy files refused (they did not validate, or were deleted): the old one stays",
            registry=r,
        )
        self.policy_file_missing = Gauge(
            "policysim_policy_file_missing",
            "1 while a loaded policy's file is deleted or unreadable (the policy stays in force)",
            ["policy"],
            registry=r,
        )
        self.policy_reloads = Counter(
            "policysim_policy_reloads", "Changed policy files swapped in", registry=r
        )
        self.consumer_lag = Gauge(
            "policysim_consumer_lag",
            "Messages behind the fetch high-water mark, per assigned partition",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "policysim_assigned_partitions",
            "Partitions of the connections topic assigned to this worker",
            registry=r,
        )
        self.broker_resets = Counter(
            "policysim_broker_resets",
            "Times the broker was found to have lost the worker's topic or positions (restarted "
            "empty, topic recreated); reason: topic_missing, offsets_lost, end_below_position",
            ["reason"],
            registry=r,
        )
        self.ready = Gauge(
            "policysim_worker_ready",
            "1 once the worker has partitions, the registry and a producer; 0 before and on stop",
            registry=r,
        )
        self._verdicts = _Children(self.verdicts)
        self._by_category = _Children(self.by_category)
        self._truth = _Children(self.truth)
        self._rejected = _Children(self.rejected)
        self._accounted_messages = _Children(self.accounted_messages)
        self._accounted_events = _Children(self.accounted_events)
        self._accounts: dict[str, list[Any]] = {}  # partition → its six account counters
        # Every reason exists from the start at 0, so rate() counts the very first reject.
        for reason in REJECT_REASONS:
            self._rejected.get(reason)

    def count_verdicts(self, policy: str, verdicts: Sequence[Any]) -> None:
        """Count one policy's verdicts of a batch: one ``inc(n)`` per label combination.

        The tallies run in C (``Counter`` over ``attrgetter``), since a Python
        loop over every verdict cost a fifth of the worker's time.
        """
        for (decision, rule), n in Tally(map(_DECISION_RULE, verdicts)).items():
            self._verdicts.get(policy, decision, rule or "default").inc(n)
        for (decision, category), n in Tally(map(_DECISION_CATEGORY, verdicts)).items():
            self._by_category.get(policy, decision, category or "unregistered").inc(n)
        try:
            truths = Tally(map(_DECISION_TRUTH, verdicts))
        except AttributeError:  # some events carry no truth
            truths = Tally(map(_DECISION_TRUTH, [v for v in verdicts if v.truth is not None]))
        for (decision, is_vpn, registered), n in truths.items():
            self._truth.get(policy, decision, truth_label(is_vpn, registered)).inc(n)

    def count_rejections(self, reasons: Iterable[str]) -> None:
        self._rejected.add(Tally((reason,) for reason in reasons))

    def count_accounts(self, accounts: dict[int, list[int]]) -> None:
        """Add a batch's per-partition accounts.

        ``accounts`` maps a partition to ``[messages in, messages evaluated,
        events evaluated, events rejected]``; the rest follows from the
        invariant, so the counters cannot disagree with it.
        """
        messages, events = self._accounted_messages, self._accounted_events
        for partition, (messages_in, evaluated, events_ok, events_bad) in accounts.items():
            label = str(partition)
            counts = (
                messages_in,
                evaluated,
                messages_in - evaluated,
                events_ok + events_bad,
                events_ok,
                events_bad,
            )
            children = self._accounts.get(label)
            if children is None:  # all six at 0 from a partition's first batch, as rate() needs
                children = self._accounts[label] = [
                    counter.get(label, outcome)
                    for counter in (messages, events)
                    for outcome in ("in", "evaluated", "rejected")
                ]
            # Adding 0 changes nothing and costs a locked update: most batches reject nothing.
            for child, n in zip(children, counts, strict=True):
                if n:
                    child.inc(n)

    def set_registry(self, stats: dict[str, Any]) -> None:
        """Publish :meth:`Registry.stats` figures."""
        for family in ("ipv4", "ipv6"):
            self.registry_prefixes.labels(family).set(stats[family]["prefixes"])
            self.registry_addresses.labels(family).set(stats[family]["addresses"])
        self.registry_bytes.set(stats["bytes"])
        self.registry_version.set(stats["version"])

    def set_policies(self, policies: Iterable[Any]) -> None:
        """Publish which policies (and versions) are in force; the first is enforced."""
        self.policy_info.clear()
        for index, policy in enumerate(policies):
            enforced = "true" if index == 0 else "false"
            self.policy_info.labels(policy.name, str(policy.version), enforced).set(1)

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` (0 picks a free port); return the port.

        An address that cannot be bound is an OSError whose ``strerror`` names it.
        """
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            reason = f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
            raise OSError(exc.errno, reason) from exc
        return server.server_port
