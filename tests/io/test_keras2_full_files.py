"""Trained Keras 2 application models (`.h5`, optimizer state included) load, predict, evaluate
and convert exactly as Keras 2 had them.

tests/io/fixtures/legacy/applications/{mobilenet_v2_035,mobilenet_v3_small}.h5 were written by
make_keras2_full_files.py under TensorFlow 2.15: MobileNetV2 (alpha 0.35, 121 layer names with
`/`) and MobileNetV3Small (alpha 0.75, hard-swish as `TFOpLambda` layers) trained two Adam
steps; their predictions, `evaluate` loss and iteration count are recorded in full_files.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasx.io
import kerasx.models

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy" / "applications"
RECORD = json.loads((FIXTURES / "full_files.json").read_text())["models"]
NAMES = sorted(RECORD)

pytestmark = pytest.mark.slow


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.load(FIXTURES / f"{name}_{part}.npy") for part in ("input", "target",
                                                                        "expected"))


def test_full_files_stay_small():
    total = sum(path.stat().st_size for path in FIXTURES.parent.parent.rglob("*") if
                path.is_file())
    assert total < 20 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_full_file_loads_predicts_and_evaluates_as_keras_2(name):
    x, y, expected = _data(name)
    model = kerasx.models.load_model(FIXTURES / f"{name}.h5")
    assert model.count_params() == RECORD[name]["params"]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(RECORD[name]["loss"], abs=1e-4)
    assert int(model.optimizer.iterations) == RECORD[name]["iterations"]


@pytest.mark.parametrize("name", NAMES)
def test_full_file_converts_to_a_keras_file_plain_keras_loads_safely(tmp_path, name):
    x, _y, expected = _data(name)
    target = kerasx.io.convert(FIXTURES / f"{name}.h5", tmp_path / f"{name}.keras")
    model = keras.models.load_model(target, safe_mode=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    assert int(model.optimizer.iterations) == RECORD[name]["iterations"]
