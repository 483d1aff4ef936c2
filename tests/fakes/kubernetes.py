"""Just enough of a Kubernetes API server (and an OIDC provider) to validate a VIM against.

Kubernetes clusters are normally reached over TLS with a private CA, so `tls=True` is the
interesting mode: it makes the driver prove it trusts exactly the CA in `ssl_ca_cert`.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs

from tests.fakes import FakeServer, Request, Response

OIDC_PATH = "/oidc/token"


def k8s_status(code: int, reason: str, message: str) -> Response:
    return Response(
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


class FakeKubernetes(FakeServer):
    """A cluster accepting a bearer `token`, basic-auth `users`, OIDC id_tokens, or client
    certificates.

    With `oidc_client=(client_id, client_secret_or_None)` it also serves an OIDC token
    endpoint at `oidc_token_url` that grants id_tokens to `users` (password grant); those
    id_tokens then work as bearer tokens, as with a real OIDC-enabled API server.

    With `client_ca_pem` (and `tls`), a client certificate that CA signed authenticates
    its common name, as the API server's `--client-ca-file` does; one it did not sign ends
    the TLS handshake with an alert.
    """

    def __init__(
        self,
        token: str | None = None,
        users: Mapping[str, str] | None = None,
        namespaces: Iterable[str] = ("default",),
        tls: bool = False,
        oidc_client: tuple[str, str | None] | None = None,
        client_ca_pem: str | None = None,
    ) -> None:
        super().__init__(tls=tls, client_ca_pem=client_ca_pem)
        self.tokens = {token} if token else set()
        self.users = dict(users or {})
        self.namespaces = list(namespaces)
        self.oidc_client = oidc_client
        # The health endpoints: `ready` is what /readyz and /healthz answer; an API server
        # older than 1.16 has no /readyz (`has_readyz` False), only /healthz.
        self.ready = True
        self.has_readyz = True
        self.health_checks: list[str] = []
        self.id_tokens_granted = 0
        #: The users client certificates authenticated, one entry per request.
        self.certificate_users: list[str] = []
        #: Seconds the OIDC provider takes to answer a login (a slow or overloaded one).
        self.oidc_delay = 0.0
        self.logins_received = 0

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def oidc_token_url(self) -> str:
        return self.base_url + OIDC_PATH

    def handle(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "POST" and path == OIDC_PATH and self.oidc_client:
            return self._grant_id_token(request)
        served = (
            "/api",
            "/api/v1/namespaces",
            "/healthz",
            *(("/readyz",) if self.has_readyz else ()),
        )
        if request.method != "GET" or path not in served:
            return k8s_status(404, "NotFound", "the server could not find the requested resource")
        if not self._authenticated(request):
            return k8s_status(401, "Unauthorized", "Unauthorized")
        if path in ("/readyz", "/healthz"):
            self.health_checks.append(path)
            if self.ready:
                return Response(200, "ok", {"Content-Type": "text/plain"})
            return Response(500, "[-]etcd failed: reason withheld\nreadyz check failed")
        if path == "/api":
            return Response(200, {"kind": "APIVersions", "versions": ["v1"]})
        return Response(200, self._namespace_list())

    def _authenticated(self, request: Request) -> bool:
        # The API server tries the client certificate first; the handshake verified it.
        user = (request.client_subject or {}).get("commonName")
        if user:
            self.certificate_users.append(user[0])
            return True
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return credentials in self.tokens
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return user in self.users and self.users[user] == password
        return False

    def _grant_id_token(self, request: Request) -> Response:
        self.logins_received += 1
        time.sleep(self.oidc_delay)
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        client_id, client_secret = self.oidc_client or (None, None)
        if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
            return Response(401, {"error": "invalid_client"})
        if form.get("grant_type") != "password" or "openid" not in form.get("scope", "").split():
            return Response(400, {"error": "invalid_request"})
        user, password = form.get("username"), form.get("password")
        if user not in self.users or self.users[user] != password:
            return Response(
                401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}
            )
        id_token = f"id-{uuid.uuid4().hex}"
        self.tokens.add(id_token)
        self.id_tokens_granted += 1
        return Response(
            200,
            {
                "access_token": f"at-{uuid.uuid4().hex}",
                "id_token": id_token,
                "token_type": "Bearer",
                "expires_in": 300,
            },
        )

    def _namespace_list(self) -> dict[str, object]:
        return {
            "kind": "NamespaceList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "1"},
            "items": [
                {
                    "metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name))},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
                for name in self.namespaces
            ],
        }
