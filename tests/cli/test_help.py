"""`--help` of every command describes every option with defaults in one style; shell completion is on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.deploy.clirun import devproxy

_OPTION = re.compile(r"^  (-\S+(?:, -\S+)*(?: <\w+>)?)(?:\s{2,}(.*))?$")


def _commands(cwd: Path) -> list[str]:
    ran = devproxy(["--help"], cwd=cwd)
    assert ran.code == 0, ran.err
    block = ran.out.split("Commands:\n", 1)[1]
    return [line.split()[0] for line in block.splitlines() if line.startswith("  ") and line.split()]


def _options(help_text: str) -> dict[str, str]:
    """Option spec -> its whole description (wrapped lines joined)."""
    found: dict[str, str] = {}
    last = ""
    for line in help_text.split("Options:\n", 1)[1].splitlines():
        match = _OPTION.match(line)
        if match:
            last = match.group(1)
            found[last] = match.group(2) or ""
        elif line.startswith("   ") and last:
            found[last] = (found[last] + " " + line.strip()).strip()
        elif not line.strip():
            last = ""
    return found


def test_every_option_of_every_command_is_described_with_defaults_in_one_style(tmp_path: Path) -> None:
    """Every option of every command is described; defaults read `[default: X]` (or click's `[env var: E; default: X]`)."""
    commands = _commands(tmp_path)
    assert {"runtime", "deploy", "init", "status", "logs"} <= set(commands)
    for command in ["", *commands]:
        ran = devproxy([command, "--help"] if command else ["--help"], cwd=tmp_path)
        assert ran.code == 0, ran.err
        options = _options(ran.out)
        assert "--help" in options, ran.out
        for spec, text in options.items():
            assert text, f"devproxy {command} {spec} has no description"
            plain = text.replace("[default: ", "").replace("; default: ", "")
            assert "default" not in plain, f"devproxy {command} {spec}: {text}"
            assert "  [default" not in text and not re.search(r"[^ ]\[default", text), f"{command} {spec}: {text}"


def test_show_completion_prints_a_script_for_the_shell(tmp_path: Path) -> None:
    """`--show-completion bash` prints the bash completion script that calls devproxy back."""
    ran = devproxy(["--show-completion", "bash"], cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert "_DEVPROXY_COMPLETE=complete_bash" in ran.out
    assert "complete -o default -F _devproxy_completion devproxy" in ran.out


def test_completion_completes_commands_and_options(tmp_path: Path) -> None:
    """The shell's completion request gets `deploy` for `dep` and `--follow` for `logs --fo`."""
    ran = devproxy([], cwd=tmp_path, env={"_DEVPROXY_COMPLETE": "complete_bash", "COMP_WORDS": "devproxy dep",
                                          "COMP_CWORD": "1"})
    assert (ran.code, ran.out.split()) == (0, ["deploy"])
    ran = devproxy([], cwd=tmp_path, env={"_DEVPROXY_COMPLETE": "complete_bash", "COMP_WORDS": "devproxy logs --fo",
                                          "COMP_CWORD": "2"})
    assert (ran.code, ran.out.split()) == (0, ["--follow"])


def test_install_completion_writes_the_script_and_sources_it(tmp_path: Path) -> None:
    """`--install-completion bash` writes the script under HOME and sources it from .bashrc; a real bash completes."""
    ran = devproxy(["--install-completion", "bash"], cwd=tmp_path)
    assert ran.code == 0, ran.err
    script = tmp_path / ".bash_completions" / "devproxy.sh"
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    assert "_DEVPROXY_COMPLETE=complete_bash" in script.read_text()
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    bash = subprocess.run(
        ["bash", "-c", f"source '{script}'; COMP_WORDS=(devproxy des); COMP_CWORD=1; _devproxy_completion devproxy; "
                       'echo "${COMPREPLY[@]}"'],
        env={**os.environ, "PATH": path, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=60,
        check=False)
    assert bash.stdout.split() == ["destroy"], bash.stderr
