"""The lazy identity facades: every Keras name handed on unchanged, resolved on first use."""

from __future__ import annotations

import keras
import pytest

import kerasx
from kerasx import callbacks, layers, models
from kerasx._lazy import public_names

FACADES = [
    (layers, keras.layers, ()),
    (callbacks, keras.callbacks, ()),
    (models, keras.models, models.OVERRIDDEN_KERAS_NAMES),
]


@pytest.mark.parametrize(("facade", "source", "overridden"), FACADES, ids=lambda v: str(v))
def test_every_public_keras_name_is_the_same_object(facade, source, overridden):
    names = public_names(source)
    assert len(names) > 5
    mismatched = [
        name
        for name in names
        if name not in overridden and getattr(facade, name) is not getattr(source, name)
    ]
    assert mismatched == []


@pytest.mark.parametrize(("facade", "source", "overridden"), FACADES, ids=lambda v: str(v))
def test_dir_and_all_list_keras_names_and_own_names(facade, source, overridden):
    listed = set(dir(facade))
    assert set(public_names(source)) <= listed
    assert set(facade.OWN_NAMES) <= listed
    assert set(facade.__all__) == set(public_names(source)) | set(facade.OWN_NAMES)


def test_models_replaces_only_the_seed_save_and_load_calls():
    assert models.Sequential is keras.models.Sequential
    assert models.Model is keras.Model
    assert models.Input is keras.Input
    assert models.clone_model is keras.models.clone_model
    for name in models.OVERRIDDEN_KERAS_NAMES:
        assert name in public_names(keras.models)
    assert models.load_model is kerasx.io.load
    assert models.save_model is kerasx.io.save
    assert models.model_from_json is kerasx.io.from_json


def test_unknown_name_names_the_module_and_suggests_close_matches():
    with pytest.raises(AttributeError, match=r"'kerasx.layers' has no attribute 'Dens'.*'Dense'"):
        _ = layers.Dens
    pattern = r"'kerasx.callbacks'.*'EarlyStoping'.*'EarlyStopping'"
    with pytest.raises(AttributeError, match=pattern):
        _ = callbacks.EarlyStoping
    with pytest.raises(AttributeError, match=r"'kerasx.layers'.*'dense'.*Did you mean: 'Dense'"):
        _ = layers.dense


def test_unknown_name_without_close_match_has_no_suggestion():
    with pytest.raises(AttributeError) as info:
        _ = layers.zzzzzzzz_not_a_layer
    assert "Did you mean" not in str(info.value)
    assert "kerasx.layers" in str(info.value)


def test_getattr_and_from_import_agree():
    from kerasx.layers import Conv2D, Dense

    assert Dense is keras.layers.Dense
    assert Conv2D is layers.Conv2D


def test_top_level_shortcuts_resolve_to_their_modules():
    assert kerasx.layers is layers
    assert kerasx.errors.KerasxError.__module__ == "kerasx.errors"
    for name in ("callbacks", "data", "datasets", "errors", "io", "layers", "models", "viz"):
        assert getattr(kerasx, name).__name__ == f"kerasx.{name}"
    with pytest.raises(AttributeError, match=r"'kerasx' has no attribute 'modles'.*'models'"):
        _ = kerasx.modles
