"""Every `tf.keras.applications` family of TensorFlow 2.15 rebuilds from its Keras 2 JSON.

The JSON files (gzipped) and Keras 2's parameter counts in
tests/io/fixtures/legacy/applications/ were written by make_keras2_applications.py under
TensorFlow 2.15. Each is rebuilt through `kerasx.models.model_from_json` in safe mode.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import kerasx.models

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy" / "applications"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())

pytestmark = pytest.mark.slow


def test_fixtures_cover_every_application_module_of_keras_2():
    assert MANIFEST["tensorflow"].startswith("2.15")
    assert len(MANIFEST["models"]) >= 16
    classes = {c for model in MANIFEST["models"].values() for c in model["layer_classes"]}
    assert {"TFOpLambda", "CustomScaleLayer", "LayerScale", "SeparableConv2D",
            "DepthwiseConv2D"} <= classes


@pytest.mark.parametrize("name", sorted(MANIFEST["models"]))
def test_family_rebuilds_with_keras_2_parameter_count(name):
    text = gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes()).decode("utf-8")
    model = kerasx.models.model_from_json(text)
    expected = MANIFEST["models"][name]
    assert model.count_params() == expected["params"]
    assert model.input_shape == (None, *expected["input_shape"])
