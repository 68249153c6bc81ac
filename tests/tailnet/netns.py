"""Network namespaces for the test tailnet: a dev box joined to this host by one veth pair.

The dev box gets its own loopback (its dev server is reachable only across the tailnet), an address
on the veth and a default route through this host. Faults are made with `ip link` (cut the link)
and nftables (drop UDP inside the namespace, so WireGuard cannot go direct and DERP must carry it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass


def _ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


@dataclass
class Netns:
    """A namespace NAME, veth HOST_IF (here, HOST_IP) <-> NS_IF (there, NS_IP)."""

    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str

    @classmethod
    def create(cls) -> Netns:
        """A fresh namespace named after this process (several test runs may share the machine)."""
        pid = os.getpid()
        # A /30 of 10.77.0.0/16 per process id.
        offset = (pid % 16384) * 4
        prefix, last = f"10.77.{offset // 256}", offset % 256
        ns = cls(f"dpx-devbox-{pid}", f"dpxh{pid}", f"dpxd{pid}", f"{prefix}.{last + 1}", f"{prefix}.{last + 2}")
        ns.destroy()
        _ip("netns", "add", ns.name)
        try:
            _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
            _ip("link", "set", ns.ns_if, "netns", ns.name)
            _ip("addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
            _ip("link", "set", ns.host_if, "up")
            _ip("addr", "add", f"{ns.ns_ip}/30", "dev", ns.ns_if, ns=ns.name)
            _ip("link", "set", ns.ns_if, "up", ns=ns.name)
            _ip("link", "set", "lo", "up", ns=ns.name)
            _ip("route", "add", "default", "via", ns.host_ip, ns=ns.name)
        except BaseException:
            ns.destroy()
            raise
        return ns

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def set_link(self, up: bool) -> None:
        """Cut (or restore) the dev box's only link, on this host's side."""
        _ip("link", "set", self.host_if, "up" if up else "down")
        if up:
            # Taking the link down flushed the route through it inside the namespace.
            subprocess.run(["ip", "-n", self.name, "route", "replace", "default", "via", self.host_ip],
                           capture_output=True, timeout=10)

    def drop_udp(self, drop: bool) -> None:
        """Drop (or allow again) every UDP packet leaving or entering the dev box."""
        if drop:
            rules = (
                "table inet dpx_udp {\n"
                " chain out { type filter hook output priority 0; meta l4proto udp drop; }\n"
                " chain in { type filter hook input priority 0; meta l4proto udp drop; }\n"
                "}\n"
            )
            argv = [*self.exec_prefix(), "nft", "-f", "-"]
        else:
            rules, argv = "", [*self.exec_prefix(), "nft", "delete", "table", "inet", "dpx_udp"]
        done = subprocess.run(argv, input=rules, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
