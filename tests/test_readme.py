"""The README cannot rot.

- Every ```python block runs (in a fresh process, in a temporary folder), unless an HTML comment right above it says
  why not and names the test that covers the same code instead: `<!-- not run: <reason>; covered by tests/x.py -->`.
- Every command of every ```bash block that calls one of our scripts uses only flags that script accepts (checked
  against its `--help`). The scripts themselves run with tiny settings in their own tests (named in `SCRIPT_TESTS`).
"""

import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCK = re.compile(r"(?:<!--(?P<note>[^>]*)-->\s*\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
BLOCKS = [(m.group("lang"), m.group("body"), (m.group("note") or "").strip(), README[: m.start()].count("\n") + 1)
          for m in BLOCK.finditer(README)]


def python_blocks():
    return [pytest.param(body, note, id=f"line{line}") for lang, body, note, line in BLOCKS if lang == "python"]


@pytest.mark.parametrize("body, note", python_blocks())
def test_python_block_runs(body, note, tmp_path):
    if note.startswith("not run"):
        covered = re.findall(r"tests/[\w/]+\.py", note)
        assert covered, f"a skipped README block must name the test that covers it: {note!r}"
        for path in covered:
            assert (REPO / path).exists(), f"{path} named in the README does not exist"
        pytest.skip(note)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, f"README block failed:\n{body}\n{result.stderr[-3000:]}"


def script_commands():
    commands = []
    for lang, body, _, line in BLOCKS:
        if lang not in ("bash", "sh", "shell"):
            continue
        for command in re.sub(r"\\\n\s*", " ", body).splitlines():
            command = command.split(" #", 1)[0].strip()
            if "scripts/" in command:
                commands.append(pytest.param(command, id=f"line{line}:{command[:40]}"))
    return commands


HELP_ALL = """
import contextlib, io, runpy, sys
for script in sys.argv[1:]:
    out = io.StringIO()
    sys.argv = [script, "--help"]
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit:
            pass
    print("=== " + script)
    print(out.getvalue())
"""


@cache
def all_script_help() -> dict[str, str]:
    """`--help` of every script, collected in ONE fresh process (each start imports torch and transformers)."""
    scripts = sorted(str(p.relative_to(REPO)) for p in (REPO / "scripts").glob("*.py"))
    result = subprocess.run([sys.executable, "-c", HELP_ALL, *scripts], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    sections = re.split(r"^=== (scripts/\S+)$", result.stdout, flags=re.M)
    return dict(zip(sections[1::2], sections[2::2]))


def script_help(script: str) -> str:
    help_text = all_script_help().get(script, "")
    assert "usage" in help_text.lower(), f"{script} --help printed no usage"
    return help_text


@pytest.mark.parametrize("command", script_commands())
def test_script_command_flags_exist(command):
    for part in command.split("&&"):
        words = shlex.split(part)
        scripts = [w for w in words if w.startswith("scripts/") and w.endswith(".py")]
        if not scripts:
            continue
        script = scripts[0]
        assert (REPO / script).exists(), f"README runs {script}, which does not exist"
        help_text = script_help(script)
        for flag in (w.split("=", 1)[0] for w in words[words.index(script) + 1 :] if w.startswith("--")):
            assert re.search(rf"{re.escape(flag)}\b", help_text), f"{script} has no flag {flag} (README: {command})"


def test_readme_has_the_two_commands():
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert test_command in README, "the README's test command must be exactly what .ci/run runs"
    assert "python scripts/quickstart.py" in README
