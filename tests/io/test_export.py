"""`kerasx.io.export`: every format written, read back with its own runtime, and checked.

ONNX and LiteRT need the `export` extra (tf2onnx, onnx, onnxruntime, ai-edge-litert) and LiteRT
a Keras whose `model.export` writes it (3.15 does, 3.12 does not). Without them those tests are
skipped, unless `KERASX_REQUIRE_EXPORT=1` (`.ci/run` sets it and installs the extra for the
newest Keras): then they fail. SavedModel needs TensorFlow only and runs everywhere.

Each artifact is also opened here, in the test, with the runtime and compared with the model on
other inputs than the ones `export` checked on, so a test does not only trust the report.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from importlib import metadata
from pathlib import Path
from typing import NoReturn

import keras
import numpy as np
import pytest

import kerasx.io
from kerasx.errors import ConfigurationError, ExportError, MissingDependencyError

from helpers import run_python

REQUIRE_EXPORT = os.environ.get("KERASX_REQUIRE_EXPORT") == "1"
NAMES = {"saved_model": "served", "onnx": "model.onnx", "litert": "model.tflite"}
PACKAGES = {"onnx": ("tf2onnx", "onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}


def _unavailable(what: str, install: str) -> NoReturn:
    """Skip (or, under KERASX_REQUIRE_EXPORT=1, fail) a test that needs `what`."""
    if REQUIRE_EXPORT:
        pytest.fail(f"KERASX_REQUIRE_EXPORT=1 but {what}. Install it: {install}", pytrace=False)
    pytest.skip(f"{what} ({install}; CI installs it and sets KERASX_REQUIRE_EXPORT=1)")


def require(format: str) -> None:
    """Skip or fail unless this environment can write and verify `format`."""
    for module in PACKAGES.get(format, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            _unavailable(f"{module} is not installed", 'pip install -e ".[export]"')
    if format == "litert":
        from kerasx._compat.export import keras_exports_litert

        if not keras_exports_litert():
            _unavailable(
                f"Keras {keras.__version__} cannot write LiteRT files", "pip install -U keras"
            )


def run_artifact(format: str, path: Path, x: np.ndarray) -> np.ndarray:
    """The artifact's output on `x`, through its runtime, written here independently."""
    if format == "saved_model":
        import tensorflow as tf

        restored = tf.saved_model.load(str(path))  # kept alive: it owns the variables
        return np.asarray(restored.serve(tf.constant(x)))
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    (name,) = runner.get_input_details()
    (output,) = runner(**{name: x}).values()
    return output


