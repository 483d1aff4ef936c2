"""Reading a Tacker VIM config file (`--config-file`) into the API's request body.

Parsed on the client, as Tacker's client did, so a mistake in the file is reported with
the file's own field names before anything is sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from vimwatch.cli.client import CommandError
from vimwatch.cli.yaml_file import load_yaml

_OPENSTACK_CRED = ("username", "password", "user_domain_name", "cert_verify")
_COMMON_KEYS = ("type", "auth_url", "project_name", "extra")
#: Every key a Tacker VIM config file of each type may hold; anything else is a typo.
KNOWN_KEYS = {
    "openstack": (*_COMMON_KEYS, *_OPENSTACK_CRED, "project_domain_name"),
    "kubernetes": (
        *_COMMON_KEYS,
        "bearer_token",
        "username",
        "password",
        "oidc_token_url",
        "client_id",
        "client_secret",
        "client_cert",
        "client_key",
        "ssl_ca_cert",
    ),
}


def refuse_unknown_keys(config: dict[str, Any], known: Iterable[str], path: Path | str) -> None:
    """A mistyped key would otherwise be dropped silently and its setting take a default
    (`cert_verfy` registering a VIM with certificate checks on), so it is an error naming
    the key, the file and the known key closest to it."""
    known = tuple(known)
    for key in config:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        raise CommandError(f"{path}: unknown key '{key}' ({hint})")


def _require(config: dict[str, Any], key: str, path: Path | str) -> Any:
    value = config.get(key)
    if value in (None, ""):
        raise CommandError(f"{path}: '{key}' is required")
    return value


def load_config(path: Path) -> dict[str, Any]:
    try:
        config = load_yaml(path.read_text(), path)
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
    config: dict[str, Any],
    path: Path | str,
    *,
    for_update: bool = False,
    also_known: Iterable[str] = (),
) -> dict[str, Any]:
    """The same for one VIM config already read; `path` names it in error messages (an
    import file's entries are named `FILE[index]`), and `also_known` are further keys the
    caller reads from it (a fleet file's `name`)."""
    vim_type = config.get("type") or "openstack"
    if vim_type not in KNOWN_KEYS:
        raise CommandError(f"{path}: type must be openstack or kubernetes, not {vim_type!r}")
    refuse_unknown_keys(config, (*KNOWN_KEYS[vim_type], *also_known), path)
    auth_url = str(_require(config, "auth_url", path))
    try:
        parts = urlsplit(auth_url)
    except ValueError:
        raise CommandError(f"{path}: auth_url {auth_url!r} is not a well-formed URL") from None
    if not (parts.scheme and parts.netloc):
        raise CommandError(f"{path}: auth_url {auth_url!r} needs a scheme and a host")
    project = str(_require(config, "project_name", path))
    if vim_type == "openstack":
        _require(config, "username", path)
        _require(config, "password", path)
        auth_cred = {key: config.get(key, "") for key in _OPENSTACK_CRED}
        auth_cred["cert_verify"] = str(config.get("cert_verify", "True"))
        vim_project = {
            "name": project,
            "project_domain_name": config.get("project_domain_name", ""),
        }
    else:
        auth_cred = _kubernetes_credentials(config, path)
        vim_project = {"name": project}
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
    elif config.get("client_cert") or config.get("client_key"):
        cred = {key: _require(config, key, path) for key in ("client_cert", "client_key")}
    else:
        raise CommandError(
            f"{path}: a kubernetes VIM needs bearer_token, username and password, "
            "oidc_token_url with username, password and client_id, "
            "or client_cert and client_key"
        )
    if config.get("ssl_ca_cert"):
        cred["ssl_ca_cert"] = config["ssl_ca_cert"]
    return cred
