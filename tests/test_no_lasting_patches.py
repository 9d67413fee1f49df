"""After any kerasx call returns or raises, Keras and TensorFlow are exactly as they were.

DESIGN.md, principle 1: kerasx never monkey-patches Keras. Every function, class and class
attribute of the Keras and TensorFlow code kerasx works with must be the same object after a
call, and nothing may be pinned onto the user's model. These tests take a snapshot (by
identity) of those classes and modules, run kerasx's public calls, and compare.

This is the one test file that imports `keras.src` and `tensorflow.python`: it has to name
the internals it watches. The library itself reaches them only through `kerasx._compat`.
"""

from __future__ import annotations

import importlib
import os
import threading
import types
import warnings
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import kerasx
import kerasx.io
import kerasx.viz
from kerasx._compat import fast_path_enabled
from kerasx._compat.initializers import ZERO_INITIAL_VALUES
from kerasx.errors import ExportError, SerializationError
from kerasx.viz._weight_stats import weight_stats_from_file

WATCHED_MODULES = [
    "keras.src.saving.saving_lib",
    "keras.src.saving.saving_api",
    "keras.src.saving.serialization_lib",
    "keras.src.legacy.saving.legacy_h5_format",
    "keras.src.legacy.saving.saving_utils",
    "keras.src.legacy.saving.saving_options",
    "keras.src.backend.tensorflow.trainer",
    "keras.src.backend.tensorflow.core",
    "keras.src.backend.common.variables",
    "keras.src.initializers.random_initializers",
    "keras.src.ops.function",
    "keras.src.ops.node",
    "keras.src.utils.naming",
    "keras.src.export.export_utils",
    "keras.src.export.saved_model",
    "keras.src.export.tf2onnx_lib",
    "keras.saving",
    "keras.models",
    "keras.callbacks",
    "tensorflow.python.framework.tensor_conversion_registry",
    "tensorflow.python.framework.ops",
]
"""Modules whose functions and classes kerasx calls, subclasses or could be tempted to patch."""

WATCHED_CLASSES = [
    ("keras.src.backend", "Variable"),
    ("keras.src.backend.tensorflow.core", "Variable"),
    ("keras.src.backend.common.variables", "Variable"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer"),
    ("keras.src.trainers.trainer", "Trainer"),
    ("keras.src.models.model", "Model"),
    ("keras.src.models.functional", "Functional"),
    ("keras.src.models.sequential", "Sequential"),
    ("keras.src.layers.layer", "Layer"),
    ("keras.src.ops.operation", "Operation"),
    ("keras.src.ops.node", "Node"),
    ("keras.src.saving.saving_lib", "H5IOStore"),
    ("keras.src.saving.saving_lib", "DiskIOStore"),
    ("keras.src.saving.serialization_lib", "SafeModeScope"),
    ("keras.src.optimizers.base_optimizer", "BaseOptimizer"),
    ("keras.src.initializers.random_initializers", "RandomInitializer"),
    ("keras.src.initializers.random_initializers", "GlorotUniform"),
    ("keras.src.callbacks.callback", "Callback"),
    ("keras.src.callbacks.callback_list", "CallbackList"),
    ("keras.src.callbacks.history", "History"),
    ("tensorflow.python.ops.resource_variable_ops", "ResourceVariable"),
]
"""Classes whose own attributes (methods, properties, class attributes) must stay the same."""


_LAZY_DUNDERS = frozenset({"__annotations__"})
"""Python itself adds an empty `__annotations__` to a class the first time anyone asks for it
(`inspect.signature`, `typing.get_type_hints`): not a patch."""


def _class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)


def snapshot() -> dict[str, dict[str, int]]:
    """`{where: {attribute: id(value)}}` for every watched module and class."""
    taken: dict[str, dict[str, int]] = {}
    for module_name in WATCHED_MODULES:
        module = importlib.import_module(module_name)
        taken[module_name] = {
            name: id(value)
            for name, value in vars(module).items()
            if callable(value) or isinstance(value, type | types.ModuleType)
        }
    for module_name, class_name in WATCHED_CLASSES:
        cls = _class(module_name, class_name)
        taken[f"{module_name}.{class_name}"] = {
            name: id(value) for name, value in vars(cls).items() if name not in _LAZY_DUNDERS
        }
    return taken


