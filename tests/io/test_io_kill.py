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
paths = sys.argv[1:]
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(2048, name="big"),
                          keras.layers.Dense(1, name="marker")])
version = 0
print("ready", flush=True)
while True:
    version += 1
    # every weight of the marker layer holds the version number: a mix of two versions shows
    model.get_layer("marker").set_weights([np.full((2048, 1), version, "float32"),
                                           np.full((1,), version, "float32")])
    for path in paths:  # alternate formats, so a kill can land in either writer
        kerasx.io.save(model, path)
    print(version, flush=True)
"""


@pytest.mark.slow
def test_kill_during_save_leaves_a_complete_version(tmp_path):
    paths = [tmp_path / "model.keras", tmp_path / "model.h5"]
    delays = [0.05, 0.17, 0.31, 0.52, 0.8]
    seen_versions: set[float] = set()
    model = None
    for finished, delay in enumerate(delays):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, *map(str, paths)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        # Wait for `finished` + 1 complete saves (the first one of both files included), so the
        # kills land at different versions however fast saving is on this machine.
        for _ in range(finished + 1):
            process.stdout.readline()
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()

        for path in paths:
            model = kerasx.io.load(path, compile=False)
            kernel, bias = model.get_layer("marker").get_weights()
            version = float(bias[0])
            assert version >= finished + 1
            np.testing.assert_array_equal(kernel, np.full_like(kernel, version))
            seen_versions.add(version)
    # a later successful save removes temporaries left by the killed writers
    for path in paths:
        kerasx.io.save(model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5", "model.keras"]
    assert len(seen_versions) >= 2
