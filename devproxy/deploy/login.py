"""`devproxy open`: the deployed service's URL and, in token mode, its login link (token from Secret Manager).

The link carries the access token: it is returned to the CLI to print (that is the command's
purpose) and is never logged; `Login`'s repr leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from devproxy.contract import ACCESS_TOKEN_ENV
from devproxy.deploy.config import DeployConfig
from devproxy.errors import CloudError

if TYPE_CHECKING:
    from google.cloud import run_v2

    from devproxy.deploy.cloud_api import Cloud

#: the query parameter the runtime's token mode takes a login link's token from.
TOKEN_PARAM = "devproxy_token"


@dataclass(frozen=True, slots=True)
class Login:
    """Where to log in: the service URL, its access mode, and (token mode) the link with the token."""

    url: str
    auth: str
    link: str | None = field(default=None, repr=False)
    #: the access token itself (token mode): `devproxy share` signs its links with it.
    token: str | None = field(default=None, repr=False)


def login_link(url: str, token: str) -> str:
    """`https://URL/?devproxy_token=TOKEN`: the runtime sets its session cookie and drops the token from the URL."""
    return f"{url.rstrip('/')}/?{TOKEN_PARAM}={quote(token, safe='')}"


def deployed_auth(service: run_v2.Service) -> tuple[str, str | None]:
    """The access mode the service runs with, and the secret its access token comes from (token mode)."""
    auth, secret = "token", None
    for container in service.template.containers:
        for var in container.env:
            if var.name == "DEVPROXY_AUTH" and var.value:
                auth = var.value
            elif var.name == ACCESS_TOKEN_ENV and var.value_source.secret_key_ref.secret:
                secret = str(var.value_source.secret_key_ref.secret).rsplit("/", 1)[-1]
    return auth, secret


def read_login(cfg: DeployConfig, cloud: Cloud) -> Login:
    """Read the deployed service and, in token mode, the latest version of its access-token secret.

    Raises:
        CloudError: no such service, no URL yet, no token stored, or Google refused a read.
    """
    service = cloud.get_service()
    if service is None:
        raise CloudError(f"service {cfg.service} does not exist in {cfg.project}/{cfg.region}",
                         hint="create it with `devproxy deploy`")
    url = str(service.uri)
    if not url:
        raise CloudError(f"service {cfg.service} has no URL yet", hint="see `devproxy status`")
    auth, secret = deployed_auth(service)
    if auth != "token":
        return Login(url, auth)
    secret = secret or cfg.token_secret
    token = cloud.latest_secret_value(secret)
    if not token:
        raise CloudError(f"secret {secret} holds no enabled access token",
                         hint="store a new one with `devproxy deploy --rotate-token`")
    return Login(url, auth, login_link(url, token), token)
