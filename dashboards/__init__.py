"""Grafana dashboards as code, the Prometheus configuration and rules, and the snapshot renderer."""
