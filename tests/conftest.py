"""Shared test set-up.

Markers are registered in pyproject.toml (`slow`, `notebook`) and by the `kerasx.testing`
plugin (`gpu`), which kerasx installs as a pytest11 entry point and which also provides the
`tiny_model` fixture and Keras session isolation between tests.
"""

from __future__ import annotations

import os

# Quiet TensorFlow's C++ start-up logs here and in the subprocesses the tests start.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
