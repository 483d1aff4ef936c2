"""The probes of one socket that wait for their reply, keyed by `address << 16 | sequence`.

Per timeout value, a dict of probes in the order they were sent (dicts keep insertion
order): probes with one timeout expire in that order, so the sweep reads each dict from
its start and stops at the first probe not yet due. A probe half its timeout old is sent
once more and moves to `retried`, its two echoes each naming the other.
"""

from __future__ import annotations

from time import monotonic

from vimwatch.monitor.probes.base import Launch, ProbeResult, Report


class Answering:
    """A plain report and its address, waiting beside the launches of batches: a reply
    calls `answered`, which only a launch has, so that the hot path builds no ProbeResult;
    a second echo goes to `address`, as a launch's does."""

    __slots__ = ("report", "address")

    def __init__(self, report: Report, address: str) -> None:
        self.report = report
        self.address = address

    def __call__(self, result: ProbeResult) -> None:
        self.report(result)

    def answered(self, rtt: float) -> None:
        self.report(ProbeResult(True, rtt, ""))


# (time sent, report) of a probe waiting for its reply.
Waiting = tuple[float, "Launch | Answering"]
# (time sent, report, the other echo's key, expiry of the probe) of a probe sent twice.
Retried = tuple[float, "Launch | Answering", "int | None", float]


class InFlight:
    """Which keys are in use, and the report each reply or expiry goes to."""

    __slots__ = ("waiting", "retried")

    def __init__(self) -> None:
        # Per timeout: key -> (time sent, launch), oldest first.
        self.waiting: dict[float, dict[int, Waiting]] = {}
        # Per timeout: both echoes of each probe sent twice, oldest first.
        self.retried: dict[float, dict[int, Retried]] = {}

    def is_waiting(self, key: int) -> bool:
        # Sequences wrap after 65,536 probes, which a busy engine sends in well under a
        # timeout: a VIM sharing another's address must not take a sequence still in use.
        return any(key in table for table in self.waiting.values()) or any(
            key in table for table in self.retried.values()
        )

    def free_key(self, number: int, seq: int) -> int | None:
        """The first key of address `number` after sequence `seq` that no probe uses."""
        for _ in range(0x10000):
            seq = (seq + 1) & 0xFFFF
            if not self.is_waiting(number << 16 | seq):
                return number << 16 | seq
        return None

    def answer_retried(self, key: int) -> None:
        """A reply to either echo of a probe sent twice ends the probe."""
        for table in self.retried.values():
            entry = table.pop(key, None)
            if entry is not None:
                if entry[2] is not None:
                    table.pop(entry[2], None)
                entry[1].answered(monotonic() - entry[0])
                return

    def anything(self) -> bool:
        return any(self.waiting.values()) or any(self.retried.values())

    def end_all(self, result: ProbeResult) -> None:
        """Report `result` to every waiting probe, once each, and forget them."""
        tables, self.waiting = self.waiting, {}
        for table in tables.values():
            for _, report in table.values():
                report(result)
        retried, self.retried = self.retried, {}
        for resends in retried.values():
            for key in list(resends):
                entry = resends.pop(key, None)
                if entry is not None:
                    if entry[2] is not None:
                        resends.pop(entry[2], None)
                    entry[1](result)


def pop(tables: list[dict[int, Waiting]], key: int) -> Waiting | None:
    for table in tables:
        waiting = table.pop(key, None)
        if waiting is not None:
            return waiting
    return None
