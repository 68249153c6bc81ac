"""`devproxy runtime` that sends no X-Forwarded-* to the target: the origin check's negative control.

Not a setting of the product: the test builds the configuration value itself and turns the
headers off. Usage: python runtime_without_forwarded.py TARGET LISTEN SOCKS AUTH
"""

from __future__ import annotations

import dataclasses
import os
import sys

from devproxy.runtime.config import build_config
from devproxy.runtime.server import serve


def main(target: str, listen: str, socks: str, auth: str) -> int:
    config = build_config(os.environ, target=target, listen=listen, socks=socks, no_tailscale=True, auth=auth)
    return serve(dataclasses.replace(config, forwarded_headers=False))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
