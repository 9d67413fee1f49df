"""Every fast path switched off at once (`KERASX_DISABLE_FAST_PATHS=1`), as on a Keras newer
than the tested range: the io, fit and viz tests must pass through the public paths alone.

The inner run is a real pytest process over those test files, with the variable set; it
skips the slow tests, which the outer run covers with the fast paths on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from helpers import ROOT

FALLBACK_SUITES = ["tests/io", "tests/viz", "tests/training/test_fit.py"]


def test_the_variable_switches_every_registered_fast_path_off():
    code = (
        "import json, kerasx._compat as c\n"
        "print(json.dumps({k: v['active'] for k, v in c.fast_paths().items()}))"
    )
    env = {**os.environ, "KERASX_DISABLE_FAST_PATHS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    active = result.stdout.strip().splitlines()[-1]
    assert "true" not in active
    assert active != "{}"  # the io fast paths are registered


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_io_fit_and_viz_tests_pass_through_the_public_paths():
    env = {**os.environ, "KERASX_DISABLE_FAST_PATHS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider",
         *FALLBACK_SUITES],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1500,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 100, summary
    assert "failed" not in summary and "error" not in summary, summary
