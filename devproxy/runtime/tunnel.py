"""The tunnel to the target: dial through SOCKS5 (tailscaled) or directly, TLS for https targets, the probe.

The one module that opens connections to the target, for every user of them: the HTTP pool, the
WebSocket leg, readiness and tailscaled's watchdog. It is the runtime's one seam for dialing
errors: python-socks and OS errors become devproxy `ProxyError`s here, chained `from exc`, with
words a user can act on.

A dial the SOCKS server refused (a failure reply) sent nothing to the target, so it is tried again
within the dial's budget: after a freeze, tailscaled's first dial often loses a race with the
tunnel's rekey and fails after its own 5 s limit with "general SOCKS server failure", while the
next one goes through.

When the SOCKS URL names a host (e.g. ``localhost``), every address it resolves to is tried,
both families, and the one that answered is remembered and logged: a Go listener on
``localhost:1055`` binds only one loopback family, which is how the original
"failed to connect to SOCKS proxy" happened (DESIGN rule 2).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio import Proxy

from devproxy import events
from devproxy.errors import (
    SocksReplyError,
    SocksUnreachableError,
    TargetUnreachableError,
    UpstreamTimeoutError,
)
from devproxy.errors import ProxyError as DevproxyProxyError
from devproxy.runtime.config import SocksEndpoint
from devproxy.runtime.log import EventLog

#: a refused SOCKS dial is tried again at most this many times (while the dial's budget lasts).
SOCKS_RETRIES = 2
#: the pause before each further try, times the try's number.
SOCKS_RETRY_DELAY = 0.1
#: the reply code that means "could not dial, for whatever reason" (all tailscaled ever sends).
GENERAL_FAILURE = 1

P = TypeVar("P", bound=asyncio.Protocol)

#: SOCKS5 reply codes (RFC 1928 §6) in the words a user needs.
SOCKS_REPLIES = {
    1: "general SOCKS server failure (tailscaled: the target is offline, not in this tailnet, "
    "blocked by an ACL, or tailscaled is not logged in yet)",
    2: "connection not allowed by the SOCKS server's rules",
    3: "network unreachable from the SOCKS server",
    4: "host unreachable from the SOCKS server (is the target machine online in the tailnet?)",
    5: "connection refused by the target (is the dev server running and listening on that port?)",
    6: "TTL expired",
    7: "command not supported by the SOCKS server",
    8: "address type not supported by the SOCKS server",
}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_localhost(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _fmt(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Dialer:
    """Opens non-blocking sockets connected to (host, port), through SOCKS5 when configured."""

    def __init__(self, socks: SocksEndpoint | None, *, connect_timeout: float, log: EventLog) -> None:
        self.socks = socks
        self.connect_timeout = connect_timeout
        self._log = log
        #: the SOCKS address that answered last; tried first next time.
        self.answered_by: str | None = None

    async def open(self, host: str, port: int, *, timeout: float | None = None) -> socket.socket:
        """A connected socket to host:port. Raises: devproxy ProxyError subclasses only."""
        limit = self.connect_timeout if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + limit
        refused: SocksReplyError | None = None
        for attempt in range(1 + SOCKS_RETRIES):
            try:
                async with asyncio.timeout_at(deadline):
                    if refused is not None:
                        await asyncio.sleep(SOCKS_RETRY_DELAY * attempt)
                    if self.socks is None:
                        return await self._direct(host, port)
                    return await self._via_socks(self.socks, host, port)
            except SocksReplyError as exc:
                if exc.code != GENERAL_FAILURE:
                    raise
                refused = exc
            except TimeoutError as exc:
                if isinstance(exc, DevproxyProxyError):
                    raise
                if refused is not None:
                    raise refused from exc  # the budget ran out while trying again: the refusal is the cause
                where = f"through SOCKS {self.socks}" if self.socks else "directly"
                raise UpstreamTimeoutError(
                    f"connecting to {_fmt(host, port)} {where} took longer than {limit:g} s",
                    hint="the target may be offline or its tailnet path still warming up",
                ) from exc
        assert refused is not None
        raise refused

    async def _socks_addresses(self, socks: SocksEndpoint) -> list[str]:
        if _is_ip(socks.host):
            return [socks.host]
        # "localhost" is loopback in both families (RFC 6761) whatever /etc/hosts says; a Go
        # listener on "localhost:1055" may have taken either one.
        loopback = ["127.0.0.1", "::1"] if _is_localhost(socks.host) else []
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(socks.host, socks.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            if not loopback:
                raise SocksUnreachableError(
                    f"cannot resolve the SOCKS host {socks.host!r}: {exc}",
                    hint="use an IP literal such as socks5://127.0.0.1:1055",
                ) from exc
            infos = []
        addresses: list[str] = []
        for address in [str(info[4][0]) for info in infos] + loopback:
            if address not in addresses:
                addresses.append(address)
        if self.answered_by in addresses:
            addresses.remove(self.answered_by)
            addresses.insert(0, self.answered_by)
        return addresses

    async def _via_socks(self, socks: SocksEndpoint, host: str, port: int) -> socket.socket:
        failures: list[str] = []
        last_exc: Exception | None = None
        for address in await self._socks_addresses(socks):
            proxy = Proxy(
                proxy_type=ProxyType.SOCKS5,
                host=address,
                port=socks.port,
                username=socks.username,
                password=socks.password,
                rdns=True,
            )
            try:
                sock = await proxy.connect(host, port, timeout=None)
            except ProxyConnectionError as exc:
                failures.append(f"{_fmt(address, socks.port)}: {exc.strerror or exc}")
                last_exc = exc
                continue
            except ProxyTimeoutError as exc:  # only with a timeout argument; kept for safety
                raise UpstreamTimeoutError(f"SOCKS handshake with {_fmt(address, socks.port)} timed out") from exc
            except ProxyError as exc:
                code = exc.error_code
                words = SOCKS_REPLIES.get(code or 0)
                if words is None:
                    words = f"SOCKS handshake failed: {exc}"
                raise SocksReplyError(
                    f"SOCKS server {_fmt(address, socks.port)} could not reach "
                    f"{_fmt(host, port)}: {words}",
                    code=code,
                ) from exc
            except OSError as exc:
                failures.append(f"{_fmt(address, socks.port)}: {exc.strerror or exc}")
                last_exc = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.answered_by != address:
                previous, self.answered_by = self.answered_by, address
                self._log.info(
                    events.SOCKS_CONNECTED,
                    f"SOCKS server answered at {_fmt(address, socks.port)}",
                    socks=str(socks),
                    address=address,
                    previous=previous,
                )
            return sock
        raise SocksUnreachableError(
            f"no SOCKS server answered at {socks} ({'; '.join(failures) or 'no address'})",
            hint="is tailscaled running with --socks5-server=127.0.0.1:1055? "
            "With --socks none the runtime dials the target directly",
        ) from last_exc

    async def _direct(self, host: str, port: int) -> socket.socket:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetUnreachableError(f"cannot resolve the target host {host!r}: {exc}") from exc
        failures: list[str] = []
        last_exc: OSError | None = None
        for family, type_, proto, _, address in infos:
            sock = socket.socket(family, type_, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                failures.append(f"{_fmt(str(address[0]), port)}: {exc.strerror or exc}")
                last_exc = exc
                continue
            except BaseException:
                sock.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise TargetUnreachableError(
            f"cannot connect to the target {_fmt(host, port)}: {'; '.join(failures)}",
            hint="is the dev server running and listening on that address?",
        ) from last_exc


@dataclass(frozen=True, slots=True)
class Probe:
    """What one probe dial found: whether it connected, how long it took, and why not."""

    ok: bool
    seconds: float
    error: str | None = None


async def probe(dialer: Dialer, host: str, port: int, *, timeout: float | None = None) -> Probe:
    """Full SOCKS greeting + CONNECT (never a bare port probe), then close."""
    started = time.perf_counter()
    try:
        sock = await dialer.open(host, port, timeout=timeout)
    except DevproxyProxyError as exc:
        return Probe(False, time.perf_counter() - started, str(exc))
    elapsed = time.perf_counter() - started
    sock.close()
    return Probe(True, elapsed)


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The way to one target: the dialer, the target's address, and TLS for https targets."""

    dialer: Dialer
    host: str
    port: int
    #: https targets are verified like any client would (the tailnet's certificates are real ones).
    tls: ssl.SSLContext | None

    async def connect(self, factory: Callable[[], P]) -> tuple[P, socket.socket | None]:
        """A protocol connected through the tunnel, and its plain TCP socket (None under TLS).

        The caller bounds the time. Raises: devproxy ProxyError (dialing), OSError, ssl.SSLError.
        """
        sock = await self.dialer.open(self.host, self.port)
        loop = asyncio.get_running_loop()
        try:
            if self.tls is not None:
                _, protocol = await loop.create_connection(factory, sock=sock, ssl=self.tls,
                                                           server_hostname=self.host)
                return protocol, None
            _, protocol = await loop.create_connection(factory, sock=sock)
        except BaseException:
            sock.close()
            raise
        return protocol, sock

    async def probe(self, *, timeout: float | None = None) -> Probe:
        """One probe dial to the target (no TLS: the path is what is checked)."""
        return await probe(self.dialer, self.host, self.port, timeout=timeout)


def tunnel_to(dialer: Dialer, host: str, port: int, *, https: bool) -> Tunnel:
    """The tunnel to host:port, with a default verifying TLS context for https targets."""
    return Tunnel(dialer, host, port, ssl.create_default_context() if https else None)
