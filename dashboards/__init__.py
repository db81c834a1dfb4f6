"""Grafana dashboards as code: generator, provisioning, push and render."""
