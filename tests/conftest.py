"""Shared test set-up.

Markers are registered in pyproject.toml (`slow`, `notebook`) and by the `kerasx.testing`
plugin (`gpu`), which kerasx installs as a pytest11 entry point and which also provides the
`tiny_model` fixture and Keras session isolation between tests.
"""

from __future__ import annotations

import os

import pytest

# Quiet TensorFlow's C++ start-up logs here and in the subprocesses the tests start.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def op_determinism():
    """`tf.config.experimental.enable_op_determinism()` for one test, then as it was."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_on:
        tf_config.disable_op_determinism()
