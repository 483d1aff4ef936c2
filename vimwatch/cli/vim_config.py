"""Reading a Tacker VIM config file (`--config-file`) into the API's request body.

Parsed on the client, as Tacker's client did, so a mistake in the file is reported with
the file's own field names before anything is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from vimwatch.cli.client import CommandError

_OPENSTACK_CRED = ("username", "password", "user_domain_name", "cert_verify")


def _require(config: dict[str, Any], key: str, path: Path | str) -> Any:
    value = config.get(key)
    if value in (None, ""):
        raise CommandError(f"{path}: '{key}' is required")
    return value


def load_config(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CommandError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(config, dict):
        raise CommandError(f"{path} must be a YAML mapping of VIM settings")
    return config


def body_from_config(path: Path, *, for_update: bool = False) -> dict[str, Any]:
    """The `vim` body keys (type, auth_url, vim_project, auth_cred, extra) the file describes."""
    return body_from_mapping(load_config(path), path, for_update=for_update)


def body_from_mapping(
    config: dict[str, Any], path: Path | str, *, for_update: bool = False
) -> dict[str, Any]:
    """The same for one VIM config already read; `path` names it in error messages (an
    import file's entries are named `FILE[index]`)."""
    vim_type = config.get("type") or "openstack"
    auth_url = str(_require(config, "auth_url", path))
    parts = urlsplit(auth_url)
    if not (parts.scheme and parts.netloc):
        raise CommandError(f"{path}: auth_url {auth_url!r} needs a scheme and a host")
    project = str(_require(config, "project_name", path))
    if vim_type == "openstack":
        auth_cred = {key: config.get(key, "") for key in _OPENSTACK_CRED}
        auth_cred["cert_verify"] = str(config.get("cert_verify", "True"))
        vim_project = {
            "name": project,
            "project_domain_name": config.get("project_domain_name", ""),
        }
    elif vim_type == "kubernetes":
        auth_cred = _kubernetes_credentials(config, path)
        vim_project = {"name": project}
    else:
        raise CommandError(f"{path}: type must be openstack or kubernetes, not {vim_type!r}")
    body: dict[str, Any] = {"vim_project": vim_project, "auth_cred": auth_cred}
    if not for_update:
        body.update(type=vim_type, auth_url=auth_url)
    if "extra" in config:
        body["extra"] = config["extra"]
    return body


def _kubernetes_credentials(config: dict[str, Any], path: Path | str) -> dict[str, Any]:
    if config.get("oidc_token_url"):
        cred = {
            key: _require(config, key, path)
            for key in ("oidc_token_url", "username", "password", "client_id")
        }
        if config.get("client_secret"):
            cred["client_secret"] = config["client_secret"]
    elif config.get("username") or config.get("password"):
        cred = {key: _require(config, key, path) for key in ("username", "password")}
    elif config.get("bearer_token"):
        cred = {"bearer_token": config["bearer_token"]}
    else:
        raise CommandError(
            f"{path}: a kubernetes VIM needs bearer_token, username and password, "
            "or oidc_token_url with username, password and client_id"
        )
    if config.get("ssl_ca_cert"):
        cred["ssl_ca_cert"] = config["ssl_ca_cert"]
    return cred
