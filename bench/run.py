"""The benchmark: devproxy runtime against direct and SOCKS-only paths, interleaved round by round.

Usage: `python -m bench [--rounds N] [--seconds S] [--no-uvloop-variant]` from the repository root
(`bench/setup` installs wrk, microsocks and Go, builds the Go helper, and fetches uvloop into
bench/.cache). Prints a table, writes bench/results/<time>.json and bench/latest.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import clients, procs
from bench.clients import Endpoint

MiB = 1024 * 1024
IDLE_WS = 1000
#: targets from the issue: (metric, reference, comparison, factor, text). "ratio_min": the median
#: per-round ratio to the reference must be at least the factor; "ratio_max": at most; "max": an
#: absolute bound on the median.
TARGETS = [
    ("http_cpu_us", "floor", "ratio_max", 2.5, "≤ 2.5 × floor"),
    ("http_rps", "floor", "ratio_min", 0.6, "≥ 0.6 × floor"),
    ("http_rps", "node", "ratio_min", 5.0, "≥ 5 × node"),
    ("ws_rtt_p50_us", "floor", "ratio_max", 1.15, "≤ 1.15 × floor"),
    ("ws_rtt_p50_us", "node", "ratio_max", 1.0, "below node"),
    ("ws_mbps", "floor", "ratio_min", 0.9, "≥ 0.9 × floor"),
    ("big_mbps", "floor", "ratio_min", 0.9, "≥ 0.9 × floor"),
    ("idle_ws_kib", "", "max", 6.0, "≤ 6 KiB"),
    ("ws_connect_p50_ms", "floor", "ratio_max", 1.2, "≤ 1.2 × floor"),
]
#: every figure gets its ratio to these references, round by round.
RATIO_METRICS = ("http_rps", "http_cpu_us", "http_p50_us", "big_mbps", "ws_rtt_p50_us", "ws_mbps",
                 "ws_connect_p50_ms", "idle_ws_kib")


@dataclass
class Target:
    name: str
    kind: str  # direct | socks | proxy | floor | node
    endpoint: Endpoint
    socks_name: str = ""  # which SOCKS server this path crosses
    pid: int | None = None  # the devproxy process, for CPU and memory
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, metric: str, value: float) -> None:
        self.samples.setdefault(metric, []).append(value)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def run_wrk(url: str, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds:g}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    lat = {q: float(v) * _UNITS[u] for q, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", out, re.M)}
    reqs = int(re.search(r"^\s+(\d+) requests in", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M).group(1))  # type: ignore[union-attr]
    if errors:
        raise RuntimeError(f"wrk reported errors against {url}:\n{out}")
    return {"rps": rps, "p50_us": lat["50"], "p99_us": lat["99"], "requests": reqs}


def run_goload(url: str, socks: tuple[str, int] | None, seconds: float) -> dict[str, float]:
    cmd = [str(procs.BENCHGO), "http", "-url", url, "-c", "8", "-d", f"{seconds:g}s"]
    if socks:
        cmd += ["-socks", f"{socks[0]}:{socks[1]}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True,
                         env={"GOMAXPROCS": "1", "PATH": "/usr/bin:/bin"}).stdout
    result: dict[str, float] = json.loads(out)
    if result["errors"]:
        raise RuntimeError(f"Go load client saw {result['errors']} errors against {url}")
    return result


def measure_round(t: Target, args: argparse.Namespace) -> None:
    """One round of every metric for one target."""
    ep = t.endpoint
    url = f"http://{ep.host_header}/small"
    # HTTP small: wrk where it can reach (direct, proxy); the Go client speaks SOCKS for socks-only.
    cpu0 = procs.cpu_seconds(t.pid) if t.pid else 0.0
    split0 = procs.cpu_split(t.pid) if t.pid else (0.0, 0.0)
    if t.kind == "socks":
        r = run_goload(url, ep.socks, args.seconds)
        t.add("http_client", 1)
    else:
        r = run_wrk(url, args.seconds)
    if t.pid:
        t.add("http_cpu_us", (procs.cpu_seconds(t.pid) - cpu0) / r["requests"] * 1e6)
        user, system = procs.cpu_split(t.pid)
        spent = (user - split0[0]) + (system - split0[1])
        t.add("http_cpu_kernel_pct", 100 * (system - split0[1]) / spent if spent else 0.0)
    t.add("http_rps", r["rps"])
    t.add("http_p50_us", r["p50_us"])
    t.add("http_p99_us", r["p99_us"])
    if t.kind == "direct":  # calibrates the Go client against wrk on the same path
        g = run_goload(url, None, args.seconds)
        t.add("http_rps_goclient", g["rps"])

    cpu0 = procs.cpu_seconds(t.pid) if t.pid else 0.0
    size, secs = clients.download(ep)
    if size != 64 * MiB:
        raise RuntimeError(f"{t.name}: /big returned {size} bytes")
    t.add("big_mbps", size / secs / 1e6)
    if t.pid:  # steadier than the rate on a shared machine
        t.add("big_cpu_ms_per_mb", (procs.cpu_seconds(t.pid) - cpu0) / (size / 1e6) * 1e3)

    cpu0 = procs.cpu_seconds(t.pid) if t.pid else 0.0
    rtts = clients.ws_round_trips(ep, args.ws_count)
    if t.pid:
        t.add("ws_cpu_us", (procs.cpu_seconds(t.pid) - cpu0) / (args.ws_count + min(200, args.ws_count)) * 1e6)
    t.add("ws_rtt_p50_us", _pct(rtts, 0.5) * 1e6)
    t.add("ws_rtt_p99_us", _pct(rtts, 0.99) * 1e6)

    cpu0, wall0 = (procs.cpu_seconds(t.pid) if t.pid else 0.0), time.perf_counter()
    t.add("ws_mbps", clients.ws_throughput(ep, args.ws_messages))
    if t.pid:  # near 100 %: the proxy is CPU-bound; well below: latency-bound (store and forward)
        t.add("ws_bulk_cpu_pct", 100 * (procs.cpu_seconds(t.pid) - cpu0) / (time.perf_counter() - wall0))

    conn = clients.ws_connect_to_echo(ep, args.connects)
    t.add("ws_connect_p50_ms", _pct(conn, 0.5) * 1e3)


def idle_memory(t: Target) -> dict[str, float]:
    """RSS growth of the proxy per idle WebSocket with IDLE_WS open; every one must still echo."""
    assert t.pid
    warm = [clients.WS(t.endpoint) for _ in range(20)]
    for ws in warm:
        ws.echo(b"w" * 64)
    for ws in warm:
        ws.close()
    time.sleep(0.5)
    before = procs.rss_kib(t.pid)
    conns = []
    t0 = time.perf_counter()
    try:
        for _ in range(IDLE_WS):
            ws = clients.WS(t.endpoint)
            ws.echo(b"i" * 64)
            conns.append(ws)
        opened = time.perf_counter() - t0
        time.sleep(1.0)
        after = procs.rss_kib(t.pid)
        for ws in conns:  # all still alive at the end
            ws.echo(b"a" * 64)
        return {"idle_ws_kib": (after - before) / IDLE_WS, "rss_before_kib": before, "rss_after_kib": after,
                "open_seconds": opened, "alive": len(conns)}
    finally:
        for ws in conns:
            ws.close()


def _references(t: Target, by_name: dict[str, Target]) -> list[tuple[str, Target]]:
    """The paths `t` is compared with: direct; and for proxies the same SOCKS server alone, the floor, node."""
    refs = [("direct", by_name["direct"])]
    if t.kind in ("proxy", "floor", "node"):
        for label, prefix in (("socks", "socks-"), ("floor", "floor-"), ("node", "node-")):
            ref = next((r for n, r in by_name.items() if n.startswith(prefix + t.socks_name)
                        and r.socks_name == t.socks_name), None)
            if ref is not None and ref is not t:
                refs.append((label, ref))
    return refs


def summarise(targets: list[Target]) -> dict[str, Any]:
    """Medians over rounds, plus medians of per-round ratios (round n of a path against round n of
    its reference, measured seconds apart, so machine-wide noise largely cancels)."""
    out: dict[str, Any] = {}
    by_name = {t.name: t for t in targets}
    for t in targets:
        m: dict[str, Any] = {k: statistics.median(v) for k, v in t.samples.items() if k != "http_client"}
        m["kind"] = t.kind
        m["socks"] = t.socks_name
        for label, ref in _references(t, by_name):
            for metric in RATIO_METRICS:
                # socks-only HTTP is measured by the Go client: compare with the Go client on direct
                ref_metric = "http_rps_goclient" if (t.kind, metric) == ("socks", "http_rps") else metric
                pairs = zip(t.samples.get(metric, []), ref.samples.get(ref_metric, []))
                ratios = [a / b for a, b in pairs if b]
                if ratios:
                    m[f"{metric}_vs_{label}"] = statistics.median(ratios)
        out[t.name] = m
    return out


def checks(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each proxy target against each issue target, with the reference it is compared to."""
    rows = []
    for name, m in summary.items():
        if m["kind"] != "proxy":
            continue
        for metric, ref, how, bound, text in TARGETS:
            value = m.get(metric)
            if value is None:
                continue
            ratio = m.get(f"{metric}_vs_{ref}") if ref else None
            if how == "max":
                ok = value <= bound
            elif ratio is None:
                continue
            else:
                ok = ratio >= bound if how == "ratio_min" else ratio <= bound
            rows.append({"target": name, "metric": metric, "value": value, "ratio": ratio, "reference": ref,
                         "goal": text, "met": ok})
    return rows


