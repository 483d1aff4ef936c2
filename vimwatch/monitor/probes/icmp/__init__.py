"""ICMP echo probes multiplexed over one socket per address family.

One module a job: `probe` (the probe kind the scheduler holds), `sockets` (opening a raw
or ping socket and its options), `packets` (requests and replies on the wire),
`channel` (sending and resending on one socket), `replies` (reading replies for each
kind of socket), `waiting` (the probes in flight), `sweep` (their timeouts), and the
system calls that move many datagrams at once (`batch`, `burst`, `mmsg`).
"""

from vimwatch.monitor.probes.icmp.probe import IcmpProbe

__all__ = ["IcmpProbe"]
