"""Google's metadata server: a fresh ID token for the keyless login (the only adapter that asks it).

`GET http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/identity
?audience=AUD&format=full` with `Metadata-Flavor: Google` returns a Google-signed JWT for the
service's own account (one hour of life, so every login asks for a new one). The client ignores
proxy variables (the metadata server is link-local), every call is bounded, and every failure is
one TailscaleError naming the metadata server and what it did; the token itself is never in one.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import aiohttp

from devproxy.errors import TailscaleError

IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
#: a JWT: three base64url segments, the first two JSON objects.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_TOKEN_BYTES = 16 * 1024
HINT = (
    "keyless login needs Google's metadata server, which Cloud Run provides; elsewhere set GCE_METADATA_HOST "
    "to one, or use TS_AUTHKEY (an OAuth client secret or an auth key)"
)


def identity_url(host: str, audience: str) -> str:
    """The metadata server's URL for an ID token for `audience`, with the full claim set."""
    return f"http://{host}{IDENTITY_PATH}?{urlencode({'audience': audience, 'format': 'full'})}"


async def fetch_id_token(host: str, audience: str, *, timeout_s: float) -> str:
    """A fresh Google ID token for `audience`. Raises: TailscaleError naming the metadata server."""
    where = f"the metadata server at http://{host} (GCE_METADATA_HOST)"
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with aiohttp.ClientSession(trust_env=False, timeout=timeout) as session:
            async with session.get(identity_url(host, audience), headers={"Metadata-Flavor": "Google"},
                                   allow_redirects=False) as response:
                body = await response.content.read(_MAX_TOKEN_BYTES)
                status = response.status
    except TimeoutError as exc:
        raise TailscaleError(f"{where} did not answer within {timeout_s:g} s", hint=HINT) from exc
    except aiohttp.ClientError as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise TailscaleError(f"cannot reach {where}: {reason}", hint=HINT) from exc
    text = body.decode("utf-8", "replace").strip()
    if status != 200:
        said = " ".join(text.split())[:200] or "no body"
        raise TailscaleError(f"{where} refused the ID token request (HTTP {status}: {said})",
                             hint="check the service has a service account and the audience is set")
    if not _JWT.fullmatch(text):
        raise TailscaleError(f"{where} answered, but not with an ID token", hint=HINT)
    return text
