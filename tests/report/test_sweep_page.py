"""The sweep page's pieces: counts against ground truth, and column names short but unique."""

from __future__ import annotations

from policysim.policies.model import Truth, Verdict
from policysim.report.sweep import PointTally, short_names


def _verdict(policy: str, decision: str, truth: Truth | None) -> Verdict:
    return Verdict("e", 0.0, policy, 1, decision, None, None, 1, truth=truth)


def test_recall_counts_illegitimate_vpn_and_collateral_counts_the_legitimate() -> None:
    unregistered_vpn = Truth(is_vpn=True)
    work_vpn = Truth(is_vpn=True, business_use=True)  # unregistered, but a business need
    ordinary = Truth(is_vpn=False)
    truths = [unregistered_vpn, unregistered_vpn, work_vpn, ordinary, None]
    decisions = {
        "a": ("block", "flag", "block", "flag", "block"),
        "b": ("allow", "block", "allow", "allow", "allow"),
    }
    tally = PointTally(["a", "b"])
    tally.add(
        [
            [_verdict(name, d, t) for d, t in zip(chosen, truths, strict=True)]
            for name, chosen in decisions.items()
        ]
    )
    a, b = tally.result()
    assert a["illegitimate_vpn"] == {"allow": 0, "flag": 1, "block": 1, "total": 2}
    assert a["legitimate"] == {"allow": 0, "flag": 1, "block": 1, "total": 2}
    assert (a["recall_block"], a["recall_flag_or_block"]) == (0.5, 1.0)
    assert (a["collateral_blocked"], a["collateral_flagged"]) == (1, 1)
    assert (a["collateral_blocked_share"], a["without_truth"]) == (0.5, 1)
    assert (b["recall_block"], b["collateral_blocked"], b["collateral_flagged"]) == (0.5, 0, 0)
    assert PointTally(["c"]).result()[0]["recall_block"] is None  # nothing to catch: no ratio


def test_short_names_are_the_shortest_unique_tails() -> None:
    paths = [
        "groups.household.vpn_share",
        "groups.personal_privacy.vpn_share",
        "categories.freelancer.adoption.late",
    ]
    assert short_names(paths) == ["household.vpn_share", "personal_privacy.vpn_share", "late"]
    assert short_names(["subscribers"]) == ["subscribers"]
