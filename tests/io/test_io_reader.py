"""kerasx.io._reader: the one reader of `.keras` archives and HDF5 files.

`load`, `load_weights`, `inspect` and `weight_stats_from_file` all read files through it; these
tests pin what it gives for each layout, and that no other module opens a model file itself.
"""

from __future__ import annotations

import ast
import shutil
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import kerasx.io
from kerasx.errors import CorruptFileError, SerializationError
from kerasx.io._reader import (
    KERAS_WEIGHTS,
    LEGACY_MODEL,
    LEGACY_WEIGHTS,
    open_model_file,
)

PACKAGE = Path(kerasx.io.__file__).resolve().parent.parent

EXPECTED_LAYERS = [
    ("hidden", ["kernel", "bias"], True),
    ("block/inner", ["kernel", "bias"], False),
    ("block/norm", ["gamma", "beta"], False),
    ("out", ["kernel"], True),
]
"""What every file that has the model's configuration gives (layers with weights only)."""

WITHOUT_CONFIGURATION = [
    ("hidden", ["kernel", "bias"], True),
    ("block", ["inner/kernel", "inner/bias", "norm/gamma", "norm/beta"], True),
    ("out", ["kernel"], True),
]
"""A legacy weights file has no configuration to tell that `block` is a nested model."""


