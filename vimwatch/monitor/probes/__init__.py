"""Probe kinds by name, and the one place that decides what "icmp" can mean on this host."""

from __future__ import annotations

import logging
from collections.abc import Callable

from vimwatch.monitor.probes.base import Probe, ProbeResult, ProbeUnavailable, Report
from vimwatch.monitor.probes.http import HttpProbe
from vimwatch.monitor.probes.icmp import IcmpProbe
from vimwatch.monitor.probes.tcp import TcpProbe

__all__ = [
    "PROBES",
    "HttpProbe",
    "IcmpProbe",
    "Probe",
    "ProbeResult",
    "ProbeUnavailable",
    "Report",
    "TcpProbe",
    "open_probe",
]

log = logging.getLogger(__name__)

PROBES: dict[str, Callable[[], Probe]] = {"icmp": IcmpProbe, "tcp": TcpProbe, "http": HttpProbe}


async def open_probe(kind: str) -> Probe:
    """Open a probe of `kind`. ICMP degrades to a ping socket, then to TCP connects, so
    that a deployment without CAP_NET_RAW still monitors, with a warning saying why."""
    if kind not in PROBES:
        raise ValueError(f"unknown probe kind {kind!r}; expected one of {sorted(PROBES)}")
    if kind != "icmp":
        probe = PROBES[kind]()
        await probe.open()
        return probe
    reasons = []
    for privileged in (True, False):
        probe = IcmpProbe(privileged=privileged)
        try:
            await probe.open()
        except ProbeUnavailable as exc:
            reasons.append(str(exc))
            continue
        return probe
    log.warning(
        "ICMP probes unavailable (%s); probing VIMs by TCP connect to their API port instead. "
        "Grant CAP_NET_RAW, or allow this group in net.ipv4.ping_group_range, to use ICMP.",
        "; ".join(reasons),
    )
    probe = TcpProbe()
    await probe.open()
    return probe
