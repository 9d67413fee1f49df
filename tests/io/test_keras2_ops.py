"""Keras 2 `TFOpLambda` layers: allow-listed ops are rebuilt from a table, all others refused.

tests/io/fixtures/legacy/tf_ops.json is a TensorFlow 2.15 model calling every allow-listed op
shape (written by make_keras2_ops.py), with its weights and predictions.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

import kerasx.io
from kerasx.errors import SerializationError, UnsafeModelError
from kerasx.io._keras2_ops import tf_op_problem, translate_tf_op
from kerasx.io._keras2_table import TF_OPS
from kerasx.io._scan import scan_config

from helpers import run_python

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy"


def _config() -> dict:
    return json.loads((FIXTURES / "tf_ops.json").read_text())


def _op_layer(function: str, node: list) -> dict:
    return {
        "class_name": "TFOpLambda",
        "name": "op",
        "config": {"name": "op", "trainable": True, "dtype": "float32", "function": function},
        "inbound_nodes": [node],
    }


def test_every_allow_listed_op_shape_predicts_as_keras_2():
    model = kerasx.io.from_json(FIXTURES / "tf_ops.json")
    kerasx.io.load_weights(model, FIXTURES / "tf_ops_weights.h5")
    x = np.load(FIXTURES / "tf_ops_input.npy")
    expected = np.load(FIXTURES / "tf_ops_expected.npy")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-5)
    functions = {
        layer["config"]["function"]
        for layer in _config()["config"]["layers"]
        if layer["class_name"] == "TFOpLambda"
    }
    assert functions <= set(TF_OPS) and len(functions) >= 12
    assert "TFOpLambda" not in {type(layer).__name__ for layer in model.layers}


def test_an_op_off_the_allow_list_is_refused_naming_it():
    with pytest.raises(UnsafeModelError, match=r"tf\.strings\.as_string.*allow-list"):
        kerasx.io.from_json(FIXTURES / "tf_ops_evil.json")


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"function_type": "lambda"}},
        {"module": "evil.module"},
        {"registered_name": "Custom>TFOpLambda"},
    ],
    ids=["extra-config", "foreign-module", "registered-name"],
)
def test_allow_listed_op_with_anything_extra_is_still_refused(change):
    config = _config()
    layer = next(item for item in config["config"]["layers"] if item["class_name"] == "TFOpLambda")
    for key, value in change.items():
        if isinstance(value, dict):
            layer[key].update(value)
        else:
            layer[key] = value
    with pytest.raises(UnsafeModelError, match="TFOpLambda"):
        kerasx.io.from_json(json.dumps(config))


@pytest.mark.parametrize(
    "function, node, reason",
    [
        ("math.multiply", ["x", 0, 0, {"y": "rm -rf /", "name": None}], "number or a tensor"),
        ("math.multiply", ["x", 0, 0, {"y": 2.0, "body": "code"}], "unexpected arguments"),
        ("math.truediv", ["x", 0, 0, {"y": 0.0}], "divides by zero"),
        ("reshape", ["x", 0, 0, {"shape": [4, 6]}], "batch axis"),
        ("compat.v1.transpose", ["x", 0, 0, {"perm": [1, 0, 2]}], "batch axis"),
        ("math.reduce_mean", ["x", 0, 0, {"axis": 0}], "batch axis"),
        ("concat", [["x", 0, 0, {"axis": 0}], ["y", 0, 0, {"axis": 0}]], "non-batch axis"),
        ("math.add", ["x", 0, 0, {}], "second operand"),
        ("nn.relu", "x", "malformed"),
        ("io.write_file", ["x", 0, 0, {}], "allow-list"),
        ("nn.silu", ["x", 0, 0, {"beta": 2.0}], "with beta=2.0"),
        ("nn.silu", ["x", 0, 0, {"beta": ["y", 0, 0]}], "only beta=1.0"),
        ("math.truediv", ["_CONSTANT_VALUE", -1, 1.0, {"y": ["x", 0, 0]}], "divides the constant"),
        ("nn.relu", ["_CONSTANT_VALUE", -1, 1, {}], "without a tensor"),
        ("math.subtract", ["_CONSTANT_VALUE", -1, 1, {"y": 2}], "without a tensor"),
        ("math.subtract", ["_CONSTANT_VALUE", -1, [1, 2], {"y": ["x", 0, 0]}], "first operand"),
        (
            "concat",
            [["x", 0, 0, {"axis": 1}], ["_CONSTANT_VALUE", -1, [[1]], {"axis": 1}]],
            "constant among",
        ),
    ],
)
def test_malformed_calls_are_refused(function, node, reason):
    layer = _op_layer(function, node)
    assert reason in tf_op_problem(layer)
    findings = scan_config({"class_name": "Functional", "config": {"layers": [layer]}})
    assert findings and reason in findings[0]
    with pytest.raises(SerializationError, match=reason):
        translate_tf_op(copy.deepcopy(layer))


def test_silu_with_its_default_beta_is_translated():
    for node in (["x", 0, 0, {"beta": 1.0}], ["x", 0, 0, {"beta": 1}], ["x", 0, 0, {}]):
        rebuilt = translate_tf_op(_op_layer("nn.silu", node))
        assert rebuilt["class_name"] == "Activation"
        assert rebuilt["config"]["activation"] == "silu"


def _keras2_constant_first_model() -> str:
    """Keras 2 JSON for `3 * (2.5 + (1 - x))`: each op's first operand is a constant, which
    Keras 2 stored as `["_CONSTANT_VALUE", -1, value, {"y": tensor, ...}]`."""

    def op(name, function, constant, y):
        node = ["_CONSTANT_VALUE", -1, constant, {"y": [y, 0, 0], "name": None}]
        return {
            **_op_layer(function, node),
            "name": name,
            "config": {"name": name, "trainable": True, "dtype": "float32", "function": function},
        }

    layers = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "registered_name": None,
            "name": "x",
            "inbound_nodes": [],
            "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "x"},
        },
        op("tf.math.subtract", "math.subtract", 1, "x"),
        op("tf.__operators__.add", "__operators__.add", 2.5, "tf.math.subtract"),
        op("tf.math.multiply", "math.multiply", 3, "tf.__operators__.add"),
    ]
    return json.dumps(
        {
            "class_name": "Functional",
            "keras_version": "2.15.0",
            "config": {
                "name": "constants",
                "layers": layers,
                "input_layers": [["x", 0, 0]],
                "output_layers": [["tf.math.multiply", 0, 0]],
            },
        }
    )


def test_a_constant_first_operand_is_a_constant_not_a_layer():
    model = kerasx.io.from_json(_keras2_constant_first_model())
    assert [type(layer).__name__ for layer in model.layers[1:]] == ["Rescaling"] * 3
    x = np.array([[0.0, 1.0, -2.0], [4.0, 0.5, 3.0]], dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), 3 * (2.5 + (1 - x)), rtol=1e-6)


def test_translation_names_only_keras_or_kerasx_layers():
    for layer in _config()["config"]["layers"]:
        if layer["class_name"] == "TFOpLambda":
            rebuilt = translate_tf_op(layer)
            assert rebuilt["class_name"] in {
                "Add",
                "Subtract",
                "Multiply",
                "Rescaling",
                "ReLU",
                "Activation",
                "Reshape",
                "Permute",
                "Concatenate",
                "kerasx>TensorOp",
            }
            assert rebuilt["name"] == layer["name"]


def test_tensor_op_refuses_an_op_outside_its_table():
    from kerasx.layers._keras2 import TensorOp

    with pytest.raises(ValueError, match="op"):
        TensorOp(op="__import__")
    for unhashable in (["mean"], {"op": "mean"}):  # a corrupted configuration
        with pytest.raises(ValueError, match=r"`op` must be one of .*Received: op="):
            TensorOp(op=unhashable)
    with pytest.raises(ValueError, match="axis"):
        TensorOp(op="mean", axis="os.system")


def _keras2_helper_model() -> str:
    """Keras 2 JSON with the helper layers of InceptionResNetV2 and ConvNeXt."""

    def layer(cls, name, config, inbound, module="keras.layers"):
        return {
            "module": module,
            "class_name": cls,
            "registered_name": None,
            "name": name,
            "config": {"name": name, "trainable": True, "dtype": "float32", **config},
            "inbound_nodes": inbound,
        }

    layers = [
        layer("InputLayer", "x", {"batch_input_shape": [None, 4]}, []),
        layer("Dense", "dense", {"units": 4}, [[["x", 0, 0, {}]]]),
        {
            **layer(
                "CustomScaleLayer",
                "scale",
                {"scale": 0.17},
                [[["x", 0, 0, {}], ["dense", 0, 0, {}]]],
                module="keras.src.applications.inception_resnet_v2",
            ),
            "registered_name": "Custom>CustomScaleLayer",
        },
        layer(
            "LayerScale",
            "layer_scale",
            {"init_values": 0.5, "projection_dim": 4},
            [[["scale", 0, 0, {}]]],
            module="keras.src.applications.convnext",
        ),
    ]
    return json.dumps(
        {
            "class_name": "Functional",
            "keras_version": "2.15.0",
            "config": {
                "name": "helpers",
                "layers": layers,
                "input_layers": [["x", 0, 0]],
                "output_layers": [["layer_scale", 0, 0]],
            },
        }
    )


def test_applications_helper_layers_become_safe_kerasx_layers(tmp_path):
    import keras

    model = kerasx.io.from_json(_keras2_helper_model())
    assert [type(layer).__name__ for layer in model.layers[2:]] == ["ScaleSum", "LayerScale"]
    x = np.arange(8, dtype="float32").reshape(2, 4)
    dense = model.get_layer("dense")
    expected = (x + 0.17 * dense(x).numpy()) * 0.5
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    assert model.count_params() == 4 * 4 + 4 + 4
    saved = kerasx.io.save(model, tmp_path / "helpers.keras")
    for loaded in (kerasx.io.load(saved), keras.models.load_model(saved, safe_mode=True)):
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5)
    fresh = run_python(  # a new process: kerasx.io.load registers kerasx's layers itself
        "import sys, kerasx.io; m = kerasx.io.load(sys.argv[1]); print(type(m.layers[2]).__name__)",
        str(saved),
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert fresh.stdout.strip().endswith("ScaleSum")


def test_converted_tf_ops_model_round_trips_in_safe_mode(tmp_path):
    model = kerasx.io.from_json(FIXTURES / "tf_ops.json")
    kerasx.io.load_weights(model, FIXTURES / "tf_ops_weights.h5")
    saved = kerasx.io.save(model, tmp_path / "tf_ops.keras")
    loaded = kerasx.io.load(saved)
    x = np.load(FIXTURES / "tf_ops_input.npy")
    expected = np.load(FIXTURES / "tf_ops_expected.npy")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)
