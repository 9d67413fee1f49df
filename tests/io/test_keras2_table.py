"""The Keras 2 -> Keras 3 translation table, checked against every Keras 2.15 layer's config.

tests/io/fixtures/legacy/keras2_layer_configs.json lists the `get_config()` keys of every
`tf.keras.layers` class of TensorFlow 2.15 (written by list_keras2_layer_configs.py). Every key
that the Keras 3 class of that name does not take must have a row in
`kerasx.io._keras2_table`, and every row is exercised here.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path

import keras
import pytest

import kerasx.io
from kerasx.errors import SerializationError
from kerasx.io._keras2_table import ANY, CLASS_ROWS, KEY_ROWS, key_rows_for
from kerasx.io._keras2_translate import translate_keras2_config

INVENTORY = Path(__file__).resolve().parent / "fixtures" / "legacy" / "keras2_layer_configs.json"
_BASE_KEYS = {"activity_regularizer", "trainable", "dtype", "autocast", "name", "input_shape"}


def _keras3_arguments(cls: type) -> set[str]:
    """The keyword arguments a Keras 3 layer's constructor chain takes by name."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__:
            continue
        parameters = inspect.signature(klass.__dict__["__init__"]).parameters
        names |= {
            name
            for name, p in parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        if klass is keras.layers.Layer or not any(
            p.kind == p.VAR_KEYWORD for p in parameters.values()
        ):
            break
    return names | _BASE_KEYS | {"input_dim"}


def _inventory() -> dict[str, dict]:
    return json.loads(INVENTORY.read_text())["layers"]


def test_inventory_was_written_by_keras_2_15():
    data = json.loads(INVENTORY.read_text())
    assert data["tensorflow"].startswith("2.15") and data["keras"].startswith("2.15")
    assert len(data["layers"]) > 100


def test_every_keras2_key_keras3_refuses_has_a_row():
    class_rows = {row.class_name for row in CLASS_ROWS}
    missing = []
    for name, entry in _inventory().items():
        cls = getattr(keras.layers, name, None)
        if cls is None or name in class_rows:
            assert name in class_rows, f"Keras 3 has no {name}: it needs a class row"
            continue
        rows = {row.key for row in key_rows_for(name)} | {"batch_input_shape"}
        refused = set(entry.get("keys", [])) - _keras3_arguments(cls) - rows
        if name == "Lambda":
            continue  # refused by the safety scan as a whole
        missing += [f"{name}.{key}" for key in sorted(refused)]
    assert not missing, f"keys Keras 3 does not take and the table does not cover: {missing}"


@pytest.mark.parametrize("row", [r for r in KEY_ROWS if r.action == "keras3"], ids=str)
def test_keys_keras3_reads_itself_are_accepted(row):
    cls = getattr(keras.layers, row.class_name)
    required = {
        "LSTM": {"units": 2}, "GRU": {"units": 2}, "LSTMCell": {"units": 2},
        "GRUCell": {"units": 2}, "Embedding": {"input_dim": 3, "output_dim": 2},
    }.get(row.class_name, {})
    if row.key == "batch_input_shape":  # InputLayer: Keras 3 reads it as `batch_shape`
        assert cls.from_config({"batch_input_shape": [None, 3], "name": "i"}).batch_shape == (
            None, 3)
        return
    value = {"implementation": 2}.get(row.key)
    assert isinstance(cls(**required, **{row.key: value}), keras.layers.Layer)


def _model_with(layer: dict) -> dict:
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [layer]}}


_REQUIRED = {
    "LSTM": {"units": 2}, "GRU": {"units": 2}, "SimpleRNN": {"units": 2},
    "ConvLSTM1D": {"filters": 2, "kernel_size": 1}, "ConvLSTM2D": {"filters": 2, "kernel_size": 1},
    "ConvLSTM3D": {"filters": 2, "kernel_size": 1},
    "RNN": {"cell": {"class_name": "LSTMCell", "config": {"units": 2}}},
    "MultiHeadAttention": {"num_heads": 1, "key_dim": 2},
    "SpatialDropout1D": {"rate": 0.1}, "SpatialDropout2D": {"rate": 0.1},
    "SpatialDropout3D": {"rate": 0.1},
    "DepthwiseConv1D": {"kernel_size": 1}, "DepthwiseConv2D": {"kernel_size": 1},
}


@pytest.mark.parametrize("layer", ["Embedding", "Dense", "LSTM"])
def test_batch_input_shape_becomes_the_sequential_input_shape(layer):
    config = {
        "Embedding": {"input_dim": 5, "output_dim": 2, "batch_input_shape": [None, 3]},
        "Dense": {"units": 2, "batch_input_shape": [None, 3]},
        "LSTM": {"units": 2, "batch_input_shape": [None, 4, 3]},
    }[layer]
    text = json.dumps({"class_name": "Sequential", "keras_version": "2.15.0", "config": {
        "name": "m", "layers": [{"class_name": layer, "config": config}]}})
    model = kerasx.io.from_json(text)
    assert model.input_shape == tuple(config["batch_input_shape"])


