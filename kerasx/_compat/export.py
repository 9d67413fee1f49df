"""What `kerasx.io.export` needs to know about Keras's exporters, and the one clean-up it owes.

Checked on Keras 3.12.0 and 3.15.1 (with tf2onnx 1.17.0 and NumPy 2.4):

- `keras_exports_litert()`: whether `model.export(format="litert")` exists. Keras 3.12 offers
  `"tf_saved_model"`, `"onnx"` and `"openvino"` only; Keras 3.15 adds `"litert"`. Probed by
  looking for `keras.src.export.export_litert`, the function `Model.export` calls; on a Keras
  without it, kerasx refuses `format="litert"` with a message that says to upgrade Keras.
- `tf2onnx_left_as_found()`: Keras's ONNX exporter calls
  `keras.src.export.tf2onnx_lib.patch_tf2onnx()` (an `lru_cache`d function) before converting.
  It replaces `tf2onnx.tfonnx.rewrite_constant_fold` and `tf2onnx.graph.Node.get_value_attr`
  for the rest of the process, and Keras 3.15 also sets `numpy.object = object`. kerasx never
  leaves a patch behind after a call returns (DESIGN.md, principle 1), so this scope puts all
  three back as they were and, if the patch had not been applied before, clears the cache so
  that a later `model.export(format="onnx")` of the user's patches again as it would have. On a
  Keras without `patch_tf2onnx` the attributes are still restored; only the cache is left alone.

Neither is a fast path: there is no public alternative to fall back to, and neither needs one.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator
from typing import Any

from kerasx._compat._required import has_attributes

__all__ = ["keras_exports_litert", "tf2onnx_left_as_found"]

_EXPORT = "keras.src.export"
_TF2ONNX_LIB = "keras.src.export.tf2onnx_lib"

_ONNX_LOCK = threading.Lock()
"""One ONNX conversion at a time: each restores what the one before it found."""

_MISSING = object()


def keras_exports_litert() -> bool:
    """Whether this Keras's `model.export` accepts `format="litert"` (Keras 3.15.1: yes;
    3.12.0: no)."""
    return has_attributes(_EXPORT, "export_litert")


def _patch_points() -> list[tuple[Any, str]]:
    """The (owner, attribute) pairs Keras's `patch_tf2onnx` replaces or adds."""
    import numpy
    import tf2onnx.graph
    import tf2onnx.tfonnx

    return [
        (tf2onnx.tfonnx, "rewrite_constant_fold"),
        (tf2onnx.graph.Node, "get_value_attr"),
        (numpy, "object"),
    ]


def _keras_patch_cache() -> Any:
    """Keras's `lru_cache`d `patch_tf2onnx`, or None on a Keras without it."""
    if not has_attributes(_TF2ONNX_LIB, "patch_tf2onnx"):
        return None
    patch = importlib.import_module(_TF2ONNX_LIB).patch_tf2onnx
    return patch if hasattr(patch, "cache_info") and hasattr(patch, "cache_clear") else None


@contextlib.contextmanager
def tf2onnx_left_as_found() -> Iterator[None]:
    """Run an ONNX export, then leave tf2onnx, NumPy and Keras's patch cache as they were.

    Holds a lock for its duration, so two exports in two threads cannot restore each other's
    state out of order.

    Raises:
        ImportError: tf2onnx is not installed (callers check first).
    """
    with _ONNX_LOCK:
        points = _patch_points()
        # `vars()` sees an object's own attributes only: NumPy 2 answers `numpy.object` from a
        # module `__getattr__` (with a FutureWarning) without holding it.
        saved = [vars(owner).get(name, _MISSING) for owner, name in points]
        cache = _keras_patch_cache()
        already_patched = cache is not None and cache.cache_info().currsize > 0
        try:
            yield
        finally:
            for (owner, name), value in zip(points, saved):
                if value is _MISSING:
                    if name in vars(owner):
                        delattr(owner, name)
                elif vars(owner).get(name, _MISSING) is not value:
                    setattr(owner, name, value)
            if cache is not None and not already_patched:
                cache.cache_clear()
