"""kerasx._compat: fast paths switch off with one warning, required internals fail clearly."""

from __future__ import annotations

import warnings

import pytest

import kerasx._compat as compat
from kerasx.errors import MissingDependencyError


@pytest.fixture
def registered(monkeypatch):
    """Two throwaway fast paths, one whose internals exist and one whose do not."""
    monkeypatch.setattr(compat, "_REGISTRY", {})
    monkeypatch.setattr(compat, "_PROBED", {})
    monkeypatch.setattr(compat, "_WARNED", set())
    monkeypatch.delenv(compat.DISABLE_FAST_PATHS_ENV, raising=False)
    compat.register_fast_path("present", "reads files faster", lambda: True)
    compat.register_fast_path("missing", "writes files faster", lambda: False)
    compat.register_fast_path("broken", "probe raises", lambda: 1 / 0)


def test_version_tuple_reads_leading_numbers():
    assert compat.version_tuple("3.15.1") == (3, 15, 1)
    assert compat.version_tuple("2.21.0rc1") == (2, 21, 0)
    assert compat.version_tuple("3.12.0.dev2025+local") == (3, 12, 0)
    assert compat.version_tuple("3.x") == (3,)


def test_tested_range_is_ordered_and_holds_the_installed_versions():
    import keras
    import tensorflow as tf

    for low, high in (compat.TESTED_KERAS, compat.TESTED_TENSORFLOW):
        assert compat.version_tuple(low) <= compat.version_tuple(high)
    low, high = compat.TESTED_KERAS
    assert compat.version_tuple(low) <= compat.version_tuple(keras.__version__)[:3]
    assert compat.version_tuple(keras.__version__)[:3] <= compat.version_tuple(high)
    low, high = compat.TESTED_TENSORFLOW
    assert compat.version_tuple(low) <= compat.version_tuple(tf.__version__)[:3]
    assert compat.version_tuple(tf.__version__)[:3] <= compat.version_tuple(high)


def test_a_present_fast_path_is_on_without_a_warning(registered):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compat.fast_path_enabled("present") is True


def test_a_missing_fast_path_is_off_and_warns_once(registered):
    with pytest.warns(RuntimeWarning, match=r"fast path 'missing' is off.*writes files faster"):
        assert compat.fast_path_enabled("missing") is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compat.fast_path_enabled("missing") is False  # no second warning
    with pytest.warns(RuntimeWarning, match="'broken' is off"):
        assert compat.fast_path_enabled("broken") is False


def test_the_environment_variable_turns_every_fast_path_off_silently(registered, monkeypatch):
    monkeypatch.setenv(compat.DISABLE_FAST_PATHS_ENV, "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compat.fast_path_enabled("present") is False
    report = compat.fast_paths()
    assert report["present"]["active"] is False
    assert report["present"]["reason"] == "KERASX_DISABLE_FAST_PATHS is set"
    monkeypatch.setenv(compat.DISABLE_FAST_PATHS_ENV, "0")
    assert compat.fast_path_enabled("present") is True


def test_fast_paths_reports_each_with_its_reason(registered):
    report = compat.fast_paths()
    assert set(report) == {"present", "missing", "broken"}
    assert report["present"] == {"active": True, "reason": "", "description": "reads files faster"}
    assert report["missing"]["active"] is False
    assert "lacks the internals" in report["missing"]["reason"]


def test_every_real_fast_path_is_registered_with_a_description():
    report = compat.fast_paths()  # imports every module that registers one
    assert set(report) == set(compat._REGISTRY)
    for name, path in report.items():
        assert path["description"], name


def test_a_missing_required_internal_names_the_version_and_the_fix():
    import keras

    expected = r"reading old files needs keras\.src\.nope"
    with pytest.raises(MissingDependencyError, match=expected) as info:
        compat.internal_module("keras.src.nope", needed_for="reading old files")
    message = str(info.value)
    assert keras.__version__ in message
    assert f"keras>={compat.TESTED_KERAS[0]},<={compat.TESTED_KERAS[1]}" in message
    assert isinstance(info.value.__cause__, ImportError)
