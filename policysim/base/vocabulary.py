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