def changes(before: dict[str, dict[str, int]]) -> list[str]:
    """What differs from `before`: added, removed or replaced attributes."""
    after = snapshot()
    found = []
    for where, attributes in before.items():
        now = after[where]
        for name in sorted(set(attributes) | set(now)):
            if attributes.get(name) != now.get(name):
                found.append(f"{where}.{name}")
    return found


def kerasx_functions_on(obj: Any) -> list[str]:
    """Attributes of `obj` (its `__dict__`) that hold a function or method from kerasx."""
    found = []
    for name, value in vars(obj).items():
        function = getattr(value, "__func__", value)
        if isinstance(function, types.FunctionType | types.BuiltinFunctionType) and str(
            getattr(function, "__module__", "")
        ).startswith("kerasx"):
            found.append(name)
    return found


def assert_untouched(model: Any) -> None:
    """No attribute of the model, its layers or its variables holds a kerasx function."""
    assert kerasx_functions_on(model) == []
    for layer in model.layers:
        assert kerasx_functions_on(layer) == [], layer.name
    for variable in model.variables:
        assert kerasx_functions_on(variable) == [], variable.path


def big_model() -> keras.Model:
    """A model with a 2.3 MB kernel (over the size whose loaded arrays variables adopt)."""
    model = keras.Sequential(
        [
            keras.Input((600,)),
            keras.layers.Dense(960, name="big"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


@pytest.fixture
def before():
    """The snapshot taken before the test's kerasx calls (Keras imported and warmed up)."""
    keras.Variable(np.zeros((2,), np.float32))  # modules Keras imports lazily, now imported
    return snapshot()


def test_snapshot_sees_a_replaced_method(before):
    cls = _class("keras.src.backend.tensorflow.core", "Variable")
    original = vars(cls)["_initialize_with_initializer"]
    cls._initialize_with_initializer = lambda self, initializer: original(self, initializer)
    try:
        assert changes(before) == [
            "keras.src.backend.tensorflow.core.Variable._initialize_with_initializer"
        ]
    finally:
        cls._initialize_with_initializer = original
    assert changes(before) == []


def test_io_save_and_load_every_format(before, tmp_path):
    model = big_model()
    assert model.get_layer("big").kernel.numpy().nbytes >= 2_000_000
    x = np.random.default_rng(0).random((2, 600), dtype=np.float32)
    expected = model.predict(x, verbose=0)
    for name in ("model.keras", "model.h5"):
        kerasx.io.save(model, tmp_path / name)
        loaded = kerasx.io.load(tmp_path / name)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
        assert_untouched(loaded)
    text = kerasx.io.to_json(model, tmp_path / "model.json")
    assert_untouched(kerasx.io.from_json(text))
    assert_untouched(kerasx.io.load(tmp_path / "model.json"))
    assert_untouched(model)
    assert changes(before) == []


def test_io_load_weights_every_format(before, tmp_path):
    model = big_model()
    kerasx.io.save_weights(model, tmp_path / "w.weights.h5")
    kerasx.io.save_weights(model, tmp_path / "legacy_weights.h5")
    kerasx.io.save(model, tmp_path / "model.keras")
    for name in ("w.weights.h5", "legacy_weights.h5", "model.keras"):
        fresh = big_model()
        assert kerasx.io.load_weights(fresh, tmp_path / name) is fresh
        np.testing.assert_array_equal(
            fresh.get_layer("big").kernel.numpy(), model.get_layer("big").kernel.numpy()
        )
        assert_untouched(fresh)
    assert changes(before) == []


def test_viz_plot_model_and_weight_stats(before, tmp_path):
    inputs = keras.Input((8,), name="features")
    shared = keras.layers.Dense(8, name="shared")
    outputs = keras.layers.Dense(2, name="head")(shared(shared(inputs)))
    model = keras.Model(inputs, outputs)
    kerasx.viz.plot_model(model, tmp_path / "model.png", engine="builtin")
    assert (tmp_path / "model.png").stat().st_size > 0
    assert kerasx.viz.summary(model).totals["total"] == model.count_params()
    assert kerasx.viz.weight_stats(model)
    kerasx.io.save(model, tmp_path / "model.keras")
    assert weight_stats_from_file(tmp_path / "model.keras")
    assert_untouched(model)
    assert changes(before) == []


def test_fit_single_process(before, tmp_path, tiny_model):
    """`kerasx.fit` on one process; the multi-worker case has tests of its own."""
    model, (x, y) = tiny_model
    history = kerasx.fit(model, x, y, epochs=2, batch_size=16, run_dir=tmp_path / "run")
    assert len(history.history["loss"]) == 2
    assert_untouched(model)
    assert changes(before) == []


def _with_bad_weights(tmp_path: Path) -> Path:
    """A `.keras` file whose weights member (intact CRC) holds another model's shapes."""
    good = kerasx.io.save(big_model(), tmp_path / "good.keras")
    other = keras.Sequential([keras.Input((600,)), keras.layers.Dense(5, name="big")])
    donor = kerasx.io.save(other, tmp_path / "donor.keras")
    broken = tmp_path / "broken.keras"
    with (
        zipfile.ZipFile(good) as source,
        zipfile.ZipFile(donor) as weights,
        zipfile.ZipFile(broken, "w") as target,
    ):
        for name in source.namelist():
            member = weights if name == "model.weights.h5" else source
            target.writestr(name, member.read(name))
    return broken


def test_load_failing_midway_leaves_keras_as_it_was(before, tmp_path):
    broken = _with_bad_weights(tmp_path)
    seen: list[Any] = []

    @keras.saving.register_keras_serializable(package="kerasx_patch_tests")
    class Watching(keras.layers.Layer):
        """Records, while the model is rebuilt, the method kerasx's scope may replace."""

        def build(self, input_shape):
            cls = _class("keras.src.backend.tensorflow.core", "Variable")
            seen.append(vars(cls)["_initialize_with_initializer"])

        def call(self, inputs):
            return inputs

    watched = keras.Sequential([keras.Input((600,)), keras.layers.Dense(3, name="big"), Watching()])
    kerasx.io.save(watched, tmp_path / "watched.keras")
    with (
        zipfile.ZipFile(tmp_path / "watched.keras") as source,
        zipfile.ZipFile(broken) as damaged,
        zipfile.ZipFile(tmp_path / "watched_broken.keras", "w") as target,
    ):
        for name in source.namelist():
            member = damaged if name == "model.weights.h5" else source
            target.writestr(name, member.read(name))
    snapshot_before = before
    for path in (broken, tmp_path / "watched_broken.keras"):
        with pytest.raises(SerializationError):
            kerasx.io.load(path)
        assert changes(snapshot_before) == []
    original = vars(_class("keras.src.backend.tensorflow.core", "Variable"))[
        "_initialize_with_initializer"
    ]
    if fast_path_enabled(ZERO_INITIAL_VALUES):
        assert seen and seen[-1] is not original  # the failure came inside the scope
    else:
        assert seen and seen[-1] is original


def test_other_threads_keep_random_initial_values_during_a_load(before, tmp_path):
    """A load in one thread changes nothing for Keras code running in another at that time."""
    entered, release = threading.Event(), threading.Event()

    @keras.saving.register_keras_serializable(package="kerasx_patch_tests")
    class Pausing(keras.layers.Layer):
        """Holds the load inside kerasx's scope until the main thread has checked."""

        def build(self, input_shape):
            entered.set()
            release.wait(timeout=60)

        def call(self, inputs):
            return inputs

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), Pausing()])
    path = kerasx.io.save(model, tmp_path / "pausing.keras")
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(kerasx.io.load(path)))
    worker.start()
    try:
        assert entered.wait(timeout=60)
        layer = keras.layers.Dense(64)
        layer.build((None, 64))  # glorot_uniform, in this thread, while the other loads
        assert np.abs(layer.kernel.numpy()).max() > 0
    finally:
        release.set()
        worker.join(timeout=60)
    assert len(results) == 1 and not worker.is_alive()
    assert changes(before) == []


