"""Process-wide instruments, bumped where the thing happens rather than recounted later.

They belong to no CollectorRegistry of their own (`registry=None`): the api registers them
in the one it serves, so a process that never serves /metrics pays only the increments.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STATUS_TRANSITIONS = Counter(
    "vimwatch_status_transitions",
    "Status changes the conductor applied, by the status entered",
    ["status"],
    registry=None,
)

CONDUCTOR_CALL_SECONDS = Histogram(
    "vimwatch_conductor_call_seconds",
    "Time of update_vims calls to the conductor, as the engine sees them (transport included)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)

WEBHOOK_DELIVERIES = Counter(
    "vimwatch_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered, retry (failed, will retry), failed (gave up)",
    ["outcome"],
    registry=None,
)

MONITOR_REPAIRS = Counter(
    "vimwatch_monitor_repairs",
    "Live VIMs the monitor audit found without a running monitor and gave a new one",
    registry=None,
)

ALL = (STATUS_TRANSITIONS, CONDUCTOR_CALL_SECONDS, WEBHOOK_DELIVERIES, MONITOR_REPAIRS)
