"""The words every layer uses for decisions, ground truth and registry categories, defined once.

A decision name is a metric label, a report column, a dashboard series and a
colour; a truth label is a confusion-matrix cell in the report and a metric
label in the worker; a category is what a registered entity is, named in
registry files, scenarios and policy sets. Spelling them in one place keeps
those views in step.
"""

from __future__ import annotations

from typing import Literal

Decision = Literal["allow", "flag", "block"]
DECISIONS: tuple[Decision, ...] = ("allow", "flag", "block")

# The kinds of registered entity: the categories registry files, the bundled scenarios and the
# example policies use. Other names are allowed (a scenario may invent its own), but
# `policy check` warns about a policy set naming one, as it is most often a typo.
CATEGORIES: tuple[str, ...] = (
    "bank",
    "call_center",
    "embassy",
    "freelancer",
    "it_company",
    "software_house",
    "telecom",
    "university",
)

# The confusion-matrix cells, the cell a rule should block first.
TRUTH_LABELS: tuple[str, ...] = (
    "vpn_unregistered",
    "vpn_registered",
    "non_vpn_unregistered",
    "non_vpn_registered",
)


def truth_label(is_vpn: bool, registered: bool) -> str:
    """The confusion-matrix cell of a (VPN?, registered?) pair, as reports and metrics name it."""
    return f"{'vpn' if is_vpn else 'non_vpn'}_{'registered' if registered else 'unregistered'}"


# Why traffic that should have been stopped was not: the report gives every miss exactly one
# of these (policysim.report.causes says how, docs/report.md lists the conditions).
MISS_CAUSES: tuple[str, ...] = (
    "cgnat_shared_address",  # allowed by a rule: the shared address is registered by another
    "reassigned_address",  # allowed by a rule: the address is registered by its earlier holder
    "classifier_label",  # the default decided: the classifier's label hid the true transport
    "rule_lets_through",  # a rule allowed it, or only flagged it where a block was due
    "other",  # the default decided on a correct label: no rule covers this transport
)

# Why legitimate traffic was flagged or blocked: one of these per wrongful decision.
COLLATERAL_CAUSES: tuple[str, ...] = (
    "classifier_false_positive",  # not VPN at all, yet taken for it
    "category_left_out",  # the source is registered, in a category the policy leaves out
    "approval_delay",  # the entity has applied and awaits approval
    "registrant_new_address",  # a registered subscriber whose address has moved
    "remote_staff",  # staff of a registered entity outside its registered block
    "cgnat_neighbour",  # behind a shared address nobody could register for them
    "unregistered_business_use",  # a real business need, never registered
    "other",  # legitimate by registration, yet none of the above
)