def test_concurrent_loads_restore_in_any_order(before, tmp_path):
    """Loads that finish in another order than they started still leave Keras as it was."""
    path = kerasx.io.save(big_model(), tmp_path / "model.keras")
    errors: list[BaseException] = []

    def load_many() -> None:
        try:
            for _ in range(3):
                kerasx.io.load(path)
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=load_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert changes(before) == []


# ------------------------------------------------------------------------------ export


def onnx_converter_state() -> dict[str, Any] | None:
    """What Keras's `patch_tf2onnx` changes, by identity, or None without tf2onnx.

    Keras's ONNX exporter replaces two tf2onnx functions, sets `numpy.object` (Keras 3.15) and
    caches that it did; `kerasx.io.export` puts all of it back (`kerasx._compat.export`).
    """
    try:
        import tf2onnx.graph
        import tf2onnx.tfonnx
    except ImportError:
        return None
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    return {
        "tf2onnx.tfonnx": {
            name: id(value) for name, value in vars(tf2onnx.tfonnx).items() if callable(value)
        },
        # `copy.deepcopy` of a Node makes Python cache `__slotnames__` on the class: not a patch.
        "tf2onnx.graph.Node": {
            name: id(value)
            for name, value in vars(tf2onnx.graph.Node).items()
            if name not in _LAZY_DUNDERS | {"__slotnames__"}
        },
        "numpy.object": id(vars(np).get("object")),
        "patch_tf2onnx cached": patch_tf2onnx.cache_info().currsize,
    }


