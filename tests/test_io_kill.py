"""A writer SIGKILLed at varied moments never leaves a broken or half-written model behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import kerasx.io

WRITER = r"""
import sys, keras, numpy as np
import kerasx.io
path = sys.argv[1]
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(2048, name="big"),
                          keras.layers.Dense(1, name="marker")])
version = 0
print("ready", flush=True)
while True:
    version += 1
    # every weight of the marker layer holds the version number: a mix of two versions shows
    model.get_layer("marker").set_weights([np.full((2048, 1), version, "float32"),
                                           np.full((1,), version, "float32")])
    kerasx.io.save(model, path)
    print(version, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_kill_during_save_leaves_a_complete_version(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    delays = [0.05, 0.13, 0.21, 0.34, 0.55, 0.8]
    seen_versions: set[float] = set()
    for delay in delays:
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        if not path.exists():
            process.stdout.readline()  # the first complete save
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()

        model = kerasx.io.load(path, compile=False)
        kernel, bias = model.get_layer("marker").get_weights()
        version = float(bias[0])
        assert version >= 1
        np.testing.assert_array_equal(kernel, np.full_like(kernel, version))
        seen_versions.add(version)
    # a later successful save removes temporaries left by the killed writers
    kerasx.io.save(model, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert len(seen_versions) >= 2