def tree(path: Path) -> dict[str, str]:
    """Every file below `path` (or `path` itself) with the SHA-256 of its bytes."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {
        str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


# ------------------------------------------------------------------------------ models


def mlp() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="mlp",
    )


def cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
        name="cnn",
    )


def lstm() -> keras.Model:
    """A recurrent model over a fixed sequence length of 6."""
    return keras.Sequential(
        [keras.Input((6, 5)), keras.layers.LSTM(8), keras.layers.Dense(2)], name="lstm"
    )


def two_in_two_out() -> keras.Model:
    """Dict inputs (given out of alphabetical order) and dict outputs."""
    zeta = keras.Input((4,), name="zeta")
    alpha = keras.Input((3,), name="alpha")
    hidden = keras.layers.Dense(5, activation="tanh")(keras.layers.Concatenate()([zeta, alpha]))
    outputs = {"y2": keras.layers.Dense(2)(hidden), "y1": keras.layers.Dense(1)(hidden)}
    return keras.Model({"zeta": zeta, "alpha": alpha}, outputs)


def mc_dropout() -> keras.Model:
    """Monte-Carlo dropout: a `Dropout` layer called with `training=True` in the graph.

    `model.predict` (and `model(x, training=False)`) runs it without dropping anything, but
    Keras's SavedModel serving function calls the model without `training=False`, so the
    node's `training=True` draws a new dropout mask at every call: the exported artifact
    really computes something else than the model's inference. (tf2onnx cannot convert the
    random operation at all.)
    """
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16)(inputs)
    hidden = keras.layers.Dropout(0.5, name="mc_dropout")(hidden, training=True)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))


def hashing() -> keras.Model:
    """Keras's `Hashing` layer: it turns integers into strings and hashes them.

    tf2onnx has no ONNX operator for `StringToHashBucketFast`, and LiteRT's builtin operators
    include neither `AsString` nor `StringToHashBucketFast`.
    """
    return keras.Sequential(
        [keras.Input((3,), dtype="int64"), keras.layers.Hashing(num_bins=4, name="hashing")]
    )


MODELS = {"mlp": mlp, "cnn": cnn, "lstm": lstm}
FORMATS = ("saved_model", "onnx", "litert")


def _cases():
    for model_name in MODELS:
        for format in FORMATS:
            marks = [] if model_name == "mlp" else [pytest.mark.slow]
            yield pytest.param(model_name, format, marks=marks, id=f"{model_name}-{format}")


# ------------------------------------------------------------------------ every format


@pytest.mark.parametrize(("model_name", "format"), list(_cases()))
def test_export_writes_and_verifies_every_format(tmp_path, model_name, format):
    require(format)
    keras.utils.set_random_seed(1)
    model = MODELS[model_name]()
    # LiteRT's builtin operators run a recurrent layer's loop over a fixed batch only.
    batch_size = 1 if (model_name, format) == ("lstm", "litert") else None
    path = tmp_path / NAMES[format]
    report = kerasx.io.export(model, path, format=format, batch_size=batch_size)
    assert report.verified and report.max_abs_diff <= 1e-5
    assert report.path == path and path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    x = np.random.default_rng(7).standard_normal((batch_size or 5, *model.input_shape[1:]))
    x = x.astype("float32")
    np.testing.assert_allclose(
        run_artifact(format, path, x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("format", FORMATS)
def test_report_fields(tmp_path, format):
    require(format)
    model = mlp()
    path = tmp_path / NAMES[format]
    report = kerasx.io.export(model, path, format=format, atol=1e-4)
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    assert report.format == format and report.path == path
    assert report.size_bytes == sum(p.stat().st_size for p in files) > 0
    assert report.atol == 1e-4 and 0 <= report.max_abs_diff <= 1e-4
    assert report.differences == {"probs": report.max_abs_diff}
    assert report.checked_on == "2 random inputs drawn with seed 0"
    expected = {
        "saved_model": ("tensorflow", lambda: importlib.import_module("tensorflow").__version__),
        "onnx": ("onnxruntime", lambda: importlib.import_module("onnxruntime").__version__),
        "litert": ("ai-edge-litert", lambda: metadata.version("ai-edge-litert")),
    }[format]
    assert (report.runtime, report.runtime_version) == (expected[0], expected[1]())
    assert report.to_dict()["path"] == str(path) and report.to_dict()["verified"] is True
    text = str(report)
    assert f"format        {format}" in text and f"runtime       {expected[0]}" in text


@pytest.mark.parametrize("format", FORMATS)
def test_multi_input_multi_output_model(tmp_path, format):
    require(format)
    model = two_in_two_out()
    report = kerasx.io.export(model, tmp_path / NAMES[format], format=format)
    assert sorted(report.differences) == ["y1", "y2"]
    assert report.max_abs_diff <= 1e-5


def test_unverified_export_has_no_runtime(tmp_path):
    report = kerasx.io.export(mlp(), tmp_path / "served", verify=False)
    assert not report.verified
    assert (report.max_abs_diff, report.runtime, report.runtime_version) == (None, None, None)
    assert "verified      no" in str(report)
    assert (tmp_path / "served" / "saved_model.pb").exists()


# ---------------------------------------------------------------------------- inputs


def test_sample_is_used_and_checked(tmp_path):
    model = mlp()
    x = np.random.default_rng(3).standard_normal((4, 8))  # float64: cast to the input dtype
    report = kerasx.io.export(model, tmp_path / "served", sample=x)
    assert report.checked_on == "the sample" and report.max_abs_diff <= 1e-5
    with pytest.raises(ConfigurationError, match=r"shape \(4, 7\).*takes \(None, 8\)"):
        kerasx.io.export(model, tmp_path / "other", sample=x[:, :7])
    with pytest.raises(ConfigurationError, match=r"1 input.*2 array"):
        kerasx.io.export(model, tmp_path / "other", sample=[x, x])
    with pytest.raises(ConfigurationError, match=r"fixed to 3.*batch is \[4\]"):
        kerasx.io.export(model, tmp_path / "other", sample=x, batch_size=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]


def test_open_dimension_needs_a_sample(tmp_path):
    model = keras.Sequential([keras.Input((None, 5)), keras.layers.GRU(3)])
    with pytest.raises(ConfigurationError, match=r"\(None, None, 5\).*open.*sample="):
        kerasx.io.export(model, tmp_path / "served")
    sample = np.random.default_rng(0).standard_normal((2, 7, 5)).astype("float32")
    report = kerasx.io.export(model, tmp_path / "served", sample=sample)
    assert report.max_abs_diff <= 1e-5
    assert kerasx.io.export(model, tmp_path / "unchecked", verify=False).max_abs_diff is None


def test_subclassed_model_needs_a_sample(tmp_path):
    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return 2.0 * self.dense(x)

    model = Scaled()
    sample = np.ones((3, 4), "float32")
    model(sample)
    with pytest.raises(ConfigurationError, match=r"subclassed.*sample="):
        kerasx.io.export(model, tmp_path / "served")
    assert kerasx.io.export(model, tmp_path / "served", sample=sample).max_abs_diff <= 1e-5
    with pytest.raises(ConfigurationError, match=r"cannot be called on the sample.*\(3, 5\)"):
        kerasx.io.export(model, tmp_path / "other", sample=np.ones((3, 5), "float32"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]


# ------------------------------------------------------------------ failures and atomicity


def test_verification_catches_a_model_the_artifact_does_not_match(tmp_path):
    model = mc_dropout()
    with pytest.raises(ExportError, match=r"SavedModel.*output 'head' differs by up to") as info:
        kerasx.io.export(model, tmp_path / "served")
    error = info.value
    assert (error.format, error.output) == ("saved_model", "head")
    assert error.max_abs_diff > 1e-5 and "Nothing was written" in str(error)
    assert list(tmp_path.iterdir()) == []
    # Unchecked, the same export goes through: the check is what caught it.
    assert not kerasx.io.export(model, tmp_path / "served", verify=False).verified


def test_failed_export_leaves_the_previous_artifact_intact(tmp_path):
    path = tmp_path / "served"
    kerasx.io.export(mlp(), path)
    before = tree(path)
    with pytest.raises(ExportError):
        kerasx.io.export(mc_dropout(), path)
    assert tree(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]


@pytest.mark.parametrize("format", ["onnx", "litert"])
def test_unsupported_layer_names_the_layer_and_leaves_nothing(tmp_path, format):
    require(format)
    path = tmp_path / NAMES[format]
    path.write_bytes(b"the previous artifact")
    op = "StringToHashBucketFast"
    with pytest.raises(ExportError, match=f"layer 'hashing' uses .*{op}.*Nothing was written"):
        kerasx.io.export(hashing(), path, format=format)
    assert path.read_bytes() == b"the previous artifact"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    path.unlink()
    with pytest.raises(ExportError) as info:
        kerasx.io.export(hashing(), path, format=format, verify=False)
    assert (info.value.format, info.value.layer) == (format, "hashing")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_litert_recurrent_layer_needs_a_fixed_batch(tmp_path):
    require("litert")
    with pytest.raises(ExportError, match=r"layer 'lstm'.*batch_size=1") as info:
        kerasx.io.export(lstm(), tmp_path / "model.tflite", format="litert")
    assert info.value.layer == "lstm"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("format", "expected", "names", "message"),
    [
        ("onnx", ["a"], ["a", "b"], r"ONNX artifact takes 1 input.*format='onnx'"),
        ("litert", ["p", "q"], ["a", "b"], r"which of the LiteRT artifact's inputs.*'litert'"),
    ],
)
def test_runtime_input_mismatch_names_the_format(format, expected, names, message):
    from kerasx.io._export_formats import _feed

    arrays = [np.zeros((1, 2), "float32") for _ in names]
    with pytest.raises(ExportError, match=message) as info:
        _feed(expected, arrays, names, format=format, by_position=False)
    assert info.value.format == format


def test_saved_model_on_an_existing_file_is_refused(tmp_path):
    (tmp_path / "served").write_text("a file")
    with pytest.raises(ConfigurationError, match=r"SavedModel directory.*a file"):
        kerasx.io.export(mlp(), tmp_path / "served")
    assert (tmp_path / "served").read_text() == "a file"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "tflite"}, r"Unknown export format.*'saved_model', 'onnx', 'litert'"),
        ({"format": "onnx", "name": "model.tflite"}, r"ONNX file's name must end in '\.onnx'"),
        ({"format": "litert", "name": "model"}, r"must end in '\.tflite'"),
        ({"name": "model.onnx"}, r"ends in '\.onnx'.*format='onnx'"),
        ({"atol": -1.0}, "atol.*>= 0"),
        ({"atol": float("nan")}, "atol.*>= 0"),
        ({"batch_size": 0}, "batch_size.*positive"),
    ],
)
def test_arguments_are_checked_before_anything_is_written(tmp_path, kwargs, message):
    name = kwargs.pop("name", "served")
    with pytest.raises(ConfigurationError, match=message):
        kerasx.io.export(mlp(), tmp_path / name, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match=r"built model.*keras.Input"):
        kerasx.io.export(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "served")


# ------------------------------------------------------------------ missing packages


MISSING_RUNTIME = """
import sys
sys.modules["onnxruntime"] = None  # as if onnxruntime were not installed
import keras, kerasx.io
from kerasx.errors import MissingDependencyError
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
try:
    kerasx.io.export(model, sys.argv[1], format="onnx")
except MissingDependencyError as error:
    print(error)
"""


@pytest.mark.slow
def test_missing_runtime_names_the_extra(tmp_path):
    path = tmp_path / "model.onnx"
    done = run_python(MISSING_RUNTIME, str(path))
    assert done.returncode == 0, done.stderr
    assert "onnxruntime" in done.stdout and 'pip install "kerasx[export]"' in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_litert_on_a_keras_without_it_says_to_upgrade(tmp_path):
    from kerasx._compat.export import keras_exports_litert

    if keras_exports_litert():
        pytest.skip(f"Keras {keras.__version__} writes LiteRT; the oldest supported one does not")
    with pytest.raises(MissingDependencyError, match=r"cannot write LiteRT.*Upgrade Keras"):
        kerasx.io.export(mlp(), tmp_path / "model.tflite", format="litert", verify=False)
    assert list(tmp_path.iterdir()) == []


def test_saved_model_never_replaces_a_folder_of_other_files(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigurationError, match="no SavedModel, so they would be lost"):
        kerasx.io.export(mlp(), results)
    assert sorted(p.name for p in results.iterdir()) == ["precious.txt"]
    assert (results / "precious.txt").read_text() == "keep me"
