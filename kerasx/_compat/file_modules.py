"""Module paths that Keras and TensorFlow write into saved files, kept here as data.

Nothing here is imported: the safety scan and the Keras 2 translator compare the `module` keys
of a file's config with these strings. They name Keras's and TensorFlow's private packages, so
they live behind the compatibility seam with the rest of kerasx's knowledge of those packages.
Checked on files written by tf.keras 2.15 and Keras 3.12 to 3.15.
"""

from __future__ import annotations

__all__ = ["KERAS_PRIVATE_FUNCTION_MODULES", "TF_INITIALIZER_MODULE"]

KERAS_PRIVATE_FUNCTION_MODULES: tuple[str, ...] = (
    "keras.src.activations",
    "keras.src.losses",
    "keras.src.metrics",
    "keras.src.initializers",
    "keras.src.regularizers",
)
"""Where Keras 3 writes that a serialised plain function (an activation, a loss, ...) lives."""

TF_INITIALIZER_MODULE = "tensorflow.python.ops.init_ops_v2"
"""Where tf.keras 2 wrote that TensorFlow's own initializer classes live."""
