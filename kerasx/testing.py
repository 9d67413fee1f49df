"""A pytest plugin for test suites that use Keras. Opt in to use it; installing kerasx alone
changes no test suite.

Turn it on in your `conftest.py` (at the root of your tests):

```python
pytest_plugins = ["kerasx.testing"]
```

or for one run with `pytest -p kerasx.testing`. It then gives your suite:

- the `gpu` marker: `@pytest.mark.gpu` tests are skipped when TensorFlow sees no GPU, and fail
  instead under `--kerasx-require-gpu` (use it on GPU runners, so a broken driver cannot turn a
  GPU job green by skipping everything);
- the `tiny_model` fixture: a small compiled classifier (4 inputs, 3 classes) and data for it;
- the `keras_isolation` fixture: after the test, it clears the Keras session and restores the
  global dtype policy, so one test's `mixed_float16` or layer names cannot leak into the next.
  It is not applied by itself; request it where you want it, or for every test with an autouse
  fixture of your own:

```python
import pytest

pytest_plugins = ["kerasx.testing"]

@pytest.fixture(autouse=True)
def _isolated(keras_isolation):
    yield
```

It imports nothing heavy unless a test needs it: suites that never touch Keras pay nothing.

Example:

```python
import pytest

@pytest.mark.gpu
def test_trains_on_gpu(tiny_model):
    model, (x, y) = tiny_model
    model.fit(x, y, epochs=1, verbose=0)
```
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = [
    "REQUIRE_GPU_OPTION",
    "gpu_available",
    "keras_isolation",
    "make_tiny_model",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_setup",
    "tiny_model",
]

REQUIRE_GPU_OPTION = "--kerasx-require-gpu"


def gpu_available() -> bool:
    """Whether TensorFlow sees at least one GPU (imports TensorFlow)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--kerasx-require-gpu` to pytest's options."""
    group = parser.getgroup("kerasx")
    group.addoption(
        REQUIRE_GPU_OPTION,
        action="store_true",
        default=False,
        help="fail, instead of skipping, tests marked `gpu` when TensorFlow sees no GPU",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the `gpu` marker."""
    config.addinivalue_line(
        "markers", "gpu: needs a GPU; skipped without one (fails under --kerasx-require-gpu)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests without a GPU, or mark them to fail under `--kerasx-require-gpu`."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items or gpu_available():
        return
    if config.getoption(REQUIRE_GPU_OPTION):
        reason = (
            f"{REQUIRE_GPU_OPTION} was given but TensorFlow sees no GPU. "
            "Run `kerasx doctor` on this runner to see why."
        )
        config.stash[_missing_gpu_key] = reason
        return
    skip = pytest.mark.skip(reason="needs a GPU; TensorFlow sees none")
    for item in gpu_items:
        item.add_marker(skip)


_missing_gpu_key = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a `gpu` test at set-up when a GPU was required but none is visible."""
    reason = item.config.stash.get(_missing_gpu_key, None)
    if reason is not None and item.get_closest_marker("gpu") is not None:
        pytest.fail(reason, pytrace=False)


def make_tiny_model(seed: int = 0) -> tuple[Any, tuple[Any, Any]]:
    """A compiled 4-input, 3-class classifier and 64 samples of separable data for it.

    Args:
        seed: seeds the data and the initial weights. Defaults to `0`.

    Returns:
        `(model, (x, y))`.
    """
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((4,), name="features"),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="classes"),
        ],
        name="tiny",
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model, (x, y)


@pytest.fixture
def tiny_model() -> tuple[Any, tuple[Any, Any]]:
    """`(model, (x, y))`: a compiled tiny classifier and data it can learn."""
    return make_tiny_model()


@pytest.fixture
def keras_isolation() -> Iterator[None]:
    """Clear the Keras session and restore the global dtype policy after the test.

    Keras's layer-name counters and its global dtype policy are process-wide: without this, a
    test that sets `mixed_float16` or builds layers changes what the next test sees. Request it
    in a test, or make it apply to every test with an autouse fixture in your `conftest.py`.
    Nothing is imported if the test never loaded Keras.

    Example:

    ```python
    def test_mixed_precision(keras_isolation):
        import keras
        keras.config.set_dtype_policy("mixed_float16")  # undone after the test
    ```
    """
    keras = sys.modules.get("keras")
    policy = keras.config.dtype_policy() if keras is not None else None
    yield
    keras = sys.modules.get("keras")
    if keras is None:
        return
    # clear_session resets the dtype policy, so it goes first. Python's garbage collection is
    # left to Python: a full collection after every test costs more than it saves.
    keras.backend.clear_session(free_memory=False)
    keras.config.set_dtype_policy(policy if policy is not None else "float32")
