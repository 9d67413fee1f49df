"""Malicious model files in every format are refused before anything is deserialised."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasx.io
from kerasx.errors import UnsafeModelError
from kerasx.models import load_model, model_from_json


@pytest.fixture
def unsafe_flag():
    """Call `keras.config.enable_unsafe_deserialization()` and restore the flag afterwards."""
    from keras.src.saving import serialization_lib

    before = serialization_lib.in_safe_mode()
    keras.config.enable_unsafe_deserialization()
    yield
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("safe_mode_saving", before)


def _layer(class_name, config, module="keras.layers", registered_name=None):
    return {
        "module": module,
        "class_name": class_name,
        "config": config,
        "registered_name": registered_name,
    }


def _sequential(*layers):
    input_layer = _layer(
        "InputLayer", {"batch_shape": [None, 4], "dtype": "float32", "name": "inp"}
    )
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "crafted", "layers": [input_layer, *layers]},
        "registered_name": None,
    }


def _write_keras(path: Path, config: dict) -> Path:
    empty = io.BytesIO()
    h5py.File(empty, "w").close()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", empty.getvalue())
    return path


def _write_h5(path: Path, config: dict, training_config: dict | None = None) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "3.15.1"
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config)
        f.create_group("model_weights").attrs["layer_names"] = []
    return path


@pytest.fixture(scope="module")
def evil_saved_model(tmp_path_factory):
    """A SavedModel whose load-time resource initializer writes a marker file."""
    folder = tmp_path_factory.mktemp("evil")
    marker = folder / "MARKER"

    class Resource(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[])

        def _initialize(self):
            tf.io.write_file(str(marker), "pwned")
            return tf.raw_ops.AssignVariableOp(
                resource=self.resource_handle, value=tf.constant(1.0)
            )

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.resource = Resource()

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def serve(self, x):
            return {"out": x * 2.0}

    module = Module()
    tf.saved_model.save(module, str(folder / "sm"), signatures={"serving_default": module.serve})
    assert not marker.exists()
    return folder / "sm", marker


def _gadgets(saved_model: Path) -> dict[str, dict]:
    path = str(saved_model)
    return {
        "tfsm": _layer(
            "TFSMLayer", {"name": "evil", "filepath": path, "call_endpoint": "serving_default"}
        ),
        "lambda_tfsm": _layer(
            "Lambda",
            {
                "name": "evil",
                "function": {
                    "module": "keras.layers",
                    "class_name": "function",
                    "config": "TFSMLayer",
                    "registered_name": "function",
                },
                "arguments": {"filepath": path, "call_endpoint": "serving_default"},
            },
        ),
    }


@pytest.mark.slow
def test_saved_model_gadget_is_live_when_trusted(tmp_path, evil_saved_model):
    """Positive control: the marker does appear when the user opts in."""
    saved_model, marker = evil_saved_model
    crafted = _write_keras(tmp_path / "evil.keras", _sequential(_gadgets(saved_model)["tfsm"]))
    try:
        kerasx.io.load(crafted, trusted=True)
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)


@pytest.mark.slow
@pytest.mark.parametrize("gadget", ["tfsm", "lambda_tfsm"])
@pytest.mark.parametrize("fmt", ["keras", "h5", "json"])
def test_saved_model_gadgets_refused_even_with_global_unsafe_flag(
    tmp_path, evil_saved_model, unsafe_flag, gadget, fmt
):
    saved_model, marker = evil_saved_model
    config = _sequential(_gadgets(saved_model)[gadget])
    if fmt == "keras":
        target = _write_keras(tmp_path / "evil.keras", config)
    elif fmt == "h5":
        target = _write_h5(tmp_path / "evil.h5", config)
    else:
        target = tmp_path / "evil.json"
        target.write_text(json.dumps(config))
    with pytest.raises(UnsafeModelError, match=r"(?s)layer 'evil'.*trusted=True") as info:
        load_model(target)
    assert any("evil" in finding for finding in info.value.findings)
    with pytest.raises(UnsafeModelError, match="layer 'evil'"):
        model_from_json(json.dumps(config))
    assert not marker.exists()
    assert kerasx.io.inspect(target)["safe"] is False


def test_keras_own_lambda_save_is_refused_in_every_format(tmp_path, unsafe_flag):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2, name="double")]
    )
    model.save(tmp_path / "lam.keras")
    from keras.src.legacy.saving import legacy_h5_format

    legacy_h5_format.save_model_to_hdf5(model, str(tmp_path / "lam.h5"))
    (tmp_path / "lam.json").write_text(model.to_json())
    for name in ["lam.keras", "lam.h5", "lam.json"]:
        with pytest.raises(UnsafeModelError, match=r"layer 'double': Lambda"):
            kerasx.io.load(tmp_path / name)
    loaded = kerasx.io.load(tmp_path / "lam.keras", trusted=True)
    np.testing.assert_allclose(loaded.predict(np.ones((1, 4)), verbose=0), 2 * np.ones((1, 4)))


def test_keras2_lambda_list_form_refused(tmp_path):
    keras2_lambda = {
        "class_name": "Lambda",
        "config": {
            "name": "old_lambda",
            "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABk", None, None],
            "function_type": "lambda",
            "module": "__main__",
        },
    }
    config = {
        "class_name": "Sequential",
        "keras_version": "2.15.0",
        "config": {"name": "old", "layers": [keras2_lambda]},
    }
    target = _write_h5(tmp_path / "old.h5", config)
    with pytest.raises(UnsafeModelError, match="old_lambda") as info:
        kerasx.io.load(target)
    assert any("byte code" in finding for finding in info.value.findings)
    with pytest.raises(UnsafeModelError, match="old_lambda"):
        kerasx.io.from_json(json.dumps(config))


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (_layer("TorchModuleWrapper", {"name": "torchy"}), "TorchModuleWrapper"),
        (_layer("JaxLayer", {"name": "jaxy"}), "JaxLayer"),
        (_layer("FlaxLayer", {"name": "flaxy"}), "FlaxLayer"),
        (
            _layer(
                "Dense",
                {
                    "name": "dense_os",
                    "units": 2,
                    "activation": {
                        "module": "os",
                        "class_name": "function",
                        "config": "system",
                        "registered_name": "function",
                    },
                },
            ),
            "module 'os'",
        ),
        (_layer("Evil", {"name": "outside"}, module="evilpkg.layers"), "outside Keras"),
        (
            _layer("Dense", {"name": "registered", "units": 2}, registered_name="Evil>Dense"),
            "not registered",
        ),
        (
            _layer("StringLookup", {"name": "lookup", "vocabulary": "/etc/passwd"}),
            "file path",
        ),
    ],
)
def test_crafted_gadgets_refused(tmp_path, layer, expected):
    config = _sequential(layer)
    for target in (
        _write_keras(tmp_path / "c.keras", config),
        _write_h5(tmp_path / "c.h5", config),
    ):
        with pytest.raises(UnsafeModelError, match=expected):
            kerasx.io.load(target)
        report = kerasx.io.inspect(target)
        assert not report["safe"] and expected in " ".join(report["unsafe"])


def _keras2_functional(bad_layer: dict) -> dict:
    """A Keras 2 Functional model of an input and `bad_layer`, called on the input twice."""
    return {
        "class_name": "Functional",
        "keras_version": "2.15.0",
        "backend": "tensorflow",
        "config": {
            "name": "crafted",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "x",
                    "inbound_nodes": [],
                    "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "x"},
                },
                {
                    **bad_layer,
                    "name": "joined",
                    "inbound_nodes": [[["x", 0, 0, {}], ["x", 0, 0, {}]]],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["joined", 0, 0]],
        },
    }


@pytest.mark.parametrize(
    "class_name, config",
    [("concatenate", {"axis": -1}), ("Input", {"shape": [4]})],
)
def test_a_class_name_naming_a_keras_layers_function_is_refused(tmp_path, class_name, config):
    layer = _layer(class_name, {"name": "joined", "trainable": True, **config})
    config = _keras2_functional(layer)
    expected = rf"'joined': class_name '{class_name}' is not a layer class"
    with pytest.raises(UnsafeModelError, match=expected) as info:
        kerasx.io.load(_write_h5(tmp_path / "f.h5", config))
    assert len(info.value.findings) == 1
    with pytest.raises(UnsafeModelError, match=expected):
        kerasx.io.from_json(json.dumps(config))
    del layer["module"]  # Keras 2 files before 2.13 wrote no module
    with pytest.raises(UnsafeModelError, match=expected):
        kerasx.io.from_json(json.dumps(_keras2_functional(layer)))


def test_layer_functions_list_every_function_of_keras_layers():
    import inspect

    from keras.src import layers as keras_src_layers  # what Keras's legacy reader looks in

    from kerasx.io._scan import LAYER_FUNCTIONS

    for namespace in (vars(keras.layers), vars(keras_src_layers)):
        functions = {
            name
            for name, value in namespace.items()
            if callable(value) and not inspect.isclass(value)
        }
        assert functions <= LAYER_FUNCTIONS


def test_unsafe_training_config_in_h5_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, name="d")])
    config = json.loads(model.to_json())
    training = {
        "loss": {
            "module": "subprocess",
            "class_name": "function",
            "config": "run",
            "registered_name": "function",
        },
        "metrics": [],
    }
    with pytest.raises(UnsafeModelError, match="subprocess"):
        kerasx.io.load(_write_h5(tmp_path / "t.h5", config, training))


def test_every_finding_is_listed(tmp_path):
    config = _sequential(
        _layer("JaxLayer", {"name": "first"}), _layer("FlaxLayer", {"name": "second"})
    )
    with pytest.raises(UnsafeModelError) as info:
        kerasx.io.load(_write_keras(tmp_path / "two.keras", config))
    assert len(info.value.findings) == 2
    assert "first" in str(info.value) and "second" in str(info.value)


def test_custom_objects_and_registered_classes_are_allowed(tmp_path):
    @keras.saving.register_keras_serializable(package="KerasxTest")
    class Scale(keras.layers.Layer):
        def call(self, x):
            return x * 3.0

    class Shift(keras.layers.Layer):
        def call(self, x):
            return x + 1.0

    model = keras.Sequential([keras.Input((2,)), Scale(name="scale"), Shift(name="shift")])
    kerasx.io.save(model, tmp_path / "custom.keras")
    with pytest.raises(UnsafeModelError, match="shift"):
        kerasx.io.load(tmp_path / "custom.keras")
    loaded = kerasx.io.load(tmp_path / "custom.keras", custom_objects={"Shift": Shift})
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2)), verbose=0), [[4.0, 4.0]])


@pytest.mark.slow
def test_saved_model_directory_needs_trust(tmp_path, evil_saved_model):
    saved_model, marker = evil_saved_model
    with pytest.raises(UnsafeModelError, match=r"(?s)SavedModel.*trusted=True"):
        kerasx.io.load(saved_model)
    assert not marker.exists()
    assert kerasx.io.inspect(saved_model)["format"] == "saved_model"
