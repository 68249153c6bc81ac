"""The runtime's event names live in devproxy.events, and diagnosis knows every one of them."""

from __future__ import annotations

import ast
from pathlib import Path

import devproxy
from devproxy import events
from devproxy.logs.catalog import CATALOG

PACKAGE = Path(devproxy.__file__).parent
LOG_METHODS = {"debug": 0, "info": 0, "warning": 0, "error": 0, "emit": 1}  # position of the event name


def _literal_event_names() -> list[str]:
    """Places in the runtime (and the error tree) that name an event with a string instead of a constant."""
    found = []
    for path in [*sorted((PACKAGE / "runtime").glob("*.py")), PACKAGE / "errors.py"]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS:
                position = LOG_METHODS[node.func.attr]
                if len(node.args) > position:
                    arg = node.args[position]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.append(f"{path.name}:{node.lineno}: {arg.value}")
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "event" for t in targets):
                    if isinstance(node.value, ast.Constant):
                        found.append(f"{path.name}:{node.lineno}: {node.value.value}")
    return found


def test_the_runtime_names_events_only_through_devproxy_events() -> None:
    """No log call or error class in the runtime spells an event name itself (so none escapes the list)."""
    assert _literal_event_names() == []


def test_every_runtime_event_is_known_to_diagnosis() -> None:
    """Each event the runtime can emit is owned by a catalog signature or listed as benign."""
    owned = {event for sig in CATALOG for event in sig.events}
    unknown = sorted(events.ALL - owned - events.BENIGN)
    assert unknown == []


def test_the_catalog_names_only_events_the_runtime_emits() -> None:
    """A signature keyed on an event name the runtime never writes could never fire."""
    owned = {event for sig in CATALOG for event in sig.events}
    assert sorted(owned - events.ALL) == []
    assert events.BENIGN <= events.ALL
