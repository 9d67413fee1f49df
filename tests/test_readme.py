"""The README stays true: its quickstart runs as written, and its commands exist."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _python_block(after_heading: str) -> str:
    section = README.split(after_heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {after_heading!r}"
    return match.group(1)


@pytest.mark.slow
def test_quickstart_runs_as_written(tmp_path):
    code = _python_block("## Quickstart")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The progress bar writes one line per epoch to a pipe; evaluate prints `[loss, accuracy]`.
    scores = re.search(r"^\[([-\d.e]+), ([-\d.e]+)\]$", result.stdout, re.M)
    assert scores, result.stdout
    loss, accuracy = float(scores.group(1)), float(scores.group(2))
    assert accuracy > 0.9 and loss < 0.5
    for name in ("history.png", "digits.keras", "model.png"):
        assert (tmp_path / name).stat().st_size > 1_000
    assert (tmp_path / "runs" / "digits" / "history.csv").exists()
    assert "Total" in result.stdout


def test_the_two_commands_are_the_ones_ci_runs():
    assert "pip install . && kerasx demo" in README
    assert 'pip install -e ".[dev]" && python -m pytest' in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]"' in ci
    assert "python3 -m pytest\n" in ci


def test_every_cli_command_is_documented():
    from kerasx.cli import COMMANDS

    for name in COMMANDS:
        assert f"`kerasx {name}" in README, name
