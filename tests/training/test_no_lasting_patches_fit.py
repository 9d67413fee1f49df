"""`kerasx.fit` leaves Keras and TensorFlow as it found them, and the user's model too.

DESIGN.md, principle 1: after any kerasx call returns or raises, every Keras and TensorFlow
function, class and class attribute is the original object, and nothing of kerasx's stays on
the user's objects. Here:

- `snapshot()` records, by identity, every function, class and submodule of every loaded
  `keras` and `tensorflow.python.{distribute,data,eager}` module, and every attribute of the
  classes they define (`keras.Model`, `Trainer`, `TensorFlowTrainer`, `reduce_per_replica`,
  ...); `changes(before)` lists what is no longer the same object, and any kerasx function
  added;
- single process: `kerasx.fit` (with a run directory and a resume) changes nothing, not even
  while it trains, and neither does a `fit` that raises `DataError` for a bad batch;
- multi-worker (2 worker processes on 127.0.0.1, as in `test_distribute.py`), where kerasx
  works around keras-team/keras#20585 for the length of the call: the patches are active
  while training (so the snapshot does see them) and gone when `fit` returns, and when it
  raises `DataError` in the middle of an epoch;
- the context managers of `kerasx._compat.training` restore correctly when nested, when
  used from several threads at once, when the body raises, and when the model held its own
  attribute before; without the internals they need they raise `MissingDependencyError`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import kerasx
from kerasx._compat import training as compat_training
from kerasx.data import DataGenerator
from kerasx.errors import DataError, MissingDependencyError

from helpers import ROOT

_SNAPSHOT = '''
import inspect
import sys

_WATCHED = ("keras.", "tensorflow.python.distribute", "tensorflow.python.data",
            "tensorflow.python.eager")


def snapshot():
    """(module, name) and (module, class, name) -> object, for Keras's and TensorFlow's
    functions, classes and submodules, and every attribute of the classes they define."""
    taken = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "keras" or name.startswith(_WATCHED)):
            continue
        for attr, value in list(vars(module).items()):
            if callable(value) or inspect.ismodule(value):
                taken[(name, attr)] = value
            if isinstance(value, type) and value.__module__ == name:
                for class_attr, class_value in list(vars(value).items()):
                    taken[(name, attr, class_attr)] = class_value
    return taken


def kerasx_made(value):
    """Whether `value` is a function (or method, or partial) that kerasx defined."""
    function = getattr(value, "func", value)  # functools.partial
    function = getattr(function, "__func__", function)  # bound methods
    return inspect.isfunction(function) and (function.__module__ or "").startswith("kerasx")


def changes(before):
    """What is no longer the object `before` recorded, and kerasx functions added since."""
    after = snapshot()
    found = [".".join(key) for key, value in before.items() if after.get(key, value) is not value]
    found += [".".join(key) + " (removed)" for key in before if key not in after]
    found += [
        ".".join(key) + " (added)"
        for key, value in after.items()
        if key not in before and kerasx_made(value)
    ]
    return sorted(found)


def kerasx_functions(obj):
    """The names of the attributes of `obj` that hold a kerasx function."""
    return sorted(name for name, value in vars(obj).items() if kerasx_made(value))
'''

_helpers: dict[str, Any] = {}
exec(_SNAPSHOT, _helpers)  # the same code runs in the worker processes
snapshot, changes, kerasx_functions = (
    _helpers["snapshot"],
    _helpers["changes"],
    _helpers["kerasx_functions"],
)


def _data(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    return x, y


def _model() -> keras.Model:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(2, "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _BadFrom(DataGenerator):
    """Batches of 4 features; from sample `start` on, 5 features: a `DataError` in `fit`."""

    def __init__(self, x: np.ndarray, y: np.ndarray, start: int, **kwargs: Any) -> None:
        super().__init__(len(x), **kwargs)
        self.x, self.y, self.start = x, y, start

    def load_batch(self, indices: np.ndarray) -> Any:
        x = self.x[indices]
        if indices.min() >= self.start:
            x = np.concatenate([x, x[:, :1]], axis=1)
        return x, self.y[indices]


class _Watch(keras.callbacks.Callback):
    """Records, after the first batch, what kerasx has changed while the model trains."""

    def __init__(self, before: dict[Any, Any]) -> None:
        super().__init__()
        self.before = before
        self.during: list[str] | None = None

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.during is None:
            self.during = changes(self.before)


def test_single_process_fit_changes_nothing_even_while_training(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    kerasx.fit(model, x, y, epochs=1, batch_size=32, progress=False)  # imports and traces
    before = snapshot()
    watch = _Watch(before)
    for epochs in (1, 2):  # a new run, then a resumed one
        kerasx.fit(
            model, x, y, epochs=epochs, batch_size=32, validation_split=0.25,
            run_dir=tmp_path / "run", callbacks=["default", watch], progress=False,
        )  # fmt: skip
    assert watch.during == []
    assert changes(before) == []
    assert kerasx_functions(model) == []
    assert "_maybe_symbolic_build" not in vars(model)


def test_single_process_fit_that_raises_a_data_error_changes_nothing() -> None:
    x, y = _data()
    model = _model()
    kerasx.fit(model, x, y, epochs=1, batch_size=32, progress=False)
    before = snapshot()
    bad = _BadFrom(x, y, start=64, batch_size=32, shuffle=False)
    with pytest.raises(DataError, match="Batch 2 of _BadFrom"):
        kerasx.fit(model, bad, epochs=1, progress=False)
    assert changes(before) == []
    assert kerasx_functions(model) == []


_WORKER = (
    _SNAPSHOT
    + """
