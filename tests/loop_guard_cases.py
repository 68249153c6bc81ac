"""Cases for the slow-callback guard's own test (tests/test_loop_guard.py runs them in a child pytest).

Not collected by the suite: each case either holds its event loop the way product code must not, or
stays within the rules, and the guard must tell them apart whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from devproxy.runtime import closecodes


def as_product(source: str, **names: Any) -> dict[str, Any]:
    """Run `source` as if a line of devproxy's own code (a product module's file name on its frame)."""
    namespace = {**names}
    exec(compile(source, closecodes.__file__, "exec"), namespace)
    return namespace


def _burn_cpu(seconds: float) -> None:
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        closecodes.truncate_reason("é" * 200)


async def case_product_sleeps_in_a_callback() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_soon(lambda: (as_product("time.sleep(0.02)", time=time), done.set_result(None)))
    await asyncio.wait_for(done, 5)


async def case_product_connects_a_blocking_socket() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        as_product("socket.create_connection(('127.0.0.1', port), timeout=2).close()",
                   socket=socket, port=server.getsockname()[1])


async def case_product_resolves_a_name() -> None:
    as_product("socket.getaddrinfo('localhost', 80)", socket=socket)


async def case_product_runs_a_subprocess() -> None:
    import subprocess
    import sys

    as_product("subprocess.run([exe, '-c', 'pass'], check=True, timeout=20)", subprocess=subprocess, exe=sys.executable)


async def case_a_callback_burns_cpu() -> None:
    _burn_cpu(0.25)


async def case_waits_without_blocking() -> None:
    await asyncio.sleep(0.3)
    _burn_cpu(0.02)


async def case_product_starts_a_child_the_asyncio_way() -> None:
    import sys

    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await asyncio.wait_for(proc.wait(), 20)


async def case_product_spawns_without_waiting() -> None:
    import subprocess
    import sys

    child = as_product("child = subprocess.Popen([exe, '-c', 'pass'])", subprocess=subprocess,
                       exe=sys.executable)["child"]
    for _ in range(200):  # bounded: 20 s
        if child.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert child.returncode == 0


async def case_test_code_sleeps_briefly() -> None:
    time.sleep(0.02)  # the test's own code, not product code, far below the limit
