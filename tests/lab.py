"""A lab of VIM hosts built from network namespaces, for tests that need real packets.

Loopback always answers, so it cannot show an outage; a namespace behind a veth pair can
be cut off, made lossy or silenced on demand. Every address is 169.254.<n>.0/30 on a veth
the lab created, and an `unreachable` guard route keeps that subnet from ever falling
through to the default route while a link is down: no probe leaves the machine.

Use the `lab` fixture (re-export it from a conftest.py), or `with Lab() as lab:` directly;
mark such tests `@pytest.mark.lab`. Without root or iproute2 the tests are skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import random
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Serialises address allocation between concurrent test runs on one machine.
_LOCK_PATH = Path(tempfile.gettempdir()) / "vimwatch-lab.lock"
# Routes of lab subnets get this metric, above the kernel's connected route (0).
_GUARD_METRIC = "4000"
# 169.254.0.0/24 and 169.254.255.0/24 are reserved by RFC 3927.
_OCTETS = range(1, 255)
_USED_OCTET = re.compile(r"\b169\.254\.(\d{1,3})\.\d{1,3}(?:/(\d{1,2}))?")
_SUBNET_HOSTS = 1000
# Soft and hard limits of the neighbour table while a subnet lab lives.
_NEIGHBOUR_TABLE = {"gc_thresh2": 4096, "gc_thresh3": 8192}


class LabHost:
    """One namespace that answers as 169.254.<n>.2, reached over the veth `veth`.

    A host made by `Lab.add_subnet` answers on many addresses of one 169.254.<n>.0/22
    (`addresses`): all of them go down, up or lossy together, as VIMs behind one link.
    """

    def __init__(self, netns: str, veth: str, octet: int, prefix: int = 30, count: int = 1) -> None:
        self.netns = netns
        self.veth = veth
        self.octet = octet
        self.prefix = prefix
        self.gateway = f"169.254.{octet}.1"
        self.subnet = f"169.254.{octet}.0/{prefix}"
        self.addresses = _host_addresses(octet, prefix, count)
        self.address = self.addresses[0]

    def down(self) -> None:
        """Unplug the host: probes to it fail at once with "no route to host"."""
        _ip("link", "set", self.veth, "down")

    def up(self) -> None:
        _ip("link", "set", self.veth, "up")

    def mute(self) -> None:
        """Keep the host up but make it ignore pings, so that ICMP probes time out."""
        self.run("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")

    def unmute(self) -> None:
        self.run("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0")

    def lossy(self, percent: float) -> None:
        """Drop `percent` % of the packets sent to the host, chosen at random."""
        if shutil.which("tc") is None:
            pytest.skip("lab: tc (iproute2) is not installed")
        self.clear()
        netem = ["tc", "qdisc", "add", "dev", self.veth, "root", "netem", "loss", f"{percent}%"]
        if _run(netem, check=False).returncode == 0:
            return
        # Kernels built without sch_netem: the same random drop as a classic-BPF filter
        # on the veth's egress hook.
        _run(["tc", "qdisc", "add", "dev", self.veth, "clsact"])
        program = _random_drop_program(percent)
        _run(["tc", "filter", "add", "dev", self.veth, "egress", "bpf", "da", "bytecode", program])

    def clear(self) -> None:
        """Remove any loss set by `lossy`."""
        _run(["tc", "qdisc", "del", "dev", self.veth, "root"], check=False)
        _run(["tc", "qdisc", "del", "dev", self.veth, "clsact"], check=False)

    def run(self, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host's namespace."""
        return _run(["ip", "netns", "exec", self.netns, *argv], **kwargs)

    def __repr__(self) -> str:
        return f"<LabHost {self.address} netns={self.netns}>"


