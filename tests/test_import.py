"""`import kerasx` is cheap: no TensorFlow, Keras, NumPy or matplotlib.

How long it takes is a benchmark (benchmarks/bench_import.py), not a test: a timed assertion
fails on a slow or busy machine for no fault of kerasx."""

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


def test_version_is_defined_once_and_exposed():
    result = run_python("import kerasx; print(kerasx.__version__)")
    from kerasx._version import __version__

    assert result.stdout.strip() == __version__
    assert __version__.count(".") == 2