import json, os
import numpy as np
from kerasx import runtime
strategy = runtime.strategy("multiworker")
import keras, kerasx
from kerasx import models
from kerasx.data import DataGenerator
from kerasx.errors import DataError


class Watch(keras.callbacks.Callback):
    def __init__(self, before):
        super().__init__()
        self.before, self.during = before, None

    def on_train_batch_end(self, batch, logs=None):
        if self.during is None:
            self.during = {"changes": changes(self.before),
                           "pinned": kerasx_functions(self.model)}


class BadFrom(DataGenerator):
    def __init__(self, x, y, start, **kwargs):
        super().__init__(len(x), **kwargs)
        self.x, self.y, self.start = x, y, start

    def load_batch(self, indices):
        x = self.x[indices]
        if indices.min() >= self.start:
            x = np.concatenate([x, x[:, :1]], axis=1)
        return x, self.y[indices]


keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int32")
model = models.compile(models.mlp((8,), hidden=(16,), outputs=2, strategy=strategy))
before = snapshot()
watch = Watch(before)
history = kerasx.fit(model, x, y, epochs=2, batch_size=64, validation_data=(x[:64], y[:64]),
                     strategy=strategy, progress=False, callbacks=[watch])
print(json.dumps({"case": "returns", "loss": history.history["loss"], "during": watch.during,
                  "after": changes(before), "model": kerasx_functions(model)}), flush=True)

# Every batch from the fifth on is bad: each worker fails at its third step, as the
# other one (the input is sharded by batch), so neither waits on the other.
failing = models.compile(models.mlp((8,), hidden=(16,), outputs=2, strategy=strategy))
watch = Watch(before)
try:
    kerasx.fit(failing, BadFrom(x, y, start=128, batch_size=32, shuffle=False), epochs=2,
               strategy=strategy, progress=False, callbacks=[watch])
    raised = ""
except DataError as error:
    raised = type(error).__name__
print(json.dumps({"case": "raises", "raised": raised, "during": watch.during,
                  "after": changes(before), "model": kerasx_functions(failing)}), flush=True)
"""
)


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def two_workers() -> list[tuple[int, dict[str, Any], str]]:
    """Run `_WORKER` on 2 workers once; `[(returncode, {case: report}, stderr), ...]`."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    try:
        for index in range(2):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_CPP_MIN_LOG_LEVEL": "2"}
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", _WORKER],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [process.communicate(timeout=240) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    results = []
    for process, (stdout, stderr) in zip(processes, outputs):
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        results.append((process.returncode, {line["case"]: line for line in lines}, stderr))
    return results


@pytest.mark.slow
def test_multi_worker_fit_patches_only_while_it_trains(two_workers) -> None:
    for returncode, reports, stderr in two_workers:
        assert returncode == 0, stderr[-3000:]
        report = reports["returns"]
        # While training, the workaround is in place, and the snapshot sees it...
        # (the patched function's path, named once in kerasx._compat.training)
        assert report["during"]["changes"] == [f"{compat_training._TRAINER}.reduce_per_replica"]
        assert report["during"]["pinned"] == ["_maybe_symbolic_build"]
        # ...and once `fit` returns, it is gone.
        assert report["after"] == []
        assert report["model"] == []
    # It trained: one synchronised model on both workers.
    losses = [reports["returns"]["loss"] for _, reports, _ in two_workers]
    assert len(losses[0]) == 2 and losses[0] == pytest.approx(losses[1], rel=1e-6)


