"""Why a decision was wrong, from the event's ground truth and the verdict alone.

A miss is VPN traffic nobody has a right to (``truth.is_vpn`` and not
``truth.legitimate()``) that a policy let through; collateral is legitimate
traffic it flagged or blocked. Each gets exactly one cause, read from what the
truth says happened and from which rule decided, never from the scenario's
parameters, so a report of replayed or hand-made verdicts explains itself the
same way. The conditions, in the order they are tried, are the table in
docs/report.md; the names are :data:`~policysim.base.vocabulary.MISS_CAUSES`
and :data:`~policysim.base.vocabulary.COLLATERAL_CAUSES`.
"""

from __future__ import annotations

from policysim.policies.model import Truth, Verdict


def should_stop(truth: Truth) -> bool:
    """VPN traffic without a right to it: what a policy is meant to block."""
    return truth.is_vpn and not truth.legitimate()


def address_registered(truth: Truth) -> bool:
    """The source address is covered by someone's registration (by default, the subscriber's)."""
    if truth.address_registered_at_event_time is None:
        return truth.registered_at_event_time
    return truth.address_registered_at_event_time


def registered_by_someone_else(truth: Truth) -> bool:
    """The address is covered, but not by a registration of the subscriber's own entity."""
    return address_registered(truth) and not truth.registered_at_event_time


def shared(truth: Truth) -> bool:
    """More than one subscriber sits behind the source address (carrier-grade NAT)."""
    return truth.shared_by is not None and truth.shared_by > 1


def label_hides_transport(truth: Truth, v: Verdict) -> bool:
    """The classifier's label (the verdict's ``app``) is not the true transport."""
    return truth.app is not None and truth.app.lower() != (v.app or "")


def miss_cause(truth: Truth, v: Verdict) -> str:
    """The cause of one miss: traffic :func:`should_stop` says to stop, not blocked by ``v``.

    A rule that allowed a source covered by someone else's registration was
    misled by the address; the default deciding on a wrong label was misled
    by the classifier; any other rule deciding is that rule's doing (the
    report names it); the default on a correct label means no rule covers
    the transport.
    """
    if v.rule is not None and v.decision == "allow" and registered_by_someone_else(truth):
        return "cgnat_shared_address" if shared(truth) else "reassigned_address"
    if v.rule is None:
        return "classifier_label" if label_hides_transport(truth, v) else "other"
    return "rule_lets_through"


def collateral_cause(truth: Truth, v: Verdict) -> str:
    """The cause of one wrongful flag or block of legitimate traffic (``truth.legitimate()``)."""
    if not truth.is_vpn:
        return "classifier_false_positive"
    if v.category is not None or address_registered(truth):
        return "category_left_out"
    if truth.registration_pending:
        return "approval_delay"
    if truth.registered_at_event_time and truth.address_changed:
        return "registrant_new_address"
    if truth.registered_at_event_time and truth.remote:
        return "remote_staff"
    if shared(truth):
        return "cgnat_neighbour"
    if truth.business_use:
        return "unregistered_business_use"
    return "other"


def cause_label(row: dict) -> str:
    """A cause row's name in tables and charts: ``rule_lets_through`` names its rule."""
    return row["cause"] + (f" ({row['rule']})" if row.get("rule") else "")
