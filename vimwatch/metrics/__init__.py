"""Prometheus metrics: what each process measures, and how the api exposes it at /metrics."""
