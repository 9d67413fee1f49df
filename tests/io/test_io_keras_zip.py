"""kerasx.io's own `.keras` reader and writer (kerasx/io/_keras_zip.py).

They must produce and accept exactly what Keras does, verify the weights member's CRC, fall
back to Keras for archives they do not handle, and let variables adopt freshly read arrays
without ever sharing memory with an array the user holds. They are the fast path
`keras_archive`; with `KERASX_DISABLE_FAST_PATHS=1` the same files go through Keras's public
`model.save` and `keras.saving.load_model`, and the tests of adoption are skipped.
"""

from __future__ import annotations

import gc
import warnings
import weakref
import zipfile

import h5py
import keras
import numpy as np
import pytest

import kerasx._compat
import kerasx.io
from kerasx._compat.keras_archive import KERAS_ARCHIVE
from kerasx.errors import CorruptFileError
from kerasx.io import _keras_zip

adoption = pytest.mark.skipif(
    kerasx._compat.fast_paths_disabled(),
    reason="KERASX_DISABLE_FAST_PATHS=1: arrays are read and copied by Keras's public loader",
)


def _big_model(dtype: str = "float32", seed: int = 0) -> keras.Model:
    """A model whose kernel (600 x 512) is over the 1 MiB adoption threshold."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((600,)),
            keras.layers.Dense(512, activation="relu", name="big", dtype=dtype),
            keras.layers.Dense(3, name="out", dtype=dtype),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(seed).random((16, 600)).astype(dtype)
    model.fit(x, np.zeros((16, 3), dtype), epochs=1, batch_size=8, verbose=0)
    return model


def _all_values(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in model.variables + model.optimizer.variables]


def _datasets(path) -> dict[str, tuple[tuple[int, ...], str]]:
    with zipfile.ZipFile(path) as archive, h5py.File(archive.open("model.weights.h5")) as h5:
        found: dict[str, tuple[tuple[int, ...], str]] = {}

        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                found[name] = (item.shape, item.dtype.str)

        h5.visititems(visit)
    return found


def test_fast_paths_are_available_on_this_keras():
    # If a Keras upgrade removes a private helper, kerasx falls back to model.save and
    # keras.saving.load_model (with one warning); this test makes that visible in CI too.
    report = kerasx._compat.fast_paths()[KERAS_ARCHIVE]
    assert "lacks the internals" not in report["reason"]


def test_archive_matches_keras_layout_and_keras_reads_it(tmp_path):
    model = _big_model()
    ours, theirs = tmp_path / "ours.keras", tmp_path / "theirs.keras"
    kerasx.io.save(model, ours)
    model.save(theirs)
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        assert a.read("config.json") == b.read("config.json")
        assert a.getinfo("model.weights.h5").compress_type == zipfile.ZIP_STORED
    assert _datasets(ours) == _datasets(theirs)
    by_keras = keras.saving.load_model(ours)
    for expected, got in zip(_all_values(model), _all_values(by_keras), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_load_of_keras_written_archive_is_exact_and_trains_like_keras(tmp_path):
    model = _big_model()
    path = tmp_path / "model.keras"
    model.save(path)
    ours = kerasx.io.load(path)
    theirs = keras.saving.load_model(path)
    for expected, got in zip(_all_values(theirs), _all_values(ours), strict=True):
        np.testing.assert_array_equal(got, expected)
    # One more step on both: adopted buffers are updated in place like Keras's own.
    x = np.random.default_rng(1).random((8, 600), dtype=np.float32)
    y = np.ones((8, 3), np.float32)
    ours.fit(x, y, epochs=1, verbose=0)
    theirs.fit(x, y, epochs=1, verbose=0)
    for expected, got in zip(_all_values(theirs), _all_values(ours), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.fixture
def saved(tmp_path):
    """A `.keras` file of `_big_model()` written by kerasx."""
    path = tmp_path / "model.keras"
    kerasx.io.save(_big_model(), path)
    return path


def _recording_file_arrays(monkeypatch, kept: list | None = None) -> list[weakref.ref]:
    """Record (weakly) every adoptable array the reader makes; keep the first in `kept`."""
    offered: list[weakref.ref] = []
    original = _keras_zip._file_array

    def recording(shape, dtype):
        array = original(shape, dtype)
        offered.append(weakref.ref(array))
        if kept is not None and not kept:
            kept.append(array)
        return array

    monkeypatch.setattr(_keras_zip, "_file_array", recording)
    return offered


@adoption
def test_every_offered_array_is_adopted_then_freed_with_the_model(saved, monkeypatch):
    offered = _recording_file_arrays(monkeypatch)
    model = kerasx.io.load(saved)
    # The 600x512 kernel and its two Adam slots are over the threshold; all three were taken.
    assert len(offered) == 3
    assert not any(ref()._adoptable for ref in offered)  # none is still on offer
    assert all(ref() is not None for ref in offered)  # alive: they are the variables' buffers
    kernel = model.get_layer("big").kernel
    array = next(ref() for ref in offered if ref().shape == (600, 512))
    array[0, 0] = 42.0  # the variable's own memory (nobody else holds the array)
    assert float(kernel[0, 0]) == 42.0
    del model, kernel, array
    gc.collect()
    assert all(ref() is None for ref in offered)


@adoption
def test_arrays_no_variable_took_are_withdrawn_after_loading(saved, monkeypatch):
    kept: list[np.ndarray] = []
    # The first array: a copy goes to the variable, as a custom layer might do.
    _recording_file_arrays(monkeypatch, kept)
    monkeypatch.setattr(
        keras.Variable,
        "assign",
        lambda self, value, _a=keras.Variable.assign: _a(
            self, np.array(value) if value is (kept[0] if kept else None) else value
        ),
    )
    kerasx.io.load(saved)
    assert not kept[0]._adoptable  # withdrawn, though never claimed
    variable = keras.Variable(np.zeros(kept[0].shape, np.float32))
    variable.assign(kept[0])
    kept[0][0, 0] = 123.0
    assert float(variable[0, 0]) != 123.0  # copied, not adopted


def test_user_arrays_are_still_copied_by_assign():
    variable = keras.Variable(np.zeros((600, 512), np.float32))
    mine = np.ones((600, 512), np.float32)
    variable.assign(mine)
    mine[0, 0] = 5.0
    assert float(variable[0, 0]) == 1.0


def test_an_offered_array_is_adopted_once_only():
    array = _keras_zip._file_array((600, 512), np.float32)
    array.fill(2.0)
    assert array.ctypes.data % 64 == 0
    first = keras.Variable(np.zeros((600, 512), np.float32))
    second = keras.Variable(np.zeros((600, 512), np.float32))
    first.assign(array)
    second.assign(array)  # no longer offered: copied
    second.assign_add(np.ones((600, 512), np.float32))
    assert float(first[0, 0]) == 2.0 and float(second[0, 0]) == 3.0


@pytest.mark.parametrize("dtype", ["float64", "bfloat16"])
def test_other_dtypes_round_trip(tmp_path, dtype):
    model = _big_model(dtype)
    path = tmp_path / "model.keras"
    kerasx.io.save(model, path)
    for loaded in (kerasx.io.load(path), keras.saving.load_model(path)):
        for expected, got in zip(_all_values(model), _all_values(loaded), strict=True):
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_assets_round_trip(tmp_path):
    inputs = keras.Input((1,), dtype="string")
    lookup = keras.layers.StringLookup(name="lookup")
    lookup.adapt(np.array(["a", "b", "b", "c", "c", "c"]))  # adapted: saved as an asset
    model = keras.Model(inputs, lookup(inputs))
    path = tmp_path / "lookup.keras"
    kerasx.io.save(model, path)
    with zipfile.ZipFile(path) as archive:
        assert any(name.startswith("assets/") for name in archive.namelist())
    words = np.array([["b"], ["c"], ["zz"]])
    expected = np.array(model(words))
    for loaded in (kerasx.io.load(path), keras.saving.load_model(path)):
        np.testing.assert_array_equal(np.array(loaded(words)), expected)


def test_compressed_archive_falls_back_to_keras(tmp_path):
    model = _big_model()
    stored, deflated = tmp_path / "stored.keras", tmp_path / "deflated.keras"
    kerasx.io.save(model, stored)
    with (
        zipfile.ZipFile(stored) as src,
        zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    loaded = kerasx.io.load(deflated)
    for expected, got in zip(_all_values(model), _all_values(loaded), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_damaged_weights_bytes_fail_the_crc_check(saved):
    path = saved
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF  # inside the kernel's bytes: HDF5 itself would not notice
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"model\.weights\.h5` is damaged.*model\.keras"):
        kerasx.io.load(path)


def test_failure_while_writing_weights_keeps_the_previous_file(tmp_path):
    path = tmp_path / "model.keras"
    model = _big_model()
    kerasx.io.save(model, path)
    before = path.read_bytes()

    @keras.saving.register_keras_serializable(package="kerasx_tests")
    class Exploding(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(2,), initializer="ones")

        def call(self, x):
            return x

        def save_own_variables(self, store):
            raise RuntimeError("disk full, say")

    broken = keras.Sequential([keras.Input((2,)), Exploding()])
    with pytest.raises(RuntimeError, match="disk full"):
        kerasx.io.save(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


@pytest.fixture
def internals_missing(monkeypatch):
    """Make kerasx believe this Keras lacks the internals of its `.keras` fast path."""
    monkeypatch.delenv(kerasx._compat.DISABLE_FAST_PATHS_ENV, raising=False)
    monkeypatch.setitem(kerasx._compat._PROBED, KERAS_ARCHIVE, False)
    monkeypatch.setattr(kerasx._compat, "_WARNED", set())


def test_without_the_internals_kerasx_warns_once_and_uses_keras(tmp_path, internals_missing):
    model = _big_model()
    path = tmp_path / "model.keras"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kerasx.io.save(model, path)
        loaded = kerasx.io.load(path)
    ours = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(ours) == 1 and "fast path 'keras_archive' is off" in ours[0]
    for expected, got in zip(_all_values(model), _all_values(loaded), strict=True):
        np.testing.assert_array_equal(got, expected)
    by_keras = keras.saving.load_model(path)  # the public writer's file, as Keras reads it
    for expected, got in zip(_all_values(model), _all_values(by_keras), strict=True):
        np.testing.assert_array_equal(got, expected)