def _writes(format: str) -> bool:
    """Whether this environment can write and verify `format` (the `export` extra)."""
    from kerasx._compat.export import keras_exports_litert

    modules = {"saved_model": [], "onnx": ["tf2onnx", "onnx", "onnxruntime"],
               "litert": ["ai_edge_litert"]}[format]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return False
    return format != "litert" or keras_exports_litert()


def _failing_model(format: str) -> keras.Model:
    """A model whose export fails: its SavedModel differs from it (a Dropout called with
    training=True), or it uses an operation ONNX and LiteRT lack (`Hashing`)."""
    if format == "saved_model":
        inputs = keras.Input((4,))
        hidden = keras.layers.Dropout(0.5)(keras.layers.Dense(8)(inputs), training=True)
        return keras.Model(inputs, keras.layers.Dense(2)(hidden))
    return keras.Sequential([keras.Input((3,), dtype="int64"), keras.layers.Hashing(num_bins=4)])


def _require_writes(format: str) -> None:
    """Skip (or, under KERASX_REQUIRE_EXPORT=1, fail) unless `format` can be written here."""
    if _writes(format):
        return
    if os.environ.get("KERASX_REQUIRE_EXPORT") == "1":
        pytest.fail(f"KERASX_REQUIRE_EXPORT=1 but this environment cannot write {format}")
    pytest.skip(f'{format} needs the export extra (pip install -e ".[export]")')


@pytest.mark.parametrize("format", ["saved_model", "onnx", "litert"])
def test_io_export(before, tmp_path, format):
    _require_writes(format)
    converter_before = onnx_converter_state()
    model = big_model()
    name = {"saved_model": "served", "onnx": "model.onnx", "litert": "model.tflite"}[format]
    assert kerasx.io.export(model, tmp_path / name, format=format, atol=1e-4).verified
    with pytest.raises(ExportError):  # a failed export leaves things as they were too
        kerasx.io.export(_failing_model(format), tmp_path / f"failed-{name}", format=format)
    assert_untouched(model)
    assert changes(before) == []
    assert onnx_converter_state() == converter_before


def test_keras_onnx_export_still_patches_after_kerasx(tmp_path):
    """kerasx clears Keras's "already patched" cache, so Keras's own export still works."""
    _require_writes("onnx")
    import tf2onnx.tfonnx

    from kerasx._compat.export import tf2onnx_left_as_found

    model = big_model()
    kerasx.io.export(model, tmp_path / "kerasx.onnx", format="onnx", atol=1e-4)
    original = tf2onnx.tfonnx.rewrite_constant_fold
    with tf2onnx_left_as_found(), warnings.catch_warnings():  # as it was, for the next tests
        warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
        model.export(str(tmp_path / "keras.onnx"), format="onnx", verbose=False)
        assert tf2onnx.tfonnx.rewrite_constant_fold is not original  # Keras patched again
    assert (tmp_path / "keras.onnx").stat().st_size > 0
    assert tf2onnx.tfonnx.rewrite_constant_fold is original