class Lab:
    """Owns its hosts: leaving the `with` block deletes them, even after a failure."""

    def __init__(self, hosts: int = 0) -> None:
        self._initial = hosts
        self._token = secrets.token_hex(3)
        self.hosts: list[LabHost] = []
        self._guards: list[str] = []
        self._created = 0
        self._restore: dict[Path, int] = {}

    def __enter__(self) -> Lab:
        reason = unavailable()
        if reason:
            pytest.skip(reason)
        try:
            for _ in range(self._initial):
                self.add_host()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add_host(self) -> LabHost:
        return self._add(_free_octet, 30, 1)

    def add_subnet(self, count: int) -> LabHost:
        """One namespace answering on `count` addresses (up to 1,000) behind one veth.

        Each address takes an entry of the machine's neighbour table, which holds 1,024 by
        default: one large subnet fills it and every other lab on the machine then loses
        packets ("neighbor table overflow"), so the table is grown while the lab lives.
        """
        if not 1 <= count <= _SUBNET_HOSTS:
            raise ValueError(f"a lab subnet holds 1 to {_SUBNET_HOSTS} addresses")
        self._grow_neighbour_table()
        return self._add(_free_block, 22, count)

    def _grow_neighbour_table(self) -> None:
        for name, wanted in _NEIGHBOUR_TABLE.items():
            path = Path("/proc/sys/net/ipv4/neigh/default") / name
            before = int(path.read_text())
            if before < wanted:
                path.write_text(str(wanted))
                self._restore.setdefault(path, before)

    def _add(self, allocate: Callable[[], int], prefix: int, count: int) -> LabHost:
        n = self._created
        self._created += 1
        netns = f"vwlab-{self._token}-{n}"
        veth, peer = f"vw{self._token}r{n}", f"vw{self._token}p{n}"
        with _allocation_lock():
            octet = allocate()
            host = LabHost(netns, veth, octet, prefix, count)
            created = _run(["ip", "netns", "add", netns], check=False)
            if created.returncode != 0:
                pytest.skip(f"lab: cannot create a network namespace: {created.stderr.strip()}")
            self.hosts.append(host)
            # The guard exists before any lab address does, so the subnet never routes out.
            _ip("route", "add", "unreachable", host.subnet, "metric", _GUARD_METRIC)
            self._guards.append(host.subnet)
            _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", netns)
            _ip("addr", "add", f"{host.gateway}/{prefix}", "dev", veth)
            _ip("link", "set", veth, "up")
            batch = "".join(f"addr add {a}/{prefix} dev {peer}\n" for a in host.addresses)
            _run(["ip", "-n", netns, "-batch", "-"], input=batch)
            _ip("-n", netns, "link", "set", peer, "up")
            _ip("-n", netns, "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        for host in self.hosts:
            # Deleting the namespace deletes the veth pair, its qdiscs and its routes.
            _run(["ip", "netns", "del", host.netns], check=False)
            _run(["ip", "link", "del", host.veth], check=False)
        for subnet in self._guards:
            _run(
                ["ip", "route", "del", "unreachable", subnet, "metric", _GUARD_METRIC], check=False
            )
        self.hosts.clear()
        self._guards.clear()
        for path, value in self._restore.items():
            path.write_text(str(value))
        self._restore.clear()


def unavailable() -> str | None:
    """Why a lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "lab: needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "lab: the ip command (iproute2) is not installed"
    return None


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as built:
        yield built


def _random_drop_program(percent: float) -> str:
    """Classic BPF: drop when a random u32 falls below percent% of its range."""
    threshold = min(int(percent / 100 * 2**32), 2**32 - 1)
    load_random = "32 0 0 4294963256"  # ld [SKF_AD_OFF + SKF_AD_RANDOM]
    skip_drop_if_above = f"53 0 1 {threshold}"  # jge #threshold: pass, else fall to drop
    keep = "6 0 0 4294967295"  # ret TC_ACT_UNSPEC: let the packet through
    drop = "6 0 0 2"  # ret TC_ACT_SHOT
    return f"4,{load_random},{skip_drop_if_above},{keep},{drop}"


def _used_octets() -> set[int]:
    taken = _run(["ip", "-o", "-4", "addr", "show"]).stdout
    taken += _run(["ip", "-4", "route", "show", "table", "all"]).stdout
    used = set()
    for octet, prefix in _USED_OCTET.findall(taken):
        # A subnet's /22 covers three more octets than its address or route names.
        width = 1 << (24 - int(prefix)) if prefix and int(prefix) < 24 else 1
        used.update(range(int(octet), int(octet) + width))
    return used


def _free_octet() -> int:
    used = _used_octets()
    free = [octet for octet in _OCTETS if octet not in used]
    if not free:
        pytest.skip("lab: every 169.254.<n>.0/24 is in use")
    return random.choice(free)


def _free_block() -> int:
    """The first octet of a free 169.254.<n>.0/22 (four /24s, n a multiple of four)."""
    used = _used_octets()
    free = [n for n in range(4, 252, 4) if not used & {n, n + 1, n + 2, n + 3}]
    if not free:
        pytest.skip("lab: no 169.254.<n>.0/22 is free")
    return random.choice(free)


def _host_addresses(octet: int, prefix: int, count: int) -> list[str]:
    if prefix == 30:
        return [f"169.254.{octet}.2"]
    # Every address of the /22 but the gateway (.1 of the first /24), and .0 and .255.
    hosts = (
        f"169.254.{third}.{last}"
        for third in range(octet, octet + 4)
        for last in range(1, 255)
        if (third, last) != (octet, 1)
    )
    return list(itertools.islice(hosts, count))


@contextlib.contextmanager
def _allocation_lock() -> Iterator[None]:
    with open(_LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _ip(*argv: str) -> None:
    _run(["ip", *argv])


def _run(argv: list[str], check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and done.returncode != 0:
        raise RuntimeError(f"lab: {' '.join(argv)} failed: {done.stderr.strip()}")
    return done
