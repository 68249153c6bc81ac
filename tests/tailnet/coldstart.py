"""Cold start of `devproxy runtime` on the test tailnet, per credential mode: median of N runs.

    sudo .venv/bin/python tests/tailnet/coldstart.py [--runs 5] [--modes authkey,oauth,keyless] [--json]

Sets up the test tailnet once (control server with the key-minting API, a dev box in a network namespace,
the dev server on its loopback, a fake metadata server), then for each mode starts the runtime N times
with a fresh tailscaled state and measures, from process start:
  port     $PORT bound (runtime.started)
  ts_start tailscaled started (tailscaled.started)
  login    tailscaled answers on its socket and the login starts (tailscaled.state logging-in)
  running  tailscale Running (tailscaled's own "-> Running" line as the runtime relays it)
  first    the first byte of the dev server's answer through devproxy (a GET polled every 20 ms)
and, apart, the imports: `import` of the runtime's modules minus a bare interpreter start.
The breakdown: imports; tailscaled start (login - ts_start); login (running - login: for keyless the ID
token, the exchange and the mint; for OAuth the token and the mint); first dial (first - running).
Modes take turns run by run, so a busy machine weighs on each alike. Needs root (network namespaces)
and Go (scripts/tailscale-build).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from support.socks import free_port  # noqa: E402
from tailnet.tailnet_fixtures import KEY, runtime_env  # noqa: E402
from tailnet.tailnet_identity import Identity, MetadataServer  # noqa: E402
from tailnet.tailnet_netns import Netns  # noqa: E402
from tailnet.tailnet_procs import Binaries, Control, Node, build  # noqa: E402

MODES = ("authkey", "oauth", "keyless")
DEADLINE_S = 30.0
IMPORTS = "import devproxy.cli, devproxy.cli_runtime, devproxy.runtime.server"


def credential_env(mode: str, identity: Identity, control: Control, metadata: MetadataServer) -> dict[str, str]:
    """The runtime's Tailscale credential settings for a mode (names fixed by the product's contract)."""
    if mode == "authkey":
        return {"TS_AUTHKEY": KEY}
    if mode == "oauth":
        return {"TS_AUTHKEY": identity.oauth_secret, "DEVPROXY_TAILSCALE_API_URL": control.url,
                "DEVPROXY_TAILSCALE_TAGS": identity.tags}
    return {"DEVPROXY_TAILSCALE_CLIENT_ID": identity.client_id, "DEVPROXY_TAILSCALE_AUDIENCE": identity.audience,
            "DEVPROXY_TAILSCALE_TAGS": identity.tags, "GCE_METADATA_HOST": metadata.host}


def startup_seconds(runs: int) -> tuple[float, float]:
    """Medians: a bare interpreter start, and importing the runtime's modules beyond it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}

    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
        return time.perf_counter() - started

    bare = statistics.median(once("pass") for _ in range(runs))
    return bare, statistics.median(once(IMPORTS) for _ in range(runs)) - bare


async def one_run(env: dict[str, str]) -> dict[str, float]:
    """Start the runtime once; seconds from process start to each milestone."""
    socks = f"socks5://127.0.0.1:{free_port()}"
    base = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG" and not k.startswith(("TS_", "DEVPROXY_"))}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devproxy", "runtime", "--listen", "127.0.0.1:0", "--socks", socks, "--auth", "none",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**base, **env})
    assert proc.stdout is not None
    marks: dict[str, float] = {}
    lines: list[dict[str, Any]] = []
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        assert proc.stdout is not None
        while raw := await proc.stdout.readline():
            now = time.monotonic() - started
            record = json.loads(raw)
            lines.append(record)
            event = record.get("event")
            if event == "runtime.started" and not port.done():
                marks["port"] = now
                port.set_result(int(record["port"]))
            elif event == "tailscaled.started":
                marks.setdefault("ts_start", now)
            elif event == "tailscaled.state" and record.get("state") == "logging-in":
                marks.setdefault("login", now)
            elif event == "tailscaled.line" and "-> Running" in str(record.get("message")):
                marks.setdefault("running", now)  # tailscaled's own "Switching ipn state Starting -> Running"
            elif event == "tailscale.backend_state" and record.get("backend_state") == "Running":
                marks.setdefault("running", now)

    reader = asyncio.create_task(read())
    try:
        async with asyncio.timeout(DEADLINE_S):
            url = f"http://127.0.0.1:{await port}/echo/coldstart"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                while "first" not in marks:
                    try:
                        async with session.get(url) as resp:
                            if resp.status == 200:
                                marks["first"] = time.monotonic() - started
                                await resp.read()
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.02)
            while "running" not in marks:
                await asyncio.sleep(0.02)
    except TimeoutError:
        failures = [r.get("message") for r in lines if r.get("severity") in ("ERROR", "WARNING")]
        raise RuntimeError(f"no first byte within {DEADLINE_S:g} s (got {sorted(marks)}): {failures[-3:]}") from None
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)
        await asyncio.wait_for(reader, 5)
    return marks


