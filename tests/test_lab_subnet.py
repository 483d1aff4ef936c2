"""The lab's many-address host: VIMs behind one link, which go down and up together."""

from __future__ import annotations

import asyncio

import pytest

from tests.lab import Lab
from tests.monitor.probes.support import probe_once
from vimwatch.monitor.probes import IcmpProbe
from vimwatch.monitor.target import target_from_auth_url

pytestmark = pytest.mark.lab
TARGET = target_from_auth_url("http://169.254.0.1/")


async def answers(probe: IcmpProbe, addresses: list[str]) -> list[bool]:
    results = await asyncio.gather(*(probe_once(probe, TARGET, a, 0.5) for a in addresses))
    return [result.ok for result in results]


async def test_every_address_of_a_subnet_answers_until_its_link_goes_down() -> None:
    with Lab() as lab:
        await check_subnet(lab)


async def check_subnet(lab: Lab) -> None:
    host = lab.add_subnet(100)
    assert len(set(host.addresses)) == 100
    assert host.gateway not in host.addresses
    probe = IcmpProbe()
    await probe.open()
    try:
        assert all(await answers(probe, host.addresses))
        host.down()
        assert not any(await answers(probe, host.addresses))
        host.up()
        # Every address's MAC is looked up again after the link comes back.
        async with asyncio.timeout(10):
            while not all(await answers(probe, host.addresses)):
                await asyncio.sleep(0.2)
    finally:
        await probe.close()