COLUMNS = [
    ("http_rps", "HTTP req/s", "{:.0f}"),
    ("http_rps_vs_direct", "× direct", "{:.2f}"),
    ("http_p50_us", "p50 µs", "{:.0f}"),
    ("http_p99_us", "p99 µs", "{:.0f}"),
    ("http_cpu_us", "CPU µs/req", "{:.0f}"),
    ("http_cpu_kernel_pct", "kernel %", "{:.0f}"),
    ("big_mbps", "big MB/s", "{:.0f}"),
    ("big_cpu_ms_per_mb", "CPU ms/MB", "{:.2f}"),
    ("ws_rtt_p50_us", "WS RTT p50 µs", "{:.0f}"),
    ("ws_rtt_p99_us", "WS RTT p99 µs", "{:.0f}"),
    ("ws_cpu_us", "CPU µs/WS RT", "{:.0f}"),
    ("ws_mbps", "WS MB/s", "{:.0f}"),
    ("ws_bulk_cpu_pct", "proxy CPU % (WS MB/s)", "{:.0f}"),
    ("ws_connect_p50_ms", "WS connect ms", "{:.2f}"),
    ("idle_ws_kib", "KiB/idle WS", "{:.1f}"),
]


def table(summary: dict[str, Any]) -> str:
    """A Markdown table: one row per path, medians over rounds."""
    head = "| path | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, m in summary.items():
        cells = [c[2].format(m[c[0]]) if c[0] in m else "–" for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


RATIO_COLUMNS = [
    ("http_rps", "req/s"), ("http_cpu_us", "CPU µs/req"), ("ws_rtt_p50_us", "WS RTT p50"),
    ("ws_mbps", "WS MB/s"), ("big_mbps", "big MB/s"), ("idle_ws_kib", "KiB/idle WS"),
    ("ws_connect_p50_ms", "WS connect"),
]


def ratio_table(summary: dict[str, Any]) -> str:
    """Each figure of each proxy and peer as ratios to floor / socks-only / node (per-round medians)."""
    head = "| path | " + " | ".join(f"{c[1]} ÷ floor / socks / node" for c in RATIO_COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(RATIO_COLUMNS) + 1)]
    for name, m in summary.items():
        if m["kind"] not in ("proxy", "floor", "node"):
            continue
        cells = []
        for metric, _ in RATIO_COLUMNS:
            parts = [f"{m[f'{metric}_vs_{ref}']:.2f}" if f"{metric}_vs_{ref}" in m else "–"
                     for ref in ("floor", "socks", "node")]
            cells.append(" / ".join(parts))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| proxy | metric | median | median per-round ratio | goal | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}× {r['reference']}" if r["ratio"] is not None else ""
        lines.append(f"| {r['target']} | {r['metric']} | {r['value']:.1f} | {ratio} | {r['goal']} | "
                     f"{'yes' if r['met'] else 'NO'} |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    commit = subprocess.run(["git", "-C", str(procs.ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(procs.ROOT), "status", "--porcelain", "--", "devproxy/runtime"],
                           capture_output=True, text=True).stdout.strip()
    return {"commit": commit + ("+uncommitted runtime changes" if dirty else ""),
            "loadavg_at_end": Path("/proc/loadavg").read_text().split()[:3], "cpu": cpu, "cores": len(__import__("os").sched_getaffinity(0)), "mem_gib": round(int(mem) / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
            if shutil.which("wrk") else ""}


def _preflight() -> None:
    missing = [t for t in ("wrk", "microsocks") if not shutil.which(t)]
    if not procs.BENCHGO.exists():
        missing.append(str(procs.BENCHGO))
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run bench/setup first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each HTTP load run")
    parser.add_argument("--ws-count", type=int, default=4000, help="64-byte round trips per round")
    parser.add_argument("--ws-messages", type=int, default=512, help="64 KiB messages per throughput run")
    parser.add_argument("--connects", type=int, default=30, help="new WebSockets per round")
    parser.add_argument("--no-uvloop-variant", action="store_true", help="skip the proxy run under uvloop")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare Python byte relay (bench/floor.py)")
    parser.add_argument("--no-node", action="store_true", help="skip the Node peer (bench/node/peer.js)")
    parser.add_argument("--paths", default="", help="comma-separated subset, e.g. proxy-go,socks-go "
                        "(direct is always measured: it is the reference)")
    parser.add_argument("--quick", action="store_true", help="2 short rounds, no memory test: for iterating")
    parser.add_argument("--source", type=Path, help="directory whose devproxy package to measure, e.g. an "
                        "export of a commit: git archive HEAD devproxy | tar -x -C DIR (default: the work tree)")
    args = parser.parse_args(argv)
    if args.source:
        if not (args.source / "devproxy" / "__init__.py").exists():
            sys.exit(f"{args.source} has no devproxy package")
        procs.SOURCE = args.source.resolve()
    if args.quick:
        args.rounds, args.seconds, args.ws_count, args.ws_messages, args.connects = 2, 1.0, 1000, 256, 10
        args.skip_memory = True
    wanted = {p.strip() for p in args.paths.split(",") if p.strip()}
    _preflight()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:  # children (the proxy, microsocks) inherit it: 1000 WS need ~2000 fds each
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    uvloop_ok = procs.UVLOOP_SITE.joinpath("uvloop").exists()
    started = time.time()
    children: list[subprocess.Popen[Any]] = []
    try:
        up, up_port = procs.start_upstream(uvloop=uvloop_ok)
        children.append(up)
        micro, micro_port = procs.start_microsocks()
        gos, go_port = procs.start_gosocks()
        children += [micro, gos]
        targets = [Target("direct", "direct", Endpoint("127.0.0.1", up_port))]
        for sname, sport in (("go", go_port), ("microsocks", micro_port)):
            targets.append(Target(f"socks-{sname}", "socks", Endpoint("127.0.0.1", up_port, ("127.0.0.1", sport)),
                                  socks_name=sname))
        variants = [("go", go_port, False), ("microsocks", micro_port, False)]
        if uvloop_ok and not args.no_uvloop_variant:
            variants.insert(1, ("go", go_port, True))
        floor_name = "floor-go" + ("-uvloop" if uvloop_ok else "")
        if not args.no_floor and (not wanted or floor_name in wanted):
            proc, port = procs.start_floor(up_port, go_port, uvloop=uvloop_ok)
            children.append(proc)
            targets.append(Target(floor_name, "floor", Endpoint("127.0.0.1", port), socks_name="go", pid=proc.pid))
        if not args.no_node and procs.node_ok() and (not wanted or "node-go" in wanted):
            proc, port = procs.start_node(up_port, go_port)
            children.append(proc)
            targets.append(Target("node-go", "node", Endpoint("127.0.0.1", port), socks_name="go", pid=proc.pid))
        elif not args.no_node and not procs.node_ok():
            print("the Node peer is not installed (bench/setup installs it): skipping it", flush=True)
        targets = [t for t in targets if t.kind == "direct" or not wanted or t.name in wanted]
        for sname, sport, uv in variants:
            name = f"proxy-{sname}" + ("-uvloop" if uv else "")
            if wanted and name not in wanted:
                continue
            proc, port = procs.start_runtime(name, up_port, sport, uvloop=uv)
            children.append(proc)
            targets.append(Target(name, "proxy", Endpoint("127.0.0.1", port), socks_name=sname, pid=proc.pid))
        print(f"upstream :{up_port} ({'uvloop' if uvloop_ok else 'asyncio'}), microsocks :{micro_port}, "
              f"Go SOCKS5 :{go_port}; {len(targets)} paths × {args.rounds} rounds", flush=True)
        for rnd in range(args.rounds):
            order = targets[rnd % len(targets):] + targets[: rnd % len(targets)]
            for t in order:
                measure_round(t, args)
                print(f"  round {rnd + 1}: {t.name} done", flush=True)
        memory: dict[str, Any] = {}
        if not args.skip_memory:
            for t in targets:
                if t.pid:
                    memory[t.name] = idle_memory(t)
                    t.add("idle_ws_kib", memory[t.name]["idle_ws_kib"])
                    print(f"  memory: {t.name} {memory[t.name]['idle_ws_kib']:.1f} KiB per idle WebSocket", flush=True)
    finally:
        for proc in reversed(children):
            procs.stop(proc)
    summary = summarise(targets)
    rows = checks(summary)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    result = {
        "when": when,
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        "settings": {**vars(args), "source": str(args.source or "work tree"), "wrk": "wrk -t1 -c8 --latency", "go_client": "8 keep-alive connections",
                     "upstream_loop": "uvloop" if uvloop_ok else "asyncio", "idle_ws": IDLE_WS},
        "summary": summary,
        "memory": memory,
        "checks": rows,
        "samples": {t.name: t.samples for t in targets},
    }
    print()
    print(table(summary))
    print()
    print(ratio_table(summary))
    print()
    print(check_table(rows))
    print(f"\n{result['seconds']} s in all")
    procs.RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, ensure_ascii=False)
    (procs.RESULTS / f"{when.replace(':', '')}.json").write_text(text + "\n")
    if not (args.quick or wanted):  # only a full run replaces the committed results
        (procs.ROOT / "bench" / "latest.json").write_text(text + "\n")
    return 0
