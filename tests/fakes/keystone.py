"""Just enough Keystone v3 for keystoneauth1 to log in and list regions.

Mounted under a path prefix (like devstack's `/identity`) so that tests cover auth URLs
with a path, with and without the `/v3` suffix the server adds.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from tests.fakes import FakeServer, Request, Response

DOMAIN = {"id": "default", "name": "Default"}

_ERRORS = {
    400: ("Bad Request", "The request you have made is malformed."),
    401: ("Unauthorized", "The request you have made requires authentication."),
    404: ("Not Found", "Could not find the requested resource."),
    405: ("Method Not Allowed", "The method is not allowed for the requested URL."),
}


def keystone_error(status: int, message: str | None = None) -> Response:
    title, default = _ERRORS[status]
    return Response(
        status, {"error": {"code": status, "title": title, "message": message or default}}
    )


class FakeKeystone(FakeServer):
    """Keystone v3 with password auth, in-memory users and a fixed region list.

    `users` maps user name to password (all in the Default domain). `projects` limits which
    project names can be scoped to; None accepts any name. `tokens` holds every token
    issued, so tests can tell whether a login really happened.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        regions: Iterable[str] = ("RegionOne",),
        projects: Iterable[str] | None = None,
        prefix: str = "/identity",
        tls: bool = False,
    ) -> None:
        super().__init__(tls=tls)
        self.users = dict(users or {})
        self.regions = list(regions)
        self.projects = None if projects is None else set(projects)
        self.prefix = prefix.rstrip("/")
        self.tokens: set[str] = set()

    @property
    def url(self) -> str:
        """The auth URL without the version, as a user would usually type it."""
        return self.base_url + self.prefix

    @property
    def v3_url(self) -> str:
        return self.url + "/v3"

    def handle(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if not path.startswith(self.prefix):
            return keystone_error(404)
        route = (request.method, path[len(self.prefix) :].rstrip("/"))
        if route == ("GET", ""):
            return Response(300, {"versions": {"values": [self._version()]}})
        if route == ("GET", "/v3"):
            return Response(200, {"version": self._version()})
        if route == ("POST", "/v3/auth/tokens"):
            return self._issue_token(request)
        if route == ("GET", "/v3/regions"):
            return self._list_regions(request)
        if route[1] in ("", "/v3", "/v3/auth/tokens", "/v3/regions"):
            return keystone_error(405)
        return keystone_error(404)

    def _version(self) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": self.v3_url + "/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    def _issue_token(self, request: Request) -> Response:
        try:
            identity = request.json()["auth"]["identity"]
            user = identity["password"]["user"]
        except (ValueError, KeyError, TypeError):
            return keystone_error(400, "Expecting to find identity.password.user in auth.")
        if "password" not in identity.get("methods", []):
            return keystone_error(401)

        name = user.get("name")
        if name is None and str(user.get("id", "")).startswith("u-"):
            name = user["id"][2:]
        elif name is not None and not _in_default_domain(user.get("domain")):
            return keystone_error(400, "Expecting to find domain in user.")
        if name not in self.users or self.users[name] != user.get("password"):
            return keystone_error(401)

        scope = request.json()["auth"].get("scope")
        project = None
        if scope is not None:
            project = self._scoped_project(scope.get("project", {}))
            if project is None:
                return keystone_error(401)

        token = uuid.uuid4().hex
        self.tokens.add(token)
        return Response(201, _token_body(name, project), {"X-Subject-Token": token})

    def _scoped_project(self, wanted: Mapping[str, Any]) -> dict[str, Any] | None:
        if "id" in wanted and str(wanted["id"]).startswith("p-"):
            name = wanted["id"][2:]
        elif "name" in wanted and _in_default_domain(wanted.get("domain")):
            name = wanted["name"]
        else:
            return None
        if self.projects is not None and name not in self.projects:
            return None
        return {"id": f"p-{name}", "name": name, "domain": DOMAIN}

    def _list_regions(self, request: Request) -> Response:
        if request.headers.get("X-Auth-Token") not in self.tokens:
            return keystone_error(401)
        return Response(
            200,
            {
                "regions": [
                    {
                        "id": region,
                        "description": "",
                        "parent_region_id": None,
                        "links": {"self": f"{self.v3_url}/regions/{region}"},
                    }
                    for region in self.regions
                ],
                "links": {"self": f"{self.v3_url}/regions", "previous": None, "next": None},
            },
        )


def _in_default_domain(domain: Mapping[str, Any] | None) -> bool:
    if not domain:
        return False
    return domain.get("id") == DOMAIN["id"] or domain.get("name") == DOMAIN["name"]


def _token_body(user_name: str, project: dict[str, Any] | None) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    token: dict[str, Any] = {
        "methods": ["password"],
        "user": {
            "id": f"u-{user_name}",
            "name": user_name,
            "domain": DOMAIN,
            "password_expires_at": None,
        },
        "audit_ids": [uuid.uuid4().hex[:22]],
        "issued_at": _iso(now),
        "expires_at": _iso(now + datetime.timedelta(hours=1)),
    }
    if project is not None:
        token.update(
            project=project,
            is_domain=False,
            roles=[{"id": "r-member", "name": "member"}, {"id": "r-reader", "name": "reader"}],
            catalog=[],
        )
    return {"token": token}


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