def _model() -> keras.Model:
    block = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="inner"),
            keras.layers.LayerNormalization(name="norm"),
        ],
        name="block",
    )
    inputs = keras.Input((2,))
    x = keras.layers.Dense(4, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(1, use_bias=False, name="out")(block(x))
    return keras.Model(inputs, outputs)


@pytest.fixture
def saved(tmp_path):
    """The same model as `.keras`, legacy `.h5`, `.weights.h5` and legacy weights `.h5`."""
    model = _model()
    paths = {
        "keras": kerasx.io.save(model, tmp_path / "m.keras"),
        "h5": kerasx.io.save(model, tmp_path / "m.h5"),
        "weights": kerasx.io.save_weights(model, tmp_path / "m.weights.h5"),
        "legacy_weights": kerasx.io.save_weights(model, tmp_path / "w.h5"),
    }
    return model, paths


def _layers(source, **kwargs) -> list[tuple[str, list[str], bool]]:
    with open_model_file(source, **kwargs) as model_file:
        return [
            (layer.name, [name for name, _ in layer.arrays], layer.top_level)
            for layer in model_file.layers()
        ]


def test_every_layout_gives_the_same_layers_and_values(saved):
    model, paths = saved
    layouts = {
        "keras": KERAS_WEIGHTS,
        "h5": LEGACY_MODEL,
        "weights": KERAS_WEIGHTS,
        "legacy_weights": LEGACY_WEIGHTS,
    }
    for kind, path in paths.items():
        expected = WITHOUT_CONFIGURATION if kind == "legacy_weights" else EXPECTED_LAYERS
        assert _layers(path) == expected, kind
        with open_model_file(path) as model_file:
            assert model_file.weights_layout() == layouts[kind]
            values = [array for layer in model_file.layers() for _, array in layer.arrays]
        for got, expected in zip(values, model.get_weights(), strict=True):
            np.testing.assert_array_equal(got, expected)


def test_format_comes_from_the_content_and_bytes_read_like_paths(saved, tmp_path):
    _, paths = saved
    for kind, path in paths.items():
        renamed = shutil.copy(path, tmp_path / f"{kind}.bin")
        with open_model_file(renamed) as model_file:
            assert model_file.kind == ("keras" if kind == "keras" else "h5")
        assert _layers(Path(path).read_bytes()) == _layers(path)


def test_configuration_strict_for_loading_tolerant_for_names(saved, tmp_path):
    _, paths = saved
    with open_model_file(paths["keras"]) as model_file:
        assert model_file.config()["class_name"] == "Functional"
        assert [entry["name"] for entry in model_file.architecture()["layers"]][1] == "hidden"
    with open_model_file(paths["weights"]) as model_file:
        assert model_file.config() is None and model_file.architecture() is None
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(paths["keras"]) as source, zipfile.ZipFile(broken, "w") as target:
        target.writestr("config.json", "{not json")
        target.writestr("model.weights.h5", source.read("model.weights.h5"))
    with open_model_file(broken) as model_file:
        assert model_file.architecture() is None  # the weights are still named and read
        assert [name for name, _, _ in _layers(broken)] == [
            "hidden", "block/inner", "block/norm", "out"
        ]  # fmt: skip
        with pytest.raises(SerializationError, match=r"Invalid JSON in config\.json of"):
            model_file.config()


def test_long_lists_split_in_chunks_are_read(saved):
    # HDF5 limits an attribute's size; Keras then writes `layer_names0`, `layer_names1`, ...
    model, paths = saved
    path = paths["legacy_weights"]
    with h5py.File(path, "r+") as h5:
        names = list(h5.attrs["layer_names"])
        del h5.attrs["layer_names"]
        h5.attrs["layer_names0"] = names[:2]
        h5.attrs["layer_names1"] = names[2:]
    assert _layers(path) == WITHOUT_CONFIGURATION
    fresh = _model()
    kerasx.io.load_weights(fresh, path)
    for got, expected in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_weights_view_only_for_a_stored_member_of_bytes(saved, tmp_path):
    _, paths = saved
    data = paths["keras"].read_bytes()
    with zipfile.ZipFile(paths["keras"]) as archive:
        member = archive.read("model.weights.h5")
    with open_model_file(data, kind="keras") as model_file:
        view = model_file.weights_view()
        assert view is not None and bytes(view) == member
    with open_model_file(paths["keras"]) as model_file:
        assert model_file.weights_view() is None  # read from the path: no private copy
    deflated = tmp_path / "deflated.keras"
    with (
        zipfile.ZipFile(paths["keras"]) as source,
        zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            target.writestr(name, source.read(name))
    with open_model_file(deflated.read_bytes(), kind="keras") as model_file:
        assert model_file.weights_view() is None


def test_counts_and_optimizer_state(saved, tmp_path):
    model, paths = saved
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
    compiled = kerasx.io.save(model, tmp_path / "compiled.keras")
    legacy = kerasx.io.save(model, tmp_path / "compiled.h5")
    for path in (compiled, legacy):
        with open_model_file(path) as model_file:
            assert model_file.weight_value_count() == model.count_params()
            assert model_file.has_optimizer_state()
    with open_model_file(paths["keras"]) as model_file:
        assert not model_file.has_optimizer_state()


def test_damaged_files_name_the_problem(tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(CorruptFileError, match=r"not an HDF5 file.*garbage\.h5"):
        open_model_file(garbage)
    empty_archive = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty_archive, "w") as archive:
        archive.writestr("config.json", "{}")
    with open_model_file(empty_archive) as model_file:
        assert model_file.weights() is None
        with pytest.raises(CorruptFileError, match=r"no `model\.weights\.h5` member") as info:
            list(model_file.layers())
    assert isinstance(info.value.__cause__, KeyError)


# Modules that may open a zip archive or an HDF5 file for reading: the reader, and the
# zero-copy `.keras` loader, which hands the reader's view of the weights to Keras's own store.
READERS = {"kerasx/io/_reader.py", "kerasx/io/_keras_zip.py"}


def _opens_for_reading(call: ast.Call) -> bool:
    name = ast.unparse(call.func)
    if name not in ("zipfile.ZipFile", "h5py.File"):
        return False
    modes = [ast.literal_eval(a) for a in call.args[1:2] if isinstance(a, ast.Constant)]
    modes += [ast.literal_eval(k.value) for k in call.keywords if k.arg == "mode"]
    return not modes or modes[0] == "r"


def test_no_other_module_reads_model_files_itself():
    readers = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Call) and _opens_for_reading(n) for n in ast.walk(tree)):
            readers.add(path.relative_to(PACKAGE.parent).as_posix())
    assert readers <= READERS
    assert "kerasx/io/_reader.py" in readers
