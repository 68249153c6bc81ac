"""Memory of the relay does not grow with message size: a 256 MiB message through the real CLI process."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from support.runtime_proc import spawn_runtime
from support.upstream import RawTarget

MiB = 1024 * 1024
SIZE = 256 * MiB
CHUNK = b"\x00" * MiB
#: the proxy's whole RSS may grow by this much while relaying (it grew by ~3× the message before).
BOUND_KIB = 48 * 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def header(size: int, *, masked: bool) -> bytes:
    """A final binary frame's header for `size` payload bytes (mask key 0: the payload stays as written)."""
    return struct.pack("!BBQ", 0x82, (0x80 if masked else 0) | 127, size) + (b"\x00" * 4 if masked else b"")


async def send_big(writer: asyncio.StreamWriter, *, masked: bool) -> None:
    writer.write(header(SIZE, masked=masked))
    for _ in range(SIZE // MiB):
        writer.write(CHUNK)
        await writer.drain()


async def read_exactly(reader: asyncio.StreamReader, count: int) -> None:
    while count:
        data = await reader.read(min(count, MiB))
        if not data:
            raise ConnectionError("closed early")
        count -= len(data)


class Peak:
    """Samples a process's RSS every 20 ms while relaying."""

    def __init__(self, pid: int) -> None:
        self.pid, self.base, self.peak = pid, rss_kib(pid), 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        for _ in range(3000):  # bounded: one minute
            self.peak = max(self.peak, rss_kib(self.pid))
            await asyncio.sleep(0.02)

    def stop(self) -> int:
        self._task.cancel()
        self.peak = max(self.peak, rss_kib(self.pid))
        return self.peak - self.base


@pytest.fixture
async def runtime_for() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    procs: list[asyncio.subprocess.Process] = []
    yield procs
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)


@pytest.mark.parametrize("direction", ["to_target", "to_browser"])
async def test_256_mib_message_keeps_proxy_memory_flat(direction: str,
                                                       runtime_for: list[asyncio.subprocess.Process]) -> None:
    """A 256 MiB message crosses whole while the proxy's RSS grows by less than 48 MiB (issue 11, defect 5)."""
    done = asyncio.get_running_loop().create_future()

    async def target_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if direction == "to_target":
            await read_exactly(reader, len(header(SIZE, masked=True)) + SIZE)
            writer.write(Frame(Opcode.TEXT, b"got it").serialize(mask=False))
        else:
            await send_big(writer, masked=False)
        await writer.drain()
        await asyncio.wait_for(done, 60)

    async with RawTarget(target_side) as target:
        proc, lines = await spawn_runtime("--listen", "127.0.0.1:0", "--no-tailscale", "--target", target.url,
                                          "--socks", "none", "--auth", "none", env={})
        runtime_for.append(proc)
        uri = parse_uri(f"ws://127.0.0.1:{lines[-1]['port']}/big")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(uri.host, uri.port), 5)
        browser = ClientProtocol(uri, max_size=None)
        browser.send_request(browser.connect())
        writer.writelines(browser.data_to_send())
        async with asyncio.timeout(5):  # only the 101's head: the frame's bytes stay in the reader
            browser.receive_data(await reader.readuntil(b"\r\n\r\n"))
        assert browser.state is State.OPEN and browser.handshake_exc is None
        browser.events_received()
        peak = Peak(proc.pid)
        async with asyncio.timeout(60):
            if direction == "to_target":
                await send_big(writer, masked=True)
                reply = b""
                while b"got it" not in reply:
                    data = await reader.read(4096)
                    assert data, "the proxy closed the connection"
                    reply += data
            else:
                await read_exactly(reader, len(header(SIZE, masked=False)) + SIZE)
        grown = peak.stop()
        done.set_result(None)
        writer.close()
    assert grown < BOUND_KIB, f"RSS grew by {grown / 1024:.0f} MiB relaying a 256 MiB message"
