"""Webhooks: per-project HTTP callbacks on every status change, signed and retried.

The outbox (`outbox.py`) is written in the conductor's transaction, so a status change and
the promise to announce it commit together; the worker (`worker.py`) in the api process
keeps that promise, at least once, without ever running on the monitors' path.
"""