def breakdown(marks: dict[str, float]) -> dict[str, float]:
    return {"port": marks["port"], "running": marks["running"], "first_byte": marks["first"],
            "tailscaled_start": marks["login"] - marks["ts_start"], "login": marks["running"] - marks["login"],
            "first_dial": marks["first"] - marks["running"]}


async def measure(modes: list[str], runs: int, bins: Binaries, control: Control, identity: Identity,
                  dev_port: int, workdir: Path) -> dict[str, Any]:
    metadata = await MetadataServer(identity).start()
    results: dict[str, Any] = {}
    try:
        samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        errors: dict[str, list[str]] = {mode: [] for mode in modes}
        for n in range(runs):
            for mode in modes:
                env = runtime_env(bins, control, workdir / f"{mode}-{n}")
                env.pop("TS_AUTHKEY")
                env.update(credential_env(mode, identity, control, metadata))
                env["DEVPROXY_TARGET"] = f"http://devbox:{dev_port}"
                try:
                    samples[mode].append(breakdown(await one_run(env)))
                except RuntimeError as exc:
                    errors[mode].append(str(exc))
        for mode in modes:
            got = samples[mode]
            results[mode] = {"runs": len(got), "errors": errors[mode],
                             "median_s": {k: round(statistics.median(s[k] for s in got), 3)
                                          for k in (got[0] if got else {})}}
    finally:
        await metadata.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    if os.geteuid() != 0:
        parser.error("the test tailnet makes a network namespace: run as root")
    bins = build()
    with tempfile.TemporaryDirectory(prefix="devproxy-coldstart-") as tmp:
        workdir = Path(tmp)
        identity = Identity.create(workdir)
        netns = Netns.create()
        control = devbox = devserver = None
        try:
            control = Control.start(bins.control, netns.host_ip, require_authkey=KEY, flags=identity.control_flags())
            devbox = Node(bins, control, "devbox", workdir / "devbox", prefix=netns.exec_prefix(), key=KEY)
            devbox.start()
            devserver = subprocess.Popen(
                [*netns.exec_prefix(), sys.executable, str(Path(__file__).with_name("devserver.py"))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert devserver.stdout is not None
            dev_port = int(devserver.stdout.readline())
            interpreter, imports = startup_seconds(args.runs)
            report: dict[str, Any] = {"interpreter_s": round(interpreter, 3), "imports_s": round(imports, 3),
                      "load_average": os.getloadavg()[0],
                      "modes": asyncio.run(measure(modes, args.runs, bins, control, identity, dev_port, workdir))}
        finally:
            if devserver is not None:
                assert devserver.stdin is not None
                devserver.stdin.close()
                devserver.wait(10)
            if devbox is not None:
                devbox.stop()
            if control is not None:
                control.stop()
            netns.destroy()
    if args.json:
        print(json.dumps(report))
        return
    print(f"interpreter start {report['interpreter_s']:.3f} s; imports of the runtime's modules beyond it "
          f"{report['imports_s']:.3f} s (load average {report['load_average']:.1f})")
    for mode, result in report["modes"].items():
        m = result["median_s"]
        if m:
            print(f"{mode:8} median of {result['runs']}: $PORT {m['port']:.3f} s, Running {m['running']:.3f} s, "
                  f"first byte {m['first_byte']:.3f} s (tailscaled start {m['tailscaled_start']:.3f}, "
                  f"login {m['login']:.3f}, first dial {m['first_dial']:.3f})")
        for error in result["errors"]:
            print(f"{mode:8} failed: {error}")


if __name__ == "__main__":
    main()
