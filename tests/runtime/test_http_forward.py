"""HTTP through the runtime: bytes, statuses and headers exactly as the target sent them."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from conftest import StartProxy, Upstream
from support.socks import Microsocks
from support.upstream import create_upstream


async def raw_exchange(host: str, port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send raw request bytes, return everything the server sends until it closes."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    await writer.wait_closed()
    return data


async def test_get_crosses_the_socks_server(upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy,
                                            client: aiohttp.ClientSession) -> None:
    """A GET reaches the target through microsocks, and microsocks saw the CONNECT."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.get(proxy.url + "/echo?x=1") as resp:
        assert resp.status == 200
        assert resp.headers["X-Upstream"] == "yes"
        body = await resp.json()
    assert body["raw_path"] == "/echo?x=1"
    assert f"127.0.0.1:{upstream.port}" in socks_v4.connections()
    access = proxy.events("http.access")
    assert access[-1]["status"] == 200 and access[-1]["path"] == "/echo"


async def test_keepalive_reuses_one_tunnel(upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy,
                                           client: aiohttp.ClientSession) -> None:
    """Sequential requests share one pooled SOCKS connection instead of dialing each time."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    for _ in range(5):
        async with client.get(proxy.url + "/echo") as resp:
            assert resp.status == 200
            await resp.read()
    assert len(socks_v4.connections()) == 1


async def test_raw_path_and_query_pass_byte_for_byte(upstream: Upstream, start_proxy: StartProxy) -> None:
    """Percent-encodings, dot segments and odd query bytes reach the target untouched."""
    proxy = await start_proxy(target=upstream.url)
    path = "/echo/a%2Fb/./c%20d?q=%2F%20x&reconnectionToken=abc-123&reconnection=true&e=&f=a+b"
    data = await raw_exchange(proxy.host, proxy.port,
                              f"GET {path} HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n".encode())
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f'"raw_path": "{path}"'.encode() in data


async def test_status_reason_and_repeated_headers_keep_order(upstream: Upstream, start_proxy: StartProxy) -> None:
    """Status, reason phrase, Set-Cookie twice and header order survive the trip back."""
    proxy = await start_proxy(target=upstream.url)
    data = await raw_exchange(proxy.host, proxy.port,
                              b"GET /cookies HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Made It"
    ordered = [line for line in lines if line.split(":")[0] in ("Set-Cookie", "X-Order")]
    assert ordered == ["Set-Cookie: a=1; Path=/", "X-Order: first", "Set-Cookie: b=2; Path=/", "X-Order: second"]


async def test_request_headers_rewritten_for_the_target(upstream: Upstream, start_proxy: StartProxy) -> None:
    """Hop-by-hop and platform credentials are dropped; X-Forwarded-* set; the rest kept in order."""
    proxy = await start_proxy(target=upstream.url, env={"K_SERVICE": "devproxy"})
    request = (
        "GET /echo HTTP/1.1\r\n"
        "Host: dev.example.run.app:443\r\n"
        "X-A: 1\r\n"
        "Connection: close, X-Secret-Hop\r\n"
        "X-Secret-Hop: drop me\r\n"
        "Keep-Alive: timeout=5\r\n"
        "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
        "TE: trailers\r\n"
        "X-Serverless-Authorization: Bearer cloud-run-token\r\n"
        "X-Goog-IAP-JWT-Assertion: iap.jwt.value\r\n"
        "X-Forwarded-For: 203.0.113.7\r\n"
        "X-A: 2\r\n"
        "Cookie: session=abc\r\n"
        "Origin: https://dev.example.run.app\r\n"
        "\r\n"
    )
    data = await raw_exchange(proxy.host, proxy.port, request.encode())
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    headers = body["headers"]
    names = [n.lower() for n, _ in headers]
    for dropped in ("x-secret-hop", "keep-alive", "proxy-authorization", "te", "x-serverless-authorization",
                    "x-goog-iap-jwt-assertion"):
        assert dropped not in names
    assert [v for n, v in headers if n == "X-A"] == ["1", "2"]
    got = {n.lower(): v for n, v in headers}
    assert got["host"] == f"127.0.0.1:{upstream.port}"
    assert got["x-forwarded-host"] == "dev.example.run.app"
    assert got["x-forwarded-proto"] == "https"
    assert got["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert got["cookie"] == "session=abc"
    assert got["origin"] == "https://dev.example.run.app"
    assert "user-agent" not in names  # nothing invented by the client library


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_utf8_header_bytes_pass_unchanged(method: str, upstream: Upstream, start_proxy: StartProxy) -> None:
    """UTF-8 bytes in header values reach the target and the browser byte for byte, on either client path."""
    proxy = await start_proxy(target=upstream.url)
    name = "héllo wörld".encode()
    request = (f"{method} /utf8 HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 0\r\n".encode()
               + b"X-Name: " + name + b"\r\n\r\n")
    data = await raw_exchange(proxy.host, proxy.port, request)
    head, _, body = data.partition(b"\r\n\r\n")
    assert 'Content-Disposition: attachment; filename="résumé.txt"'.encode() in head
    assert body == name


async def test_expect_100_continue_is_answered(upstream: Upstream, start_proxy: StartProxy) -> None:
    """A client that waits for 100 Continue (curl does, for big uploads) gets it, then the target's answer."""
    proxy = await start_proxy(target=upstream.url)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(proxy.host, proxy.port), 5)
    writer.write(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(b"hello")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"received": 5}')


