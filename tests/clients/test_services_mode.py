"""The drop-in behaviours the clients rely on, in services mode: `vimwatch api` on
PostgreSQL and RabbitMQ, with a conductor and an engine of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import private_vhost
from tests.clients.commands import Client
from tests.databases import scratch_database
from tests.service import write_openstack_config
from tests.test_services_mode import Services

pytestmark = [pytest.mark.clients, pytest.mark.services]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    tmp_path = tmp_path_factory.mktemp("services-clients")
    with scratch_database("postgresql", tmp_path) as url, private_vhost() as (transport, vhost):
        services = Services(tmp_path, url, transport, vhost)
        try:
            services.upgrade()
            services.role("conductor", name="conductor")
            services.engine("e1")
            services.api.start()
            yield services
        finally:
            services.close()


def test_tacker_views_messages_and_mistral_actions_in_services_mode(
    deployment: Services,
    openstack_env: Path,
    mistral_env: Path,
    client_home: Path,
    tmp_path: Path,
) -> None:
    url = deployment.api.url
    openstack = Client(
        openstack_env / "bin" / "openstack",
        ("--os-auth-type", "none", "--os-endpoint", url),
        home=client_home,
    )
    mistral = Client(
        mistral_env / "bin" / "mistral", ("--os-mistral-url", f"{url}/v2"), home=client_home
    )
    config = write_openstack_config(tmp_path / "vim.yaml", f"{url}/identity")

    vim = openstack.json("vim", "register", "--config-file", str(config), "svc-site")
    assert vim["auth_cred"]["project_name"] == "nfv"
    assert vim["auth_cred"]["key_type"] == "fernet_key"
    duplicate = openstack.fails("vim", "register", "--config-file", str(config), "svc-site")
    assert "vim already exist with given ['tenant_id', 'name', 'deleted_at']" in duplicate

    name = f"vim_id_{vim['id']}"
    [task] = mistral.json("task-list", "--filter", f"workflow_name={name}")
    [action] = mistral.json("action-execution-list", task["ID"])
    assert (action["Name"], action["State"]) == ("vimwatch.vim_ping_action", "RUNNING")
    got = json.loads(mistral.run("action-execution-get-input", action["ID"]).stdout)
    assert got["vim_id"] == vim["id"]
    [execution] = mistral.json("execution-list", "--filter", f"workflow_name={name}")
    assert "openstack vim delete" in mistral.fails("execution-delete", execution["ID"])
    assert mistral.json("execution-get", execution["ID"])["State"] == "RUNNING"

    openstack.run("vim", "delete", vim["id"])
