"""One request's exchange with the target: the answer's parser state, its head, its body buffer.

A connection of the pool makes a fresh `Exchange` for every request and feeds it the bytes it
reads; nothing here survives the request, and nothing here touches a socket. The exchange decides
what the bytes are (a final head, body pieces, the end of the message, bytes that belong to no
answer) and whether the connection may carry another request afterwards (`at_boundary`).

Bounds on the target's head, as on the browser's side: a line of at most 64 KiB, at most
`MAX_HEADERS` fields and `MAX_HEAD` bytes before the head ends; past them the answer is refused
(502), before the parser has buffered much of it. Trailer fields after a chunked body are dropped:
the browser's answer has already gone out with its head (RFC 9110 §6.5.1 lets a proxy discard them).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import httptools

#: one header line (name and value) of the target's answer, as for the browser's requests.
MAX_LINE = 64 * 1024
#: header fields in one answer head (trailers count too).
MAX_HEADERS = 500
#: bytes received before the answer's head is complete (informational answers included).
MAX_HEAD = 256 * 1024
#: body bytes buffered from the target before reading from it pauses (the browser is slower).
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024


class Disconnected(ConnectionError):
    """The connection ended before any byte of an answer (on a reused one, the request may be sent again)."""


class InvalidAnswer(ConnectionError):
    """The target's bytes are not an acceptable HTTP/1.1 answer."""


class BodyBroken(ConnectionError):
    """The answer's body ended before its framing said it would."""


class _Stray(Exception):
    """Raised inside a parser callback: the bytes being parsed belong to no answer."""


class _Refused(Exception):
    """Raised inside a parser callback: the answer breaks a bound; carries the error to report."""

    def __init__(self, error: ConnectionError) -> None:
        super().__init__(str(error))
        self.error = error


