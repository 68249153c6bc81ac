"""Network namespaces for the test tailnet: a dev box joined to this host by one veth pair.

The dev box gets its own loopback (its dev server is reachable only across the tailnet), an address
on the veth and a default route through this host. Faults are made with nftables inside the namespace: drop its UDP (WireGuard cannot go direct, DERP must carry it) or every
packet on its link (a pulled cable).
"""

from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import dataclass

_SERIAL = itertools.count()


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
        pid, serial = os.getpid(), next(_SERIAL)
        # A /30 of 10.77.0.0/16 per (process id, serial).
        offset = ((pid * 4 + serial) % 16384) * 4
        prefix, last = f"10.77.{offset // 256}", offset % 256
        tag = f"{pid}{'abcdefgh'[serial % 8]}"
        ns = cls(f"dpx-devbox-{tag}", f"dpxh{tag}", f"dpxd{tag}", f"{prefix}.{last + 1}", f"{prefix}.{last + 2}")
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

    def cut_link(self, cut: bool) -> None:
        """Drop (or pass again) every packet on the dev box's only link, both ways, like a pulled cable.

        Done with nftables inside the namespace rather than `ip link down`, which would also take this
        host's end of the veth, and with it the control server's address, away from the container.
        """
        self._table("dpx_cut", f'iifname "{self.ns_if}" drop; oifname "{self.ns_if}" drop;', cut)

    def drop_udp(self, drop: bool) -> None:
        """Drop (or pass again) every UDP packet leaving or entering the dev box: WireGuard must use DERP."""
        self._table("dpx_udp", "meta l4proto udp drop;", drop)

    def _table(self, name: str, rule: str, present: bool) -> None:
        if present:
            rules = (f"table inet {name} {{\n"
                     f" chain out {{ type filter hook output priority 0; {rule} }}\n"
                     f" chain in {{ type filter hook input priority 0; {rule} }}\n"
                     "}\n")
            argv = [*self.exec_prefix(), "nft", "-f", "-"]
        else:
            rules, argv = "", [*self.exec_prefix(), "nft", "delete", "table", "inet", name]
        done = subprocess.run(argv, input=rules, capture_output=True, text=True, timeout=10)
        if done.returncode != 0 and (present or "No such file" not in done.stderr):
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
