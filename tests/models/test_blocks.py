"""kerasx.layers.dense_block / conv_block / residual_block."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasx import layers
from kerasx.errors import ConfigurationError

from helpers import ROOT, run_python


def test_dense_block_functional_and_sequential():
    x = keras.Input((16,))
    block = layers.dense_block(8, batch_norm=True, dropout=0.1, name="features")
    y = block(x)
    assert y.shape == (None, 8)
    assert isinstance(block, keras.Sequential)
    assert [layer.name for layer in block.layers] == ["dense", "bn", "act", "dropout"]
    assert block.count_params() == 16 * 8 + 4 * 8
    model = keras.Sequential([keras.Input((16,)), layers.dense_block(8), layers.dense_block(4)])
    assert model.output_shape == (None, 4)
    assert model.count_params() == (16 * 8 + 8) + (8 * 4 + 4)


def test_blocks_get_unique_default_names():
    first, second = layers.dense_block(2), layers.dense_block(2)
    assert first.name != second.name
    assert first.name.startswith("dense_block_")


def test_conv_block_shapes():
    x = keras.Input((8, 8, 3))
    assert layers.conv_block(4)(x).shape == (None, 4, 4, 4)
    assert layers.conv_block(4, pool_size=None)(x).shape == (None, 8, 8, 4)
    block = layers.conv_block(4, batch_norm=True, dropout=0.2)
    block(x)
    assert [layer.name for layer in block.layers] == ["conv", "bn", "act", "pool", "dropout"]


def test_residual_block_identity_and_projection_shortcuts():
    same = layers.residual_block(8)
    same(keras.Input((6, 6, 8)))
    assert same.shortcut is None
    assert same.count_params() == 2 * (3 * 3 * 8 * 8 + 8)
    projected = layers.residual_block(8, kernel_size=1)
    assert projected(keras.Input((6, 6, 3))).shape == (None, 6, 6, 8)
    assert projected.count_params() == (3 * 8 + 8) + (8 * 8 + 8) + (3 * 8 + 8)


def test_residual_block_adds_its_input():
    block = layers.residual_block(2, kernel_size=1)
    x = np.ones((1, 2, 2, 2), "float32")
    block(x)
    for conv in (block.conv_1, block.conv_2):
        conv.kernel.assign(np.zeros_like(conv.kernel))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), x)  # relu(x + 0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: layers.dense_block(0), r"`units` must be a positive integer"),
        (lambda: layers.dense_block(4, dropout=1.5), r"`dropout` must be a rate"),
        (lambda: layers.conv_block(-1), r"`filters` must be a positive integer"),
        (lambda: layers.residual_block(2.5), r"`filters` must be a positive integer"),
        (lambda: layers.dense_block(4, name=""), r"`name` must be a non-empty string"),
        (lambda: layers.residual_block(4)(keras.Input((4,))), r"expects image feature maps"),
    ],
)
def test_block_errors(call, match):
    with pytest.raises(ConfigurationError, match=match):
        call()


def _model_with_every_block():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.conv_block(4, batch_norm=True),
            layers.residual_block(4),
            layers.residual_block(6),
            keras.layers.Flatten(),
            layers.dense_block(8, dropout=0.1),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def test_blocks_survive_keras_save_and_load(tmp_path):
    model = _model_with_every_block()
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    expected = model.predict(x, verbose=0)
    path = tmp_path / "blocks.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects: ResidualBlock is registered
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    assert type(loaded.layers[1]).__name__ == "ResidualBlock"


def test_blocks_load_safely_in_a_fresh_process_through_kerasx_io(tmp_path):
    path = tmp_path / "blocks.keras"
    _model_with_every_block().save(path)
    # Nothing imports kerasx.layers._blocks here: kerasx.io.load registers kerasx's layers itself,
    # and kerasx.io.inspect (which imports no Keras) does not call them unsafe.
    code = (
        "import sys, kerasx.io\n"
        "assert kerasx.io.inspect(sys.argv[1])['unsafe'] == []\n"
        "model = kerasx.io.load(sys.argv[1])\n"
        "print(model.count_params())\n"
    )
    result = run_python(code, str(path), cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) == _model_with_every_block().count_params()


def test_blocks_survive_kerasx_io_save_and_load(tmp_path):
    from kerasx import io

    model = _model_with_every_block()
    path = tmp_path / "blocks.keras"
    io.save(model, path)
    loaded = io.load(path)  # safe mode: the registered kerasx>ResidualBlock is allowed
    assert loaded.count_params() == model.count_params()
