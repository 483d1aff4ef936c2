"""A real OpenStack Keystone for tests: PyPI `keystone` on SQLite with fernet tokens.

Served by uWSGI with one process and one thread, because SQLite cannot take concurrent
writes. Every response carries `Connection: close`: uWSGI's plain HTTP socket does not keep
connections alive, and a client that reuses a pooled connection would otherwise meet a
reset (or, with keep-alive turned on, hold the only worker while idle).

Accounts, projects and catalog entries are made through Keystone's own REST API with the
admin token: the same calls `openstack user create` makes, without its second per command.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.service import free_port

ADMIN_PASSWORD = "keystone-admin-pw"
REGION = "RegionOne"
DOMAIN = "Default"


@dataclass(frozen=True)
class Account:
    """A Keystone user with a role in one project, as an operator's OS_* variables."""

    username: str
    password: str
    project: str
    auth_url: str

    def os_env(self) -> dict[str, str]:
        return {
            "OS_AUTH_URL": self.auth_url,
            "OS_USERNAME": self.username,
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": self.project,
            "OS_USER_DOMAIN_NAME": DOMAIN,
            "OS_PROJECT_DOMAIN_NAME": DOMAIN,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_REGION_NAME": REGION,
        }


class Keystone:
    def __init__(
        self, environment: Path, state_dir: Path, token_expiration: int | None = None
    ) -> None:
        self.bin = environment / "bin"
        # Seconds a token lives ([token] expiration); Keystone's own default when None.
        self.token_expiration = token_expiration
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.config = state_dir / "keystone.conf"
        self.log_path = state_dir / "keystone.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._admin_token: str | None = None

    @property
    def admin(self) -> Account:
        return Account("admin", ADMIN_PASSWORD, "admin", self.url)

    def start(self, timeout: float = 60.0) -> Keystone:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._set_up()
        return self.restart(timeout)

    def restart(self, timeout: float = 60.0) -> Keystone:
        """Serve again (after `stop`) on the same port, database and keys: the same cloud
        back from an outage, with its users, passwords and tokens."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "uwsgi"),
                    "--http-socket",
                    f"127.0.0.1:{self.port}",
                    "--add-header",
                    "Connection: close",
                    "--module",
                    "keystone.wsgi.api:application",
                    "--master",
                    "--processes",
                    "1",
                    "--threads",
                    "1",
                    "--die-on-term",
                    "--need-app",
                    "--lazy-apps",
                ],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_serving(timeout)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- the identity API, as the admin --------------------------------------------------

    def token(self, account: Account) -> str:
        """A project-scoped token for the account (what `openstack token issue` returns)."""
        response = httpx.post(
            f"{self.url}/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": account.username,
                                "domain": {"name": DOMAIN},
                                "password": account.password,
                            }
                        },
                    },
                    "scope": {"project": {"name": account.project, "domain": {"name": DOMAIN}}},
                }
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def revoke(self, token: str) -> None:
        """What `openstack token revoke` does."""
        self._admin("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})

    def create_account(self, username: str, password: str, project: str, role: str) -> Account:
        """A user with `role` in `project`; the project is created when it does not exist."""
        project_id = self.project_id(project) or self._create("projects", {"name": project})
        user_id = self._create("users", {"name": username, "password": password})
        role_id = self._find("roles", role)
        self._admin("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")
        return Account(username, password, project, self.url)

    def set_password(self, username: str, password: str) -> None:
        """What `openstack user set --password` does; Keystone then revokes the user's
        tokens."""
        user_id = self._find("users", username)
        self._admin("PATCH", f"/users/{user_id}", {"user": {"password": password}})

    def project_id(self, name: str) -> str | None:
        return self._find("projects", name)

    def create_region(self, region_id: str) -> None:
        self._admin("POST", "/regions", {"region": {"id": region_id}})

    def register_service(self, service_type: str, name: str, url: str) -> str:
        """A catalog entry: the service and its public, internal and admin endpoints."""
        service_id = self._create("services", {"type": service_type, "name": name})
        for interface in ("public", "internal", "admin"):
            self._create(
                "endpoints",
                {
                    "service_id": service_id,
                    "interface": interface,
                    "url": url,
                    "region_id": REGION,
                },
            )
        return service_id

    def remove_service(self, service_id: str) -> None:
        """Removing a service removes its endpoints with it."""
        self._admin("DELETE", f"/services/{service_id}")

    # -- plumbing ----------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "OS_KEYSTONE_CONFIG_FILES": str(self.config),
            "PYTHONWARNINGS": "ignore",
        }

    def _write_config(self) -> None:
        state = self.state_dir
        self.config.write_text(
            "\n".join(
                [
                    "[database]",
                    f"connection = sqlite:///{state / 'keystone.db'}",
                    "[token]",
                    "provider = fernet",
                    *([f"expiration = {self.token_expiration}"] if self.token_expiration else []),
                    "[fernet_tokens]",
                    f"key_repository = {state / 'fernet-keys'}",
                    "[fernet_receipts]",
                    f"key_repository = {state / 'fernet-keys'}",
                    "[credential]",
                    f"key_repository = {state / 'credential-keys'}",
                    "[identity]",
                    "max_password_length = 72",
                    "password_hash_rounds = 4",
                    "",
                ]
            )
        )

    def _set_up(self) -> None:
        user = [
            "--keystone-user",
            pwd.getpwuid(os.getuid()).pw_name,
            "--keystone-group",
            grp.getgrgid(os.getgid()).gr_name,
        ]
        steps = [
            ["db_sync"],
            ["fernet_setup", *user],
            ["credential_setup", *user],
            [
                "bootstrap",
                "--bootstrap-password",
                ADMIN_PASSWORD,
                "--bootstrap-admin-url",
                self.url,
                "--bootstrap-internal-url",
                self.url,
                "--bootstrap-public-url",
                self.url,
                "--bootstrap-region-id",
                REGION,
            ],
        ]
        with self.log_path.open("ab") as log:
            for step in steps:
                subprocess.run(
                    [str(self.bin / "keystone-manage"), "--config-file", str(self.config), *step],
                    env=self._env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=300,
                )

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"keystone exited early:\n{self.log()}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"keystone did not come up:\n{self.log()}")

    def _admin(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        for attempt in range(2):
            if self._admin_token is None:
                self._admin_token = self.token(self.admin)
            response = httpx.request(
                method,
                self.url + path,
                json=body,
                headers={"X-Auth-Token": self._admin_token, **(headers or {})},
                timeout=30,
            )
            if response.status_code != 401 or attempt:
                break
            # The cached token expired (short token lifetimes): log in again, once.
            self._admin_token = None
        response.raise_for_status()
        return response

    def _create(self, collection: str, attributes: dict[str, str]) -> str:
        singular = collection.removesuffix("s")
        response = self._admin("POST", f"/{collection}", {singular: attributes})
        return response.json()[singular]["id"]

    def _find(self, collection: str, name: str) -> str | None:
        found = self._admin("GET", f"/{collection}?name={name}").json()[collection]
        return found[0]["id"] if found else None