_DIRECT = [r for r in KEY_ROWS if r.action in ("drop", "rename")]


@pytest.mark.parametrize("row", _DIRECT, ids=str)
def test_each_drop_or_rename_row(row):
    value = row.expected if row.expected != ANY else {"class_name": "Zeros", "config": {}}
    if row.expected == ANY and row.key.endswith("_shape"):
        value = [None, 2]
    config = {"name": "layer", **_REQUIRED.get(row.class_name, {"filters": 2, "kernel_size": 1}),
              row.key: value}
    if row.class_name == "LeakyReLU":
        config = {"name": "layer", "alpha": 0.2}
    translated, _ = translate_keras2_config(_model_with({"class_name": row.class_name,
                                                        "config": config}))
    layer = translated["config"]["layers"][0]["config"]
    assert row.key not in layer
    if row.class_name != "RNN":  # (its cell is deserialised by the legacy reader)
        assert getattr(keras.layers, row.class_name).from_config(dict(layer)).name == "layer"
    if row.action == "rename":
        assert layer[row.new_key] == 0.2
        assert keras.layers.LeakyReLU(**layer).negative_slope == pytest.approx(0.2)
    elif row.expected != ANY:
        config[row.key] = "something else"
        with pytest.raises(SerializationError, match=row.key):
            translate_keras2_config(_model_with({"class_name": row.class_name, "config": config}))


def test_thresholded_relu_becomes_relu_with_the_same_threshold():
    model = _model_with({"class_name": "ThresholdedReLU", "config": {"name": "t", "theta": 0.5}})
    layer = translate_keras2_config(model)[0]["config"]["layers"][0]
    assert layer == {"class_name": "ReLU", "config": {"name": "t", "threshold": 0.5}}
    relu = keras.layers.ReLU(**layer["config"])
    assert keras.ops.convert_to_numpy(relu(keras.ops.convert_to_tensor([0.4, 0.6]))).tolist() == [
        0.0, pytest.approx(0.6)]


@pytest.mark.parametrize("row", [r for r in CLASS_ROWS if r.new_class is None], ids=str)
def test_layers_keras3_lacks_are_refused_by_name(row):
    model = _model_with({"class_name": row.class_name, "config": {"name": "gone"}})
    with pytest.raises(SerializationError, match=row.class_name):
        translate_keras2_config(model)


def test_tensorflow_initializers_become_keras_initializers():
    bias = {"module": "tensorflow.python.ops.init_ops_v2", "class_name": "Constant",
            "config": {"value": 0}, "registered_name": "Constant"}
    model = _model_with({"class_name": "Dense",
                         "config": {"name": "d", "units": 2, "bias_initializer": bias}})
    layer = translate_keras2_config(model)[0]["config"]["layers"][0]["config"]
    assert layer["bias_initializer"]["module"] == "keras.initializers"
    assert layer["bias_initializer"]["class_name"] == "Constant"


def test_nested_layers_get_keras3_module_and_rows_applied():
    lstm = {"class_name": "LSTM", "config": {"name": "l", "units": 2, "time_major": False}}
    model = _model_with({"class_name": "Bidirectional", "config": {"name": "b", "layer": lstm}})
    inner = translate_keras2_config(model)[0]["config"]["layers"][0]["config"]["layer"]
    assert inner["module"] == "keras.layers" and "time_major" not in inner["config"]


def test_slash_names_are_renamed_without_collisions_and_logged(caplog):
    layers = [
        {"class_name": "InputLayer", "config": {"name": "a/b"}, "name": "a/b",
         "inbound_nodes": []},
        {"class_name": "Dense", "config": {"name": "a_b", "units": 1}, "name": "a_b",
         "inbound_nodes": [[["a/b", 0, 0, {}]]]},
    ]
    model = {"class_name": "Functional", "config": {
        "name": "m", "layers": layers, "input_layers": [["a/b", 0, 0]],
        "output_layers": [["a_b", 0, 0]]}}
    with caplog.at_level(logging.WARNING, logger="kerasx.io"):
        translated, renames = translate_keras2_config(model)
    assert renames == {"a/b": "a_b_2"}
    assert translated["config"]["input_layers"] == [["a_b_2", 0, 0]]
    assert translated["config"]["layers"][1]["inbound_nodes"] == [[["a_b_2", 0, 0, {}]]]
    assert "'a/b' -> 'a_b_2'" in caplog.text
    assert model["config"]["layers"][0]["name"] == "a/b"  # the input is left as it was
