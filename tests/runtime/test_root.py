"""The composition root builds the whole runtime once, frozen, and the runtime's modules import without cycles."""

from __future__ import annotations

import ast
import dataclasses
import io
from pathlib import Path

import pytest

import devproxy.runtime
from devproxy.runtime.config import build_config
from devproxy.runtime.log import EventLog
from devproxy.runtime.root import create_runtime

RUNTIME = Path(devproxy.runtime.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Each runtime module and the runtime modules it imports (TYPE_CHECKING blocks included)."""
    graph: dict[str, set[str]] = {}
    for path in RUNTIME.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("devproxy.runtime."):
                    deps.add(node.module.rsplit(".", 1)[1])
                elif node.module == "devproxy.runtime":
                    deps.update(alias.name for alias in node.names)
        graph[path.stem] = deps
    return graph


def test_runtime_modules_import_without_cycles() -> None:
    """No import cycle among the runtime's modules, not even one hidden behind TYPE_CHECKING."""
    graph = _imports()
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        assert state.get(name) != 1, " -> ".join((*path, name))
        state[name] = 1
        for dep in sorted(graph.get(name, ())):
            visit(dep, (*path, name))
        state[name] = 2

    for module in sorted(graph):
        visit(module, ())


async def test_the_root_builds_every_part_frozen_and_complete() -> None:
    """Every part is built (none left to fill in later) and no part can be swapped afterwards."""
    env = {"DEVPROXY_ACCESS_TOKEN": "r" * 32}
    config = build_config(env, target="http://127.0.0.1:9", socks="none", listen="127.0.0.1:0",
                          no_tailscale=True, auth="token")
    runtime = create_runtime(config, EventLog(io.StringIO()))
    try:
        unset = [f.name for f in dataclasses.fields(runtime) if getattr(runtime, f.name) is None and f.name != "supervisor"]
        assert unset == []
        assert runtime.forwarder.headers.cookie_name == runtime.access.cookie_name == "devproxy_session"
        assert runtime.forwarder.pool is not None and len(runtime.bridges) == 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            runtime.forwarder = runtime.forwarder  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            runtime.forwarder.headers.cookie_name = None  # type: ignore[misc]
    finally:
        runtime.forwarder.close()
