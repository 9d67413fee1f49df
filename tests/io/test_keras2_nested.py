"""A trained Keras 2 model with nested layers and `/` in layer names, through every path.

tests/io/fixtures/legacy/nested.h5 (written by make_keras2_ops.py under TensorFlow 2.15):
a masked Embedding, Bidirectional(LSTM) named `bi/lstm`, TimeDistributed(Dense), an RNN over
StackedRNNCells(GRUCell, LSTMCell), a Sequential sub-model with `inner/dense`, trained one step
with Adam.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasx.io
import kerasx.models

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy"
RENAMES = {"bi/lstm": "bi_lstm", "out/dense": "out_dense", "inner/dense": "inner_dense"}

pytestmark = pytest.mark.slow


def _predictions(model) -> np.ndarray:
    return model.predict(np.load(FIXTURES / "nested_input.npy"), verbose=0)


def test_full_h5_predicts_as_keras_2_and_restores_the_optimizer(caplog):
    with caplog.at_level(logging.WARNING, logger="kerasx.io"):
        model = kerasx.io.load(FIXTURES / "nested.h5")
    np.testing.assert_allclose(_predictions(model), np.load(FIXTURES / "nested_expected.npy"),
                               atol=1e-5)
    assert int(model.optimizer.iterations) == 1
    for old, new in RENAMES.items():
        assert f"'{old}' -> '{new}'" in caplog.text
    assert model.get_layer("bi_lstm").__class__ is keras.layers.Bidirectional
    assert model.get_layer("inner").get_layer("inner_dense").__class__ is keras.layers.Dense


def test_json_rebuilds_nested_layers_without_a_module():
    model = kerasx.models.model_from_json((FIXTURES / "nested.json").read_text())
    reference = kerasx.io.load(FIXTURES / "nested.h5", compile=False)
    assert model.count_params() == reference.count_params()
    assert [layer.name for layer in model.layers] == [layer.name for layer in reference.layers]


def test_convert_gives_a_keras_file_plain_keras_loads_safely(tmp_path):
    target = kerasx.io.convert(FIXTURES / "nested.h5", tmp_path / "nested.keras")
    model = keras.models.load_model(target, safe_mode=True)
    np.testing.assert_allclose(_predictions(model), np.load(FIXTURES / "nested_expected.npy"),
                               atol=1e-5)
    assert int(model.optimizer.iterations) == 1
