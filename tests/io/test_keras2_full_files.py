"""Trained Keras 2 application models (`.h5`, optimizer state included) load, predict, evaluate
and convert exactly as Keras 2 had them.

tests/io/fixtures/legacy/applications/ holds files written by make_keras2_full_files.py under
TensorFlow 2.15, each trained two Adam steps, with predictions, `evaluate` loss and iteration
count recorded in full_files.json:

- `mobilenet_v2_035.h5`: MobileNetV2 (alpha 0.35, 121 layer names with `/`);
- `mobilenet_v3_small.h5`: MobileNetV3Small (alpha 0.75, hard-swish as `TFOpLambda` layers);
- `efficientnet_b0.h5.xz`: Keras 2 transfer learning, a frozen EfficientNetB0 base nested as
  one layer under a Dense head (so only the head has optimizer slots), with quantized base
  weights; LZMA-compressed, decompressed into a temporary folder by `_h5`.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasx.errors
import kerasx.io
import kerasx.models

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy" / "applications"
RECORD = json.loads((FIXTURES / "full_files.json").read_text())["models"]
NAMES = sorted(RECORD)

pytestmark = pytest.mark.slow


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.load(FIXTURES / f"{name}_{part}.npy") for part in ("input", "target",
                                                                        "expected"))


def _h5(name: str, folder: Path) -> Path:
    """The fixture's `.h5` file; a compressed one (`NAME.h5.xz`) is decompressed into `folder`."""
    packed = FIXTURES / f"{name}.h5.xz"
    if not packed.exists():
        return FIXTURES / f"{name}.h5"
    path = folder / f"{name}.h5"
    path.write_bytes(lzma.decompress(packed.read_bytes()))
    return path


def test_full_files_stay_small():
    total = sum(path.stat().st_size for path in FIXTURES.parent.parent.rglob("*") if
                path.is_file())
    assert total < 20 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_full_file_loads_predicts_and_evaluates_as_keras_2(tmp_path, name):
    x, y, expected = _data(name)
    model = kerasx.models.load_model(_h5(name, tmp_path))
    assert model.count_params() == RECORD[name]["params"]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(RECORD[name]["loss"], abs=1e-4)
    assert int(model.optimizer.iterations) == RECORD[name]["iterations"]


@pytest.mark.parametrize("name", NAMES)
def test_full_file_converts_to_a_keras_file_plain_keras_loads_safely(tmp_path, name):
    x, _y, expected = _data(name)
    target = kerasx.io.convert(_h5(name, tmp_path), tmp_path / f"{name}.keras")
    model = keras.models.load_model(target, safe_mode=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    assert int(model.optimizer.iterations) == RECORD[name]["iterations"]


def test_frozen_nested_base_stays_frozen_and_only_the_head_has_optimizer_slots(tmp_path):
    model = kerasx.models.load_model(_h5("efficientnet_b0", tmp_path))
    assert not model.get_layer("efficientnetb0").trainable
    assert [weight.path for weight in model.trainable_weights] == ["head/kernel", "head/bias"]
    slots = [variable for variable in model.optimizer.variables if len(variable.shape)]
    assert [tuple(slot.shape) for slot in slots] == [(1280, 3), (1280, 3), (3,), (3,)]
    assert all(np.any(keras.ops.convert_to_numpy(slot)) for slot in slots)  # restored, not new
