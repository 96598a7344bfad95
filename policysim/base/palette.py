"""Colours shared by every picture policysim draws, so a decision looks the same everywhere.

The report's charts, the Prometheus snapshot and the Grafana dashboards all
colour allow, flag and block alike; a reader moving between them should not
have to re-learn which colour means "blocked".
"""

from policysim.base.vocabulary import DECISIONS, Decision

# One colour per decision, in the order of DECISIONS: sage, amber, brick red.
DECISION_COLORS: dict[Decision, str] = dict(
    zip(DECISIONS, ("#9bb7a0", "#e9a23b", "#c8423b"), strict=True)
)
