"""Colours shared by every picture policysim draws, so a decision looks the same everywhere.

The report's charts, the Prometheus snapshot and the Grafana dashboards all
colour allow, flag and block alike; a reader moving between them should not
have to re-learn which colour means "blocked".
"""

DECISION_COLORS = {"allow": "#9bb7a0", "flag": "#e9a23b", "block": "#c8423b"}