class Exchange:
    """One request and its answer on a connection: fed bytes, read as a head and a body stream."""

    __slots__ = ("no_body", "status", "reason", "headers", "head_done", "complete", "close_delimited",
                 "keep_alive", "sent", "stray", "got_bytes", "error", "head_ready", "_parser", "_loop",
                 "_head_bytes", "_fields", "_chunks", "_buffered", "_waiter", "_pause", "_resume", "_left",
                 "_sink", "streamed", "blocked", "sink_gone")

    def __init__(self, loop: asyncio.AbstractEventLoop, *, no_body: bool,
                 pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        #: the answer to HEAD: framing headers, never a body.
        self.no_body = no_body
        self.status = 0
        self.reason = bytearray()
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.close_delimited = False
        self.keep_alive = False
        #: the whole request (head and body) went out.
        self.sent = False
        #: bytes arrived that belong to no answer: the connection's framing cannot be trusted.
        self.stray = False
        self.got_bytes = False
        self.error: BaseException | None = None
        #: resolved (never failed) once the final head is parsed or the exchange failed.
        self.head_ready: asyncio.Future[None] = loop.create_future()
        self._head_bytes = 0
        self._fields = 0
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._pause = pause
        self._resume = resume
        #: body bytes still to come when they need no parsing (Content-Length or close-delimited).
        self._left: int | None = None
        #: where body bytes go as they arrive once `stream_to` was called (the browser's transport).
        self._sink: asyncio.WriteTransport | None = None
        #: body bytes written to the sink; the sink is full (reading paused); the sink closed.
        self.streamed = 0
        self.blocked = False
        self.sink_gone = False

    def at_boundary(self) -> bool:
        """The exchange ended exactly at a message boundary with nothing pending either way."""
        return (self.complete and self.sent and not self.stray and self.error is None and not self._chunks
                and self.keep_alive and not self.close_delimited)

    # -- bytes in ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse bytes read from the connection."""
        if self.complete or self.error is not None:
            self.stray = True  # after a whole answer: nobody's bytes
            return
        if self._left is not None:
            self._body_bytes(data)
            return
        self.got_bytes = True
        if not self.head_done:
            self._head_bytes += len(data)
        try:
            if self.no_body and not self.head_done:
                self._feed_lines(data)
            else:
                self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(InvalidAnswer("invalid response from the target: it switched protocols on a plain request"))
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._fail(cause.error)
            elif self.complete or isinstance(cause, _Stray):
                self.stray = True  # after a whole answer, extra bytes only cost the connection
            else:
                words = f"invalid response from the target: {exc}"
                self._fail(BodyBroken(words) if self.head_done else InvalidAnswer(words))
        if not self.head_done and self.error is None and self._head_bytes > MAX_HEAD:
            self._fail(InvalidAnswer(f"the target's response head is larger than {MAX_HEAD // 1024} KiB"))

    def _body_bytes(self, data: bytes) -> None:
        """A body whose end is a byte count (or the connection's end): kept as received, no parser, no copy."""
        left = self._left
        assert left is not None
        if len(data) > left:
            data = data[:left]
            self.stray = True  # more than the Content-Length: the connection cannot be trusted
        if data:
            self._left = left - len(data)
            self._deliver(data)
        if self._left == 0:
            self.complete = True
            self._wake()

    def _feed_lines(self, data: bytes) -> None:
        """Feed an answer to HEAD one line at a time, so nothing after its head is ever parsed as a body.

        llhttp cannot be told that an answer belongs to HEAD; it would read a Content-Length's worth
        of whatever follows as the body. The head ends with a line feed, so feeding line by line
        stops exactly there, and anything after it is known to be stray.
        """
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            self._parser.feed_data(data[start:end])
            start = end
            if self.head_done:
                if start < len(data):
                    self.stray = True
                return

    def ended(self, exc: BaseException | None) -> None:
        """The connection is gone: a close-delimited body ends here, anything unfinished fails."""
        if self.complete or self.error is not None:
            return
        if self.head_done and self.close_delimited and exc is None:
            self.complete = True
            self._wake()
            return
        error: BaseException
        if not self.head_done:
            if not self.got_bytes:
                error = Disconnected(f"the connection ended before an answer{f': {exc}' if exc else ''}")
            else:
                error = InvalidAnswer(f"the connection broke before a whole answer{f': {exc}' if exc else ''}")
        else:
            error = BodyBroken("Response payload is not completed" + (f": {exc!r}" if exc else ""))
        self._fail(error)

    def timed_out(self) -> None:
        self._fail(TimeoutError())

    def fail(self, error: BaseException) -> None:
        """End the exchange from outside (the path to the target turned out dead) unless its head came."""
        if not self.head_done:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        # Waiters are woken, not failed: they read `error`, so no exception goes unretrieved.
        self._wake_head()
        self._wake()

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head_done:
            raise _Stray()

    def on_status(self, status: bytes) -> None:
        if len(self.reason) + len(status) > MAX_LINE:
            raise _Refused(InvalidAnswer("the target's status line is longer than 64 KiB"))
        self.reason.extend(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > MAX_HEADERS:
            raise _Refused(InvalidAnswer(f"the target's answer has more than {MAX_HEADERS} header fields"))
        if len(name) + len(value) > MAX_LINE:
            raise _Refused(InvalidAnswer("a header line of the target's answer is longer than 64 KiB"))
        if not self.head_done:  # after the head: a trailer field, dropped
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            self.reason = bytearray()  # informational (100 Continue, 103 Early Hints...): not forwarded
            self.headers = []
            return
        if not 200 <= status <= 599:
            raise _Refused(InvalidAnswer(f"the target answered with status {status}, which HTTP does not have"))
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()
        bodiless = status in (204, 304) or self.no_body
        length: int | None = None
        chunked = False
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length":
                length = int(value)  # llhttp has checked it is one decimal number
            elif lname == b"transfer-encoding":
                chunked = True  # llhttp frames it (or refuses it); the parser stays in charge
        self.close_delimited = not (bodiless or chunked or length is not None)
        self.head_done = True
        self._fields = 0
        if self.no_body:
            self.complete = True
        elif not bodiless and not chunked:
            # The rest of this body needs no parsing: what the parser still hands over in this call
            # goes through on_body, everything later is taken as it comes (`_body_bytes`).
            self._left = length if length is not None else 1 << 62
        self._wake_head()

    def on_body(self, body: bytes) -> None:
        if self.no_body:
            self.stray = True
            return
        if self._left is not None:
            self._left -= len(body)
        self._deliver(body)

    def _deliver(self, data: bytes) -> None:
        """Body bytes: straight to the sink when there is one (waking the reader only when it is full
        or gone), else into the buffer (waking the reader)."""
        sink = self._sink
        if sink is None:
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered > HIGH_WATER:
                self._pause()
            self._wake()
            return
        if self.sink_gone or sink.is_closing():
            self.sink_gone = True
            self._pause()
            self._wake()
            return
        sink.write(data)
        self.streamed += len(data)
        if not self.blocked and sink.get_write_buffer_size() > HIGH_WATER:
            self.blocked = True  # the browser reads slower: stop reading the target until it drained
            self._pause()
            self._wake()

    def on_message_complete(self) -> None:
        if self.head_done:  # else the end of an informational answer: the final one follows
            self.complete = True
            self._wake()

    # -- the body, read out ---------------------------------------------------------------------

    def _wake_head(self) -> None:
        if not self.head_ready.done():
            self.head_ready.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def whole(self) -> bytes | None:
        """The whole body when it has all arrived (taken out of the buffer), else None."""
        if not self.complete or self.error is not None:
            return None
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        self._resume()
        return data

    def take(self) -> bytes | None:
        """The next buffered body piece; b"" at the end; None when nothing has arrived yet.

        Raises: BodyBroken (or the error that ended the exchange) when the body broke off.
        """
        if self._chunks:
            data = self._chunks.popleft()  # one received piece at a time: no join, no copy
            self._buffered -= len(data)
            if self._buffered < LOW_WATER:
                self._resume()
            return data
        if self.complete:
            return b""
        if self.error is not None:
            raise self.error
        return None

    def stream_to(self, sink: asyncio.WriteTransport) -> None:
        """From now on body bytes go to `sink` as they arrive, buffered ones first (no task in between)."""
        self._sink = sink
        chunks, self._chunks = self._chunks, deque()
        self._buffered = 0
        for data in chunks:
            self._deliver(data)
        if not self.blocked and not self.sink_gone:
            self._resume()

    def unblock(self) -> None:
        """The sink drained: read the target again."""
        self.blocked = False
        self._resume()

    async def arrival(self, timeout: float | None) -> None:
        """Wait until more of the body arrived (or, streaming, the sink filled or went), it ended or broke,
        or `timeout` passed."""
        if self._chunks or self.complete or self.error is not None or self.blocked or self.sink_gone:
            return
        self._waiter = waiter = self._loop.create_future()
        timer = None if timeout is None else self._loop.call_later(timeout, _settle, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
