"""The fields Tacker's drivers copied into a VIM's `auth_cred`, derived when a VIM is shown.

Tacker stored `project_id`, `project_name`, `project_domain_name`, `auth_url` and
`key_type` inside `auth_cred` at registration and returned them in every VIM view; scripts
and test suites written against Tacker read them there. vimwatch keeps one source of truth
(`vim_project`, `auth_url`) and derives these fields on every read, so VIMs registered
before this view existed show them too, and an update of `vim_project` can never leave a
stale copy behind (which Tacker did).
"""

from __future__ import annotations

from typing import Any

#: Tacker kept each VIM's key in a local Fernet key file unless Barbican was configured.
KEY_TYPE = "fernet_key"
#: Keys of a shown `auth_cred` that the server derives; a client that sends back what it
#: was shown (as `openstack vim set --config-file` may) must not store them as credentials.
DERIVED_KEYS = frozenset(
    {"project_id", "project_name", "project_domain_name", "auth_url", "key_type", "secret_uuid"}
)


def tacker_auth_url(auth_url: str) -> str:
    """Tacker's openstack rule: `/v3` appended when the URL holds no `v3` at all."""
    return auth_url if "v3" in auth_url else auth_url.rstrip("/") + "/v3"


def shown_auth_cred(
    vim_type: str, auth_url: str, auth_cred: dict[str, Any], vim_project: dict[str, Any]
) -> dict[str, Any]:
    """The masked `auth_cred` with Tacker's derived fields, for one VIM's API view."""
    shown = {key: value for key, value in auth_cred.items() if key not in DERIVED_KEYS}
    if vim_type == "openstack":
        shown.update(
            project_id=vim_project.get("id"),
            project_name=vim_project.get("name"),
            project_domain_name=vim_project.get("project_domain_name"),
            auth_url=tacker_auth_url(auth_url),
        )
    else:
        shown["auth_url"] = auth_url
        if "username" not in shown and "password" not in shown:
            # Tacker's marker for a cluster reached by bearer token or OIDC alone.
            shown.update(username="None", password=None)
    shown["key_type"] = KEY_TYPE
    return shown


def without_derived(auth_cred: dict[str, Any]) -> dict[str, Any]:
    """A sent `auth_cred` less the derived fields and Tacker's "no username" markers."""
    return {
        key: value
        for key, value in auth_cred.items()
        if key not in DERIVED_KEYS
        and not (key in ("username", "password") and value in (None, "None"))
    }
