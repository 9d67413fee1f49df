"""Shared test set-up.

Markers are registered in pyproject.toml (`slow`, `notebook`) and by the `kerasx.testing`
plugin (`gpu`), which this suite opts into as any user's suite would; the plugin also provides
the `tiny_model` fixture and the `keras_isolation` fixture, applied here to every test.
"""

from __future__ import annotations

import os

import pytest

# Quiet TensorFlow's C++ start-up logs here and in the subprocesses the tests start.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

pytest_plugins = ["kerasx.testing"]


@pytest.fixture(autouse=True)
def _keras_isolated(keras_isolation):
    """Every test starts with a fresh Keras session and the float32 policy, and a test that
    turns on op determinism (`seed_everything(deterministic=True)` does) turns it off again."""
    import sys

    was_on = _op_determinism_enabled() if "tensorflow" in sys.modules else False
    yield
    if "tensorflow" in sys.modules and not was_on and _op_determinism_enabled():
        from kerasx._compat.tfconfig import disable_op_determinism

        disable_op_determinism()


def _op_determinism_enabled() -> bool:
    from kerasx._compat.tfconfig import op_determinism_enabled

    return op_determinism_enabled()


@pytest.fixture
def op_determinism():
    """`tf.config.experimental.enable_op_determinism()` for one test, then as it was."""
    import tensorflow as tf

    from kerasx._compat.tfconfig import disable_op_determinism, op_determinism_enabled

    was_on = op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_on:
        disable_op_determinism()
