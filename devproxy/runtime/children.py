"""Child processes the event loop watches without a waiter thread each (tailscaled, the tailscale CLI).

Python 3.11's asyncio subprocesses start a thread per child, and starting it can hold a loaded
event loop for 100-300 ms; here a pidfd (or a non-blocking waitpid poll) reports the exit instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from typing import Any

#: longest output line read from a child before it is split.
_LINE_LIMIT = 64 * 1024


class Child:
    """A child process whose output and exit the event loop watches (no waiter thread per child)."""

    def __init__(self, popen: subprocess.Popen[bytes], output: asyncio.StreamReader, exited: asyncio.Future[int]) -> None:
        self._popen = popen
        self.output = output
        self._exited = exited

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        # Until the exit is observed the pid is a live or zombie child of ours, never a reused one.
        if not self._exited.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._popen.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL the process and its group (it was started in its own session)."""
        if self._exited.done():
            return
        try:
            os.killpg(self._popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.send_signal(signal.SIGKILL)


async def spawn(argv: list[str], env: dict[str, str], pending: set[asyncio.Future[Any]]) -> Child:
    """Start argv with stdout+stderr in one pipe. Raises: OSError when it cannot be executed.

    Python 3.11's asyncio subprocesses start a waiter thread per child, and `Thread.start()`
    waits until that thread has been scheduled: on a loaded machine that held the event loop
    100-300 ms per spawn. Here the exit is reported by a pidfd (or, without one, a non-blocking
    waitpid poll) instead. fork/exec itself runs on the loop, as in asyncio: about a millisecond
    (CPython holds the GIL across it, so a worker thread would not shorten the pause).
    """
    loop = asyncio.get_running_loop()
    popen = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        # Own process group: SIGKILL reaches anything it started, and Ctrl-C on a terminal
        # does not bypass the orderly SIGTERM in stop().
        start_new_session=True,
    )
    exited = watch_exit(popen)
    output = asyncio.StreamReader(limit=_LINE_LIMIT)
    child = Child(popen, output, exited)
    assert popen.stdout is not None
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(output), popen.stdout)
    except BaseException:
        # Cancelled before anyone holds the child: kill it, and let stop() wait for its reaping.
        child.kill_group()
        pending.add(exited)
        exited.add_done_callback(pending.discard)
        raise
    return child


def watch_exit(popen: subprocess.Popen[bytes]) -> asyncio.Future[int]:
    """A future resolved with the exit code once the loop sees the child exit (and reaps it)."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()

    def reap() -> bool:
        if popen.poll() is None:
            return False
        if not exited.done():
            exited.set_result(popen.returncode)
        return True

    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):
        async def poll() -> None:
            while not reap():
                await asyncio.sleep(0.05)

        _POLLERS.add(task := loop.create_task(poll(), name=f"reap-{popen.pid}"))
        task.add_done_callback(_POLLERS.discard)
    else:
        def on_exit() -> None:
            if reap():
                loop.remove_reader(pidfd)
                os.close(pidfd)

        loop.add_reader(pidfd, on_exit)
    return exited


_POLLERS: set[asyncio.Task[None]] = set()