@pytest.mark.slow
def test_multi_worker_fit_that_raises_undoes_its_patches(two_workers) -> None:
    for returncode, reports, stderr in two_workers:
        assert returncode == 0, stderr[-3000:]
        report = reports["raises"]
        assert report["raised"] == "DataError"
        assert report["during"]["pinned"] == ["_maybe_symbolic_build"]  # it trained a while
        assert report["after"] == []
        assert report["model"] == []


# -- kerasx._compat.training's context managers ------------------------------------------------


def _reduce_per_replica() -> Any:
    from kerasx._compat import internal_module

    return internal_module(compat_training._TRAINER, needed_for="the test").reduce_per_replica


def test_nested_scalar_means_restore_at_the_outermost_exit() -> None:
    original = _reduce_per_replica()
    with compat_training.scalar_means_across_workers():
        replaced = _reduce_per_replica()
        assert replaced is not original
        with compat_training.scalar_means_across_workers():
            assert _reduce_per_replica() is replaced
        assert _reduce_per_replica() is replaced
    assert _reduce_per_replica() is original


def test_scalar_means_restore_when_the_body_raises() -> None:
    original = _reduce_per_replica()
    with pytest.raises(RuntimeError, match="inside"), compat_training.scalar_means_across_workers():
        raise RuntimeError("inside")
    assert _reduce_per_replica() is original


def test_concurrent_scalar_means_restore_when_the_last_thread_leaves() -> None:
    # A enters, B enters, A leaves (B still needs it), B leaves (now restored).
    original = _reduce_per_replica()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with compat_training.scalar_means_across_workers():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second() -> None:
        a_in.wait(10)
        with compat_training.scalar_means_across_workers():
            b_in.set()
            a_out.wait(10)
            seen["replaced while B is inside"] = _reduce_per_replica() is not original

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen == {"replaced while B is inside": True}
    assert _reduce_per_replica() is original


def test_the_replacement_hands_other_strategies_to_keras() -> None:
    import tensorflow as tf

    values = {"loss": tf.constant(1.5), "accuracy": tf.constant([0.5, 0.25])}
    strategy = tf.distribute.get_strategy()
    expected = _reduce_per_replica()(values, strategy, "mean")
    with compat_training.scalar_means_across_workers():
        got = _reduce_per_replica()(values, strategy, "mean")
    for key in values:
        np.testing.assert_allclose(got[key], expected[key])


def test_keras_builds_from_a_local_batch_then_the_model_is_as_before() -> None:
    import tensorflow as tf

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = keras.Sequential([keras.layers.Dense(2)])  # no Input: built by Keras in fit
        model.compile("sgd", "mse", metrics=["mae"])
    x, y = _data(8)
    with compat_training.keras_builds_from(model, (x, y.astype("float32")[:, None])):
        nested = compat_training.keras_builds_from(model, (x, None))
        with nested:  # shares the outer one's attribute
            assert kerasx_functions(model) == ["_maybe_symbolic_build"]
        assert kerasx_functions(model) == ["_maybe_symbolic_build"]
        # As fit calls it, with a distributed iterator it must not touch.
        model._maybe_symbolic_build(iterator=object())
    assert model.built and model.optimizer.built
    assert kerasx_functions(model) == []
    assert "_maybe_symbolic_build" not in vars(model)


def test_keras_builds_from_gives_back_an_attribute_the_model_had() -> None:
    model = _model()
    own = object()
    model._maybe_symbolic_build = own
    with (
        pytest.raises(RuntimeError, match="inside"),
        compat_training.keras_builds_from(model, _data(8)),
    ):
        raise RuntimeError("inside")
    assert vars(model)["_maybe_symbolic_build"] is own


def test_without_the_internals_the_workaround_fails_clearly(monkeypatch) -> None:
    monkeypatch.setattr(compat_training, "_TRAINER", "keras.src.no_such_trainer")
    missing_module = r"keras\.src\.no_such_trainer.*Keras 3"
    with (
        pytest.raises(MissingDependencyError, match=missing_module),
        compat_training.scalar_means_across_workers(),
    ):
        pass  # pragma: no cover
    with (
        pytest.raises(MissingDependencyError, match="_maybe_symbolic_build"),
        compat_training.keras_builds_from(object(), None),
    ):
        pass  # pragma: no cover


def test_multi_worker_mode_reads_public_attributes_only() -> None:
    import tensorflow as tf

    assert compat_training.multi_worker_mode(None) is False
    assert compat_training.multi_worker_mode(tf.distribute.get_strategy()) is False
    assert compat_training.multi_worker_mode(tf.distribute.OneDeviceStrategy("/cpu:0")) is False
