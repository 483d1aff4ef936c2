"""One /metrics for the api and the embedded default's engine process.

On the embedded default the engine runs in a child process, but the api's /metrics still
answers for both, as it did when they were one process. Both processes count the
process-wide instruments (vimwatch.instruments: the conductor's transitions in the
engine process, webhook deliveries in the api), so a family both have is one family whose
samples add up; a family only one has is passed on as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric


def merge(local: Iterable[Metric], remote: Iterable[Metric]) -> list[Metric]:
    families = {family.name: family for family in local}
    for family in remote:
        mine = families.get(family.name)
        if mine is None:
            families[family.name] = family
            continue
        where = {(s.name, tuple(sorted(s.labels.items()))): i for i, s in enumerate(mine.samples)}
        for sample in family.samples:
            index = where.get((sample.name, tuple(sorted(sample.labels.items()))))
            if index is None:
                mine.samples.append(sample)
                continue
            ours = mine.samples[index]
            # A `_created` sample is a time, not a count: the earlier of the two.
            if sample.name.endswith("_created"):
                value = min(ours.value, sample.value)
            else:
                value = ours.value + sample.value
            mine.samples[index] = ours._replace(value=value)
    return list(families.values())


class _Merged:
    def __init__(self, local: CollectorRegistry, remote: Callable[[], list[Metric]]) -> None:
        self._local = local
        self._remote = remote

    def collect(self) -> Iterator[Metric]:
        yield from merge(self._local.collect(), self._remote())


def merged_with(local: CollectorRegistry, remote: Callable[[], list[Metric]]) -> CollectorRegistry:
    """A registry serving `local`'s families merged with those `remote` returns at scrape."""
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(_Merged(local, remote))
    return collectors
