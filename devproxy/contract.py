"""What the runtime and deploy must agree on, in one place: the subpackages never import each other.

Auth modes, the names of the secret environment variables the service gets, devproxy's page
paths (the startup probe hits the readiness page).
"""

from __future__ import annotations

#: `--auth` / devproxy.toml `auth`: the first is the default.
AUTH_MODES = ("token", "iap", "none")

#: the Tailscale auth key (Secret Manager -> env); the alias is what Tailscale's own images read.
AUTHKEY_ENV = "TS_AUTHKEY"
AUTHKEY_ENV_ALIAS = "TAILSCALE_AUTHKEY"
#: the access token of `--auth token`.
ACCESS_TOKEN_ENV = "DEVPROXY_ACCESS_TOKEN"
#: every environment variable that holds a secret: masked in logs, never handed to children.
SECRET_ENV = (AUTHKEY_ENV, AUTHKEY_ENV_ALIAS, ACCESS_TOKEN_ENV)

#: devproxy's own pages live under this prefix; nothing there is forwarded (DESIGN rule 6).
PAGE_PREFIX = "/_devproxy/"
HEALTH_PATH = PAGE_PREFIX + "health"
READY_PATH = PAGE_PREFIX + "ready"

