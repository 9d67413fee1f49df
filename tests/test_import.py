"""`import kerasx` is cheap: no TensorFlow, Keras, NumPy or matplotlib, and fast."""

from __future__ import annotations

import json

from helpers import run_python

HEAVY = ["tensorflow", "keras", "matplotlib", "numpy", "h5py", "pydot", "tqdm"]


def test_import_kerasx_loads_no_heavy_module():
    result = run_python(
        "import sys, json, kerasx, kerasx.errors, kerasx.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_import_kerasx_takes_under_50_ms():
    # Median of 5 fresh interpreters, measured inside each one around the import only.
    code = (
        "import time; t = time.perf_counter(); import kerasx; "
        "print(time.perf_counter() - t)"
    )
    samples = sorted(float(run_python(code).stdout.strip()) for _ in range(5))
    assert samples[2] < 0.050, samples


def test_version_is_defined_once_and_exposed():
    result = run_python("import kerasx; print(kerasx.__version__)")
    from kerasx._version import __version__

    assert result.stdout.strip() == __version__
    assert __version__.count(".") == 2
