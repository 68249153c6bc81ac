"""Profile the runtime under load: `python -m bench.profile [--uvloop] [--seconds S]`.

Starts the same loopback stack as the benchmark (upstream, Go SOCKS5 server, devproxy runtime),
attaches py-spy (`pip install py-spy`; not a devproxy dependency) to the proxy while wrk drives
/small, then while one WebSocket does 64-byte round trips, then with 64 KiB messages, then while new WebSockets
open and echo once back to back, then while 64 MiB downloads run back to back, and prints the top functions by
self and inclusive share of samples. Raw collapsed stacks go to bench/results/profile-*.txt.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import clients, procs
from bench.clients import Endpoint


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep function and file tail.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else where
    return f"{name} ({short})"


def summarise(raw: Path, top: int) -> str:
    """Top functions by self samples and by inclusive samples, as Markdown lists."""
    self_counts: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        self_counts[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"- {100 * c / total:5.1f}%  {f}" for f, c in self_counts.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"- {100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top)]
    return "\n".join(out)


def record(pid: int, seconds: float, out: Path, native: bool) -> subprocess.Popen[bytes]:
    cmd = [shutil.which("py-spy") or str(procs.ROOT / ".venv/bin/py-spy"), "record", "--pid", str(pid),
           "--duration", f"{int(seconds)}", "--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"]
    if native:
        cmd.append("--native")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--uvloop", action="store_true", help="run the proxy under uvloop")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--native", action="store_true", help="include C frames (py-spy --native)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    procs.RESULTS.mkdir(parents=True, exist_ok=True)
    tag = "uvloop" if args.uvloop else "asyncio"
    children = []
    try:
        up, up_port = procs.start_upstream(uvloop=True)
        gos, go_port = procs.start_gosocks()
        children += [up, gos]
        proxy, port = procs.start_runtime(f"profile-{tag}", up_port, go_port, uvloop=args.uvloop)
        children.append(proxy)
        ep = Endpoint("127.0.0.1", port)

        http_raw = procs.RESULTS / f"profile-{tag}-http.txt"
        spy = record(proxy.pid, args.seconds, http_raw, args.native)
        time.sleep(0.5)
        subprocess.run(["wrk", "-t1", "-c8", f"-d{args.seconds + 1:g}s", f"http://127.0.0.1:{port}/small"],
                       check=True, capture_output=True, timeout=args.seconds + 30)
        _, err = spy.communicate(timeout=30)
        print(f"## HTTP /small under wrk -c8 ({tag})\n")
        print(summarise(http_raw, args.top) if http_raw.exists() else err.decode())

        def ws_echoes() -> None:
            ws = clients.WS(ep)
            payload = b"p" * 64
            while not stop.is_set():
                ws.echo(payload)
            ws.close()

        def ws_bulk() -> None:
            while not stop.is_set():
                clients.ws_throughput(ep, 256)

        def ws_new() -> None:
            while not stop.is_set():
                clients.ws_connect_to_echo(ep, 1)

        def downloads() -> None:
            while not stop.is_set():
                clients.download(ep)

        stop = threading.Event()
        for key, title, drive in (
            ("ws", "WebSocket 64-byte round trips on one connection", ws_echoes),
            ("wsbulk", "WebSocket 64 KiB messages, 4 in flight, one connection", ws_bulk),
            ("connect", "New WebSocket, connect to first echo, back to back", ws_new),
            ("big", "64 MiB downloads back to back", downloads),
        ):
            raw = procs.RESULTS / f"profile-{tag}-{key}.txt"
            stop.clear()
            driver = threading.Thread(target=drive, daemon=True)
            driver.start()
            time.sleep(0.5)
            spy = record(proxy.pid, args.seconds, raw, args.native)
            _, err = spy.communicate(timeout=args.seconds + 30)
            stop.set()
            driver.join(30)
            print(f"\n## {title} ({tag})\n")
            print(summarise(raw, args.top) if raw.exists() else err.decode())
    finally:
        for proc in reversed(children):
            procs.stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