async def test_redirects_are_not_followed(upstream: Upstream, start_proxy: StartProxy,
                                          client: aiohttp.ClientSession) -> None:
    """A 302 from the target reaches the browser as a 302."""
    proxy = await start_proxy(target=upstream.url)
    async with client.get(proxy.url + "/redirect", allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/echo"


async def test_content_encoding_passes_through(upstream: Upstream, start_proxy: StartProxy,
                                               client: aiohttp.ClientSession) -> None:
    """Compressed bodies are forwarded compressed, byte for byte."""
    proxy = await start_proxy(target=upstream.url)
    async with client.get(proxy.url + "/gzip", headers={"Accept-Encoding": "gzip"}) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        raw = await resp.read()
    assert gzip.decompress(raw) == b"hello gzip " * 100


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_methods_and_bodies(method: str, upstream: Upstream, start_proxy: StartProxy,
                                  client: aiohttp.ClientSession) -> None:
    """Every method reaches the target with its body intact."""
    proxy = await start_proxy(target=upstream.url)
    async with client.request(method, proxy.url + "/echo", data=b"payload-123") as resp:
        body = await resp.json()
    assert body["method"] == method
    assert body["body_len"] == 11 and body["body_head"] == "payload-123"


async def test_head_keeps_content_length(upstream: Upstream, start_proxy: StartProxy) -> None:
    """HEAD answers carry the target's Content-Length and no body."""
    proxy = await start_proxy(target=upstream.url)
    data = await raw_exchange(proxy.host, proxy.port,
                              b"HEAD /big?mib=3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 3145728" in head
    assert rest == b""


async def test_streamed_upload_chunked(upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy,
                                       client: aiohttp.ClientSession) -> None:
    """A chunked 32 MiB upload is streamed to the target completely."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)

    async def body():  # type: ignore[no-untyped-def]
        block = b"u" * (1024 * 1024)
        for _ in range(32):
            yield block

    async with client.post(proxy.url + "/upload", data=body()) as resp:
        assert resp.status == 200
        assert (await resp.json())["received"] == 32 * 1024 * 1024


async def test_big_download_is_complete(upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy,
                                        client: aiohttp.ClientSession) -> None:
    """A 64 MiB streamed download arrives whole and in order."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    received = 0
    block = bytes(range(256)) * 4096
    async with client.get(proxy.url + "/big?mib=64") as resp:
        assert resp.headers["Content-Length"] == str(64 * 1024 * 1024)
        buffer = b""
        async for chunk in resp.content.iter_chunked(1 << 20):
            buffer += chunk
            while len(buffer) >= len(block):
                assert buffer[: len(block)] == block
                buffer = buffer[len(block):]
                received += len(block)
    assert received == 64 * 1024 * 1024 and buffer == b""


async def test_socks_unreachable_is_502_naming_the_cause(upstream: Upstream, start_proxy: StartProxy,
                                                         client: aiohttp.ClientSession) -> None:
    """Nothing on the SOCKS port: 502, a body that says so, one socks.connect_failed event."""
    from support.socks import free_port

    proxy = await start_proxy(target=upstream.url, socks=f"socks5://127.0.0.1:{free_port()}")
    async with client.get(proxy.url + "/echo") as resp:
        assert resp.status == 502
        text = await resp.text()
    assert "no SOCKS server answered" in text and "tailscaled" in text
    assert len(proxy.events("socks.connect_failed")) == 1


async def test_target_refused_through_socks_is_502(socks_v4: Microsocks, start_proxy: StartProxy,
                                                   client: aiohttp.ClientSession) -> None:
    """The SOCKS server cannot reach the target: 502 naming a refused connection."""
    from support.socks import free_port

    proxy = await start_proxy(target=f"http://127.0.0.1:{free_port()}", socks=socks_v4.url)
    async with client.get(proxy.url + "/") as resp:
        assert resp.status == 502
        text = await resp.text()
    assert "refused" in text
    assert proxy.events("socks.reply_failed")


async def test_target_refused_direct_is_502(start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """With --socks none, a dead target is a 502 and a target.connect_failed event."""
    from support.socks import free_port

    proxy = await start_proxy(target=f"http://127.0.0.1:{free_port()}")
    async with client.get(proxy.url + "/") as resp:
        assert resp.status == 502
        assert "is the dev server running" in await resp.text()
    assert proxy.events("target.connect_failed")


async def test_slow_target_is_504(upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy,
                                  client: aiohttp.ClientSession) -> None:
    """A target that does not answer within the response timeout gives 504."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url,
                              env={"DEVPROXY_RESPONSE_TIMEOUT": "0.3"})
    async with client.get(proxy.url + "/slow?s=3") as resp:
        assert resp.status == 504
        assert "did not answer" in await resp.text()
    assert proxy.events("upstream.timeout")


async def test_socks_killed_mid_session_gives_502(upstream: Upstream, socks_v4: Microsocks,
                                                  start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """After the SOCKS server dies, the next request is a clear 502, not a hang."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.get(proxy.url + "/echo") as resp:
        assert resp.status == 200
    socks_v4.stop()
    async with client.get(proxy.url + "/echo") as resp:
        assert resp.status == 502
        assert "no SOCKS server answered" in await resp.text()


async def test_localhost_socks_url_finds_ipv6_only_server(upstream: Upstream, socks_v6: Microsocks,
                                                          start_proxy: StartProxy,
                                                          client: aiohttp.ClientSession) -> None:
    """socks5://localhost:PORT works when the SOCKS server listens on ::1 only, and says which answered."""
    proxy = await start_proxy(target=upstream.url, socks=f"socks5://localhost:{socks_v6.port}")
    async with client.get(proxy.url + "/echo") as resp:
        assert resp.status == 200
    connected = proxy.events("socks.connected")
    assert connected and connected[-1]["address"] == "::1"
    assert socks_v6.connections()


async def test_tailnet_names_resolve_inside_the_socks_server(upstream: Upstream, socks_v4: Microsocks,
                                                             start_proxy: StartProxy,
                                                             client: aiohttp.ClientSession) -> None:
    """The target's host name is sent to the SOCKS server unresolved (MagicDNS names work)."""
    proxy = await start_proxy(target=f"http://localhost:{upstream.port}", socks=socks_v4.url)
    async with client.get(proxy.url + "/echo") as resp:
        assert resp.status == 200
    assert socks_v4.connections() == [f"localhost:{upstream.port}"]


async def test_vsda_files_are_answered_locally(upstream: Upstream, start_proxy: StartProxy,
                                               client: aiohttp.ClientSession) -> None:
    """vsda.js and vsda_bg.wasm under any path get 200 stubs with the right types."""
    proxy = await start_proxy(target=upstream.url)
    base = proxy.url + "/stable-abc/static/node_modules/vsda/rust/web/"
    async with client.get(base + "vsda.js") as resp:
        assert resp.status == 200 and resp.content_type == "application/javascript"
    async with client.get(base + "vsda_bg.wasm") as resp:
        assert resp.status == 200 and resp.content_type == "application/wasm"
        assert (await resp.read()).startswith(b"\x00asm")
    assert not proxy.events("http.access")  # never forwarded


async def test_devproxy_prefix_is_never_forwarded(upstream: Upstream, start_proxy: StartProxy,
                                                  client: aiohttp.ClientSession) -> None:
    """Unknown /_devproxy/ paths are 404 from devproxy itself."""
    proxy = await start_proxy(target=upstream.url)
    async with client.get(proxy.url + "/_devproxy/nothing") as resp:
        assert resp.status == 404
        assert "devproxy" in await resp.text()


async def test_target_base_path_prefixes_every_request(upstream: Upstream, start_proxy: StartProxy,
                                                       client: aiohttp.ClientSession) -> None:
    """A target URL with a path (http://devbox:8888/echo) puts that prefix before every path, HTTP and WS."""
    proxy = await start_proxy(target=upstream.url + "/echo/")
    for method in ("GET", "POST"):  # both client paths
        async with client.request(method, proxy.url + "/a/b?q=1") as resp:
            assert resp.status == 200
            assert (await resp.json())["raw_path"] == "/echo/a/b?q=1"
    proxy_ws = await start_proxy(target=upstream.url + "/ws")
    async with client.ws_connect(proxy_ws.ws_url + "/echo?hello=1") as ws:
        hello = json.loads((await ws.receive(timeout=5)).data)
    assert hello["raw_path"] == "/ws/echo?hello=1"


async def test_ipv6_target_through_ipv6_socks(socks_v6: Microsocks, start_proxy: StartProxy,
                                              client: aiohttp.ClientSession) -> None:
    """A target at an IPv6 literal ([::1]) works through a SOCKS server on ::1, HTTP and WebSocket."""
    from aiohttp import web

    from support.upstream import create_upstream

    runner = web.AppRunner(create_upstream(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "::1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        proxy = await start_proxy(target=f"http://[::1]:{port}", socks=socks_v6.url)
        async with client.get(proxy.url + "/echo") as resp:
            headers = dict((n.lower(), v) for n, v in (await resp.json())["headers"])
        assert headers["host"] == f"[::1]:{port}"
        async with client.ws_connect(proxy.ws_url + "/ws/echo") as ws:
            await ws.send_str("v6")
            assert (await ws.receive(timeout=5)).data == "v6"
        assert socks_v6.connections() == [f"::1:{port}", f"::1:{port}"]  # pooled HTTP, then the WebSocket
    finally:
        await runner.cleanup()


def _certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devproxy test target")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "target.pem", tmp / "target.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_https_target_for_http_and_websocket(tmp_path: Path, socks_v4: Microsocks, start_proxy: StartProxy,
                                                   client: aiohttp.ClientSession,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An https:// target: requests and WebSockets go over verified TLS through the tunnel."""
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the proxy's client trusts this one CA
    runner = web.AppRunner(create_upstream(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        proxy = await start_proxy(target=f"https://127.0.0.1:{port}", socks=socks_v4.url)
        async with client.post(proxy.url + "/echo", data=b"over tls") as resp:
            assert resp.status == 200
            assert (await resp.json())["body_head"] == "over tls"
        async with client.ws_connect(proxy.ws_url + "/ws/echo") as ws:
            await ws.send_str("wss")
            assert (await ws.receive(timeout=5)).data == "wss"
    finally:
        await runner.cleanup()
    assert socks_v4.connections() == [f"127.0.0.1:{port}"] * 2
