import pytest

from vimwatch.drivers import DRIVERS, driver_for
from vimwatch.drivers.base import Driver
from vimwatch.drivers.kubernetes import KubernetesDriver
from vimwatch.drivers.openstack import OpenStackDriver
from vimwatch.errors import InvalidConfig


@pytest.mark.parametrize(
    ("vim_type", "driver_class"),
    [("openstack", OpenStackDriver), ("kubernetes", KubernetesDriver)],
)
def test_each_vim_type_has_its_driver(vim_type: str, driver_class: type) -> None:
    driver = driver_for(vim_type)
    assert isinstance(driver, driver_class)
    assert driver.vim_type == vim_type


def test_every_registered_driver_meets_the_contract() -> None:
    for vim_type, driver_class in DRIVERS.items():
        driver = driver_class()
        assert isinstance(driver, Driver)
        assert driver.vim_type == vim_type


@pytest.mark.parametrize("vim_type", ["vmware", "OpenStack", "", ["openstack"]])
def test_unknown_type_is_a_bad_request_listing_the_known_types(vim_type: object) -> None:
    with pytest.raises(InvalidConfig) as caught:
        driver_for(vim_type)  # type: ignore[arg-type]
    assert caught.value.status_code == 400
    assert caught.value.message.endswith("known types: kubernetes, openstack")
