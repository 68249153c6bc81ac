"""The pool's invariant, checked with random answer shapes: every answer reaches the request it belongs to.

A connection goes back to the pool only when its exchange ended exactly at a message boundary with
nothing pending either way. Hypothesis draws sequences of answers (sizes, Content-Length, chunked
with or without trailers, close-delimited, HEAD, 1xx first, 204/304 with framing headers, early
answers to uploads, writes split anywhere) and sends them through one pool against a scripted
target; each answer carries its request's number, so an answer meant for another request shows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devproxy.runtime.log import EventLog
from devproxy.runtime.tunnel import Dialer, tunnel_to
from devproxy.runtime.upstream_http import Pool
from support.scripted import Incoming, scripted_target

KINDS = ("length", "chunked", "close", "bodiless", "head", "early")
UPLOAD = 200_000


@dataclass(frozen=True)
class Shape:
    kind: str
    size: int
    informational: bool
    trailers: bool
    #: where the answer's bytes are split into separate writes (fractions of its length).
    cuts: tuple[float, ...]


shapes = st.builds(
    Shape,
    kind=st.sampled_from(KINDS),
    size=st.one_of(st.integers(0, 100), st.integers(0, 300_000)),
    informational=st.booleans(),
    trailers=st.booleans(),
    cuts=st.lists(st.floats(0, 1), max_size=3).map(lambda c: tuple(sorted(c))),
)


def body_for(number: int, size: int) -> bytes:
    unit = b"<%d>" % number
    return (unit * (size // len(unit) + 1))[:size]


def answer_bytes(number: int, shape: Shape) -> bytes:
    """The target's answer to request `number` in the given shape."""
    body = body_for(number, shape.size)
    first = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" if shape.informational else b""
    tag = b"X-Id: %d\r\n" % number
    if shape.kind == "bodiless":
        status = b"304 Not Modified" if shape.size % 2 else b"204 No Content"
        return first + b"HTTP/1.1 " + status + b"\r\n" + tag + b"Content-Length: %d\r\n\r\n" % shape.size
    if shape.kind == "head":
        return first + b"HTTP/1.1 200 OK\r\n" + tag + b"Content-Length: %d\r\n\r\n" % shape.size
    if shape.kind == "chunked":
        pieces = [body[i:i + 7919] for i in range(0, len(body), 7919)]
        chunks = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces)
        trailer = b"X-Id: 999999\r\nSet-Cookie: t=1\r\n" if shape.trailers else b""
        return first + b"HTTP/1.1 200 OK\r\n" + tag + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n" + trailer + b"\r\n"
    if shape.kind == "close":
        return first + b"HTTP/1.1 200 OK\r\n" + tag + b"\r\n" + body
    return first + b"HTTP/1.1 200 OK\r\n" + tag + b"Content-Length: %d\r\n\r\n" % shape.size + body


async def run_sequence(sequence: list[Shape]) -> None:
    async def script(request: Incoming) -> bool:
        number = int(request.path.strip("/"))
        shape = sequence[number]
        if shape.kind != "early":
            await request.read_body()
        data = answer_bytes(number, shape)
        start = 0
        for cut in shape.cuts:
            end = int(cut * len(data))
            request.writer.write(data[start:end])
            await request.writer.drain()
            await asyncio.sleep(0)
            start = end
        request.writer.write(data[start:])
        await request.writer.drain()
        if shape.kind == "early":
            await request.read_body()  # the target goes on reading what it was sent
        return shape.kind != "close"

    async with scripted_target() as target:
        for number in range(len(sequence)):
            target.scripts[f"/{number}"] = script
        dialer = Dialer(None, connect_timeout=5, log=EventLog())
        pool = Pool(tunnel_to(dialer, "127.0.0.1", target.port, https=False))
        try:
            for number, shape in enumerate(sequence):
                method = {"head": "HEAD", "early": "POST"}.get(shape.kind, "GET")
                extra = f"Content-Length: {UPLOAD}\r\n" if method == "POST" else ""
                head = f"{method} /{number} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()
                pieces = [b"u" * 65536] * (UPLOAD // 65536) + [b"u" * (UPLOAD % 65536), b""]

                async def upload() -> bytes:
                    await asyncio.sleep(0)
                    return pieces.pop(0)

                response = await pool.exchange(head, target="t", timeout=5, retry=method != "POST",
                                               body=upload if method == "POST" else None, no_body=method == "HEAD")
                body = bytearray()
                while chunk := await asyncio.wait_for(response.read(), 5):
                    body += chunk
                response.release()
                assert (b"X-Id", b"%d" % number) in response.headers, (number, shape, response.headers)
                if shape.kind == "bodiless":
                    assert (response.status, bytes(body)) == (304 if shape.size % 2 else 204, b"")
                elif shape.kind == "head":
                    assert (response.status, bytes(body)) == (200, b"")
                else:
                    assert response.status == 200
                    assert bytes(body) == body_for(number, shape.size), (number, shape)
        finally:
            pool.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shapes, min_size=1, max_size=8))
def test_every_answer_reaches_its_own_request(sequence: list[Shape]) -> None:
    """Random sequences of answer shapes through one pool: each request gets exactly its own answer."""
    asyncio.run(asyncio.wait_for(run_sequence(sequence), 60))
