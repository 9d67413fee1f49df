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
"""The pytest option that makes `gpu` tests fail, instead of being skipped, without a GPU."""


def gpu_available() -> bool:
    """Whether TensorFlow sees at least one GPU (imports TensorFlow).

    The `gpu` marker uses it; call it to choose a device or a batch size in a test.

    Returns:
        True when `tf.config.list_physical_devices("GPU")` lists at least one GPU.

    Example:

    >>> from kerasx.testing import gpu_available
    >>> device = "/GPU:0" if gpu_available() else "/CPU:0"
    >>> isinstance(gpu_available(), bool)
    True
    """
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--kerasx-require-gpu` to pytest's options (a pytest hook).

    Args:
        parser: the option parser pytest passes to the hook.

    Example:

    >>> import subprocess, sys
    >>> command = [sys.executable, "-m", "pytest", "-p", "kerasx.testing", "--help"]
    >>> "--kerasx-require-gpu" in subprocess.run(command, capture_output=True, text=True).stdout
    True
    """
    group = parser.getgroup("kerasx")
    group.addoption(
        REQUIRE_GPU_OPTION,
        action="store_true",
        default=False,
        help="fail, instead of skipping, tests marked `gpu` when TensorFlow sees no GPU",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the `gpu` marker (a pytest hook).

    Args:
        config: the pytest configuration.

    Example:

    >>> import subprocess, sys
    >>> command = [sys.executable, "-m", "pytest", "-p", "kerasx.testing", "--markers"]
    >>> "@pytest.mark.gpu: needs a GPU" in subprocess.run(command, capture_output=True,
    ...                                                   text=True).stdout
    True
    """
    config.addinivalue_line(
        "markers", "gpu: needs a GPU; skipped without one (fails under --kerasx-require-gpu)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests without a GPU, or mark them to fail under `--kerasx-require-gpu`.

    A pytest hook: TensorFlow is imported only when the run has `gpu` tests.

    Args:
        config: the pytest configuration.
        items: the collected tests.

    Example:

    >>> import pathlib, subprocess, sys, tempfile
    >>> from kerasx.testing import gpu_available
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "test_gpu.py").write_text('''
    ... import pytest
    ...
    ... @pytest.mark.gpu
    ... def test_on_the_gpu():
    ...     pass
    ... ''')
    >>> command = [sys.executable, "-m", "pytest", "-p", "kerasx.testing", "-q", "-rs"]
    >>> report = subprocess.run(command, cwd=folder, capture_output=True, text=True).stdout
    >>> ("1 passed" if gpu_available() else "needs a GPU; TensorFlow sees none") in report
    True
    """
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
    """Fail a `gpu` test at set-up when a GPU was required but none is visible.

    A pytest hook; with `--kerasx-require-gpu` on a machine where TensorFlow sees no GPU,
    every `gpu` test fails with a message that says so, and the run exits with code 1.

    Args:
        item: the test about to run.

    Raises:
        Failed: the test is marked `gpu`, the run was given `--kerasx-require-gpu`, and
            TensorFlow sees no GPU (raised by `pytest.fail`: the test fails at set-up).

    Example:

    >>> import pathlib, subprocess, sys, tempfile
    >>> from kerasx.testing import gpu_available
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "test_gpu.py").write_text('''
    ... import pytest
    ...
    ... @pytest.mark.gpu
    ... def test_on_the_gpu():
    ...     pass
    ... ''')
    >>> command = [sys.executable, "-m", "pytest", "-p", "kerasx.testing", "-q",
    ...            "--kerasx-require-gpu"]
    >>> run = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    >>> if gpu_available():
    ...     assert run.returncode == 0
    ... else:
    ...     assert run.returncode == 1 and "TensorFlow sees no GPU" in run.stdout
    """
    reason = item.config.stash.get(_missing_gpu_key, None)
    if reason is not None and item.get_closest_marker("gpu") is not None:
        pytest.fail(reason, pytrace=False)


def make_tiny_model(seed: int = 0) -> tuple[Any, tuple[Any, Any]]:
    """A compiled 4-input, 3-class classifier and 64 samples of separable data for it.

    Args:
        seed: seeds the data and the initial weights. Defaults to `0`.

    Returns:
        `(model, (x, y))`: `x` has shape `(64, 4)` (float32), `y` shape `(64,)` (int32
        labels 0 to 2).

    Example:

    >>> from kerasx.testing import make_tiny_model
    >>> model, (x, y) = make_tiny_model(seed=1)
    >>> x.shape, y.shape, model.output_shape
    ((64, 4), (64,), (None, 3))
    >>> history = model.fit(x, y, epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
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
    """A pytest fixture: a compiled tiny classifier and data it can learn.

    A new model for every test that requests it, from `make_tiny_model()` (seed 0).

    Returns:
        `(model, (x, y))`, as `make_tiny_model` gives it.

    Example:

    >>> import pathlib, subprocess, sys, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "test_tiny.py").write_text('''
    ... def test_learns(tiny_model):
    ...     model, (x, y) = tiny_model
    ...     history = model.fit(x, y, epochs=2, verbose=0)
    ...     assert history.history["loss"][-1] < history.history["loss"][0]
    ... ''')
    >>> command = [sys.executable, "-m", "pytest", "-p", "kerasx.testing", "-q"]
    >>> "1 passed" in subprocess.run(command, cwd=folder, capture_output=True, text=True).stdout
    True
    """
    return make_tiny_model()


@pytest.fixture
def keras_isolation() -> Iterator[None]:
    """Clear the Keras session and restore the global dtype policy after the test.

    Keras's layer-name counters and its global dtype policy are process-wide: without this, a
    test that sets `mixed_float16` or builds layers changes what the next test sees. Request it
    in a test, or make it apply to every test with an autouse fixture in your `conftest.py`.
    Nothing is imported if the test never loaded Keras.

    Example:

    >>> import pathlib, subprocess, sys, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "test_policy.py").write_text('''
    ... import keras
    ...
    ... def test_mixed_precision(keras_isolation):
    ...     keras.config.set_dtype_policy("mixed_float16")  # undone after the test
    ...
    ... def test_next_test_sees_float32(keras_isolation):
    ...     assert keras.config.dtype_policy().name == "float32"
    ... ''')
    >>> command = [sys.executable, "-m", "pytest", "-p", "kerasx.testing", "-q"]
    >>> "2 passed" in subprocess.run(command, cwd=folder, capture_output=True, text=True).stdout
    True
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
