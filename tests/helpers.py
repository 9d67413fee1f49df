"""Helpers shared by the tests (import as `from helpers import ...`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(
    code: str, *args: str, timeout: float = 120, **kwargs
) -> subprocess.CompletedProcess:
    """Run `python -c code` in a fresh interpreter and return the completed process."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def run_cli(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m kerasx ARGS...` in a fresh interpreter and return the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "kerasx", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def slow_tests_selected(request) -> bool:
    """Whether the session will run any `slow` test of the requesting test module."""
    return any(
        item.module is request.module and item.get_closest_marker("slow") is not None
        for item in request.session.items
    )
