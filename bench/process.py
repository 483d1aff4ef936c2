"""What a process costs: CPU seconds and resident memory, read from the kernel.

CPU is user plus system time, because for loopback probes the kernel's share (building
and answering the echo) is charged to the sender and is part of what a probe costs.
"""

from __future__ import annotations

import os
import resource


def cpu_seconds() -> float:
    """CPU time of this process so far (all threads, user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU time of the children this process has waited for (fping, ping)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident set size now; what the memory target is stated in."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
