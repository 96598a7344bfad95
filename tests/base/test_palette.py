"""Decision colours are keyed by the one list of decision names."""

from policysim.base.palette import DECISION_COLORS
from policysim.base.vocabulary import DECISIONS


def test_one_colour_per_decision_in_order() -> None:
    assert tuple(DECISION_COLORS) == DECISIONS
    assert len(set(DECISION_COLORS.values())) == len(DECISIONS)
