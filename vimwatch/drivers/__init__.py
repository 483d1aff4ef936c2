"""The VIM types this service understands, and the driver behind each."""

from __future__ import annotations

from vimwatch.drivers.base import Driver
from vimwatch.drivers.kubernetes import KubernetesDriver
from vimwatch.drivers.openstack import OpenStackDriver
from vimwatch.errors import InvalidConfig

DRIVERS: dict[str, type[Driver]] = {
    "openstack": OpenStackDriver,
    "kubernetes": KubernetesDriver,
}


def driver_for(vim_type: str) -> Driver:
    """Look up a driver, so that an unknown type is a 400 rather than Tacker's KeyError 500."""
    try:
        return DRIVERS[vim_type]()
    except (KeyError, TypeError):
        known = ", ".join(sorted(DRIVERS))
        raise InvalidConfig(f"unknown VIM type {vim_type!r}; known types: {known}") from None
