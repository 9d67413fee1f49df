"""`kerasx.fit`, `kerasx.History` and `kerasx.seed_everything` (in-process, real TensorFlow)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasx
from kerasx.errors import ConfigurationError, TrainingError


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    return x, y


def _model(hidden: int = 8, *, compile: bool = True) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    if compile:
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    return model


def test_seed_everything_returns_seed_and_makes_numpy_repeatable() -> None:
    assert kerasx.seed_everything(3) == 3
    first = np.random.random()
    kerasx.seed_everything(3)
    assert np.random.random() == first
    assert kerasx.training.last_seed() == 3


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_seed_everything_rejects_bad_seeds(seed: object) -> None:
    with pytest.raises(ConfigurationError, match=r"integer in \[0, 2\*\*32\). Received: seed="):
        kerasx.seed_everything(seed)  # type: ignore[arg-type]


def test_fit_without_run_dir_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    x, y = _data()
    history = kerasx.fit(_model(), x, y, epochs=2, batch_size=16, progress=False)
    assert isinstance(history, kerasx.History)
    assert isinstance(history, keras.callbacks.History)
    assert history.epoch == [0, 1]
    assert set(history.history) == {"loss", "accuracy"}
    assert history.finished and history.trained_epochs == 2 and history.resumed_from_epoch == 0
    assert list(tmp_path.iterdir()) == []


def test_history_best_to_dict_and_save(tmp_path: Path) -> None:
    history = kerasx.History(
        {"loss": [0.9, 0.5, 0.7], "val_accuracy": [0.5, 0.8, 0.8], "val_loss": [1.0, 0.6, 0.4]}
    )
    assert history.epoch == [0, 1, 2]
    assert history.best() == (2, 0.4)
    assert history.best("loss") == (1, 0.5)
    assert history.best("val_accuracy") == (1, 0.8)  # max, first of equals
    assert history.to_dict()["loss"] == [0.9, 0.5, 0.7]
    history.save(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text())["val_loss"] == [1.0, 0.6, 0.4]
    history.save(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,val_accuracy,val_loss"
    assert lines[3].startswith("2,0.7,")


def test_history_errors(tmp_path: Path) -> None:
    history = kerasx.History({"loss": [float("nan")]})
    with pytest.raises(ConfigurationError, match=r"no metric 'acc'\. Available: \['loss'\]"):
        history.best("acc")
    with pytest.raises(ConfigurationError, match="no finite value for 'loss'"):
        history.best()
    with pytest.raises(ConfigurationError, match=r"must end in .*json.* or .*csv.*Received: path="):
        history.save(tmp_path / "h.txt")


def test_fit_argument_errors() -> None:
    x, y = _data()
    model = _model()
    with pytest.raises(ConfigurationError, match="`epochs` must be an integer of at least 1"):
        kerasx.fit(model, x, y, epochs=0)
    with pytest.raises(ConfigurationError, match='`callbacks` must be "default"'):
        kerasx.fit(model, x, y, epochs=1, callbacks="none")
    with pytest.raises(ConfigurationError, match=r"must be a `keras.callbacks.Callback`"):
        kerasx.fit(model, x, y, epochs=1, callbacks=[print])
    with pytest.raises(ConfigurationError, match='`progress` must be "auto", True or False'):
        kerasx.fit(model, x, y, epochs=1, progress="yes")
    with pytest.raises(ConfigurationError, match="`patience` must be None"):
        kerasx.fit(model, x, y, epochs=1, patience=-1)
    with pytest.raises(ConfigurationError, match="needs a compiled model"):
        kerasx.fit(_model(compile=False), x, y, epochs=1)


def test_resume_continues_and_finished_run_returns_history(tmp_path: Path) -> None:
    x, y = _data()
    run = tmp_path / "run"
    first = kerasx.fit(_model(), x, y, epochs=1, validation_split=0.25, run_dir=run, progress=False)
    assert first.epoch == [0]
    model = _model()
    second = kerasx.fit(model, x, y, epochs=2, validation_split=0.25, run_dir=run, progress=False)
    assert second.resumed_from_epoch == 1 and second.trained_epochs == 1
    assert second.epoch == [0, 1]
    assert second.history["val_loss"][0] == first.history["val_loss"][0]
    assert (run / "checkpoints" / "best.keras").exists()
    assert (run / "run.json").exists()
    assert json.loads((run / "history.json").read_text())["loss"] == second.history["loss"]

    weights = [w.copy() for w in model.get_weights()]
    fresh = _model()
    third = kerasx.fit(fresh, x, y, epochs=2, validation_split=0.25, run_dir=run, progress=False)
    assert third.finished and third.trained_epochs == 0 and third.resumed_from_epoch == 2
    assert third.history == second.history
    for a, b in zip(fresh.get_weights(), weights):
        np.testing.assert_array_equal(a, b)  # the finished state was loaded
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_resume_false_starts_over(tmp_path: Path) -> None:
    x, y = _data()
    kerasx.fit(_model(), x, y, epochs=2, run_dir=tmp_path, progress=False)
    history = kerasx.fit(_model(), x, y, epochs=1, run_dir=tmp_path, resume=False, progress=False)
    assert history.epoch == [0] and history.resumed_from_epoch == 0
    states = sorted(p.name for p in (tmp_path / "checkpoints").glob("state-*.npz"))
    assert states == ["state-epoch-000001.npz"]


def test_resume_refuses_a_different_architecture(tmp_path: Path) -> None:
    x, y = _data()
    kerasx.fit(_model(8), x, y, epochs=1, run_dir=tmp_path, progress=False)
    with pytest.raises(ConfigurationError, match=r"different architecture.*Received: run_dir="):
        kerasx.fit(_model(16), x, y, epochs=2, run_dir=tmp_path, progress=False)


def test_resume_needs_a_built_model(tmp_path: Path) -> None:
    x, y = _data()
    kerasx.fit(_model(), x, y, epochs=1, run_dir=tmp_path, progress=False)
    unbuilt = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(2)])
    unbuilt.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ConfigurationError, match=r"must be built before kerasx.fit can resume"):
        kerasx.fit(unbuilt, x, y, epochs=2, run_dir=tmp_path, progress=False)


def test_nan_loss_raises_training_error_and_keeps_last_good_state(tmp_path: Path) -> None:
    # A NaN target under mean squared error makes the loss NaN on every CPU: (NaN - p)**2 is NaN
    # whatever the kernels do. (A NaN input can vanish in a ReLU on some CPUs.)
    x, _ = _data()
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    kerasx.fit(model, x, y, epochs=1, run_dir=tmp_path, progress=False)
    bad = y.copy()
    bad[3, 0] = np.nan
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 2.*last good state"):
        kerasx.fit(model, x, bad, epochs=3, run_dir=tmp_path, progress=False)
    states = [p.name for p in (tmp_path / "checkpoints").glob("state-*.npz")]
    assert states == ["state-epoch-000001.npz"]


def test_early_stopping_counters_survive_resume(tmp_path: Path) -> None:
    x, y = _data()
    kerasx.fit(_model(), x, y, epochs=2, run_dir=tmp_path, patience=5, progress=False)
    from kerasx.callbacks._run_state import list_states, read_state

    meta = read_state(list_states(tmp_path / "checkpoints")[-1][-1]).meta
    # STATE_FORMAT 2: the EarlyStopping counters are the first stateful callback's state.
    assert meta["callbacks"][0]["class"] == "EarlyStopping"
    assert meta["callbacks"][0]["state"]["best"] is not None
    saved = meta["callbacks"][0]["state"]
    callbacks = kerasx.callbacks.defaults(tmp_path, monitor="loss", patience=5, progress=False)
    stopper = next(c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping))
    seen: dict[str, tuple] = {}
    probe = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.setdefault("restored", (stopper.best, stopper.wait))
    )
    kerasx.fit(_model(), x, y, epochs=3, run_dir=tmp_path, callbacks=[*callbacks, probe])
    # Restored from the state at on_train_begin, before epoch 3 began.
    assert seen["restored"] == (saved["best"], saved["wait"])


def test_sigterm_handler_is_restored_after_fit(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    x, y = _data()
    kerasx.fit(_model(), x, y, epochs=1, run_dir=tmp_path, progress=False)
    assert signal.getsignal(signal.SIGTERM) is before


def test_callbacks_list_with_default_and_empty_list(tmp_path: Path) -> None:
    x, y = _data()
    seen: list[int] = []
    marker = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    kerasx.fit(_model(), x, y, epochs=1, run_dir=tmp_path / "a", callbacks=["default", marker])
    assert seen == [0]
    assert (tmp_path / "a" / "history.csv").exists()
    kerasx.fit(_model(), x, y, epochs=1, run_dir=tmp_path / "b", callbacks=[])
    assert not (tmp_path / "b" / "checkpoints").exists()
    assert not (tmp_path / "b" / "history.csv").exists()


def test_strategy_must_own_the_model_variables() -> None:
    import tensorflow as tf

    x, y = _data()
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    message = r"not created under the strategy.*strategy\.scope"
    with pytest.raises(ConfigurationError, match=message):
        kerasx.fit(_model(), x, y, epochs=1, strategy=strategy, progress=False)
    with strategy.scope():
        model = _model()
    history = kerasx.fit(model, x, y, epochs=1, strategy=strategy, progress=False)
    assert history.epoch == [0]
    with pytest.raises(ConfigurationError, match=r"must be a `tf.distribute.Strategy`"):
        kerasx.fit(model, x, y, epochs=1, strategy=object(), progress=False)


def _generator_case(samples: int):
    """Separable data and a factory of identically seeded tiny classifiers."""
    rng = np.random.default_rng(samples)
    x = rng.normal(size=(samples, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def model():
        kerasx.seed_everything(5, deterministic=True)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m

    return x, y, model


def _assert_same_weights(first, second):
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", ["from_arrays", "subclass"])
def test_resume_with_a_data_generator_equals_an_uninterrupted_run(tmp_path, kind):
    from kerasx.data import DataGenerator

    x, y, model = _generator_case(80)

    class Rows(DataGenerator):  # goes through Keras's PyDataset path, one call per batch
        def load_batch(self, indices):
            return x[indices], y[indices]

    def generator():
        if kind == "from_arrays":  # kerasx.fit feeds it through tf.data
            return DataGenerator.from_arrays(x, y, batch_size=16, seed=11)
        return Rows(len(x), batch_size=16, seed=11)

    straight = model()
    kerasx.fit(straight, generator(), epochs=3, run_dir=tmp_path / "a", progress=False)

    first = model()
    kerasx.fit(first, generator(), epochs=1, run_dir=tmp_path / "b", progress=False)
    resumed = model()  # a new process would start like this
    history = kerasx.fit(resumed, generator(), epochs=3, run_dir=tmp_path / "b", progress=False)

    assert history.resumed_from_epoch == 1 and history.epoch == [0, 1, 2]
    _assert_same_weights(straight, resumed)


def test_fit_accepts_one_hot_targets_for_a_model_compiled_with_auto_labels():
    from kerasx import models

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    labels = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")
    model = models.mlp((4,), hidden=(8,), outputs=3)
    models.compile(model)  # labels="auto": sparse until the targets say otherwise

    history = kerasx.fit(model, x, np.eye(3)[labels], epochs=1, progress=False)
    assert np.isfinite(history.history["loss"][0])
    assert model.loss.fn.__name__ == "categorical_crossentropy"
    # The same model still takes class ids.
    history = kerasx.fit(model, x, labels, epochs=1, progress=False)
    assert np.isfinite(history.history["loss"][0])
    assert model.loss.fn.__name__ == "sparse_categorical_crossentropy"


def test_array_generator_and_numpy_arrays_train_through_tf_data_with_the_same_batches():
    from kerasx.data import DataGenerator

    x, y, model = _generator_case(70)

    # Keras's own PyDataset path: one Python __getitem__ per batch.
    through_python = model()
    generator = DataGenerator.from_arrays(x, y, batch_size=16, seed=3)
    through_python.fit(generator, epochs=3, shuffle=False, verbose=0)

    # kerasx.fit gathers the same batches in TensorFlow.
    through_tf = model()
    fast = DataGenerator.from_arrays(x, y, batch_size=16, seed=3)
    kerasx.fit(through_tf, fast, epochs=3, progress=False)

    assert fast.epoch == generator.epoch == 3
    _assert_same_weights(through_python, through_tf)

    # Plain arrays, without a run_dir, become that same generator (the order from `seed`)...
    arrays = model()
    kerasx.fit(arrays, x, y, batch_size=16, epochs=3, seed=3, progress=False)
    _assert_same_weights(through_python, arrays)
    # ...not Keras's own feeding, whose order from the same seed differs.
    keras_order = model()
    keras.utils.set_random_seed(3)
    keras_order.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert any(
        not np.allclose(a, b, atol=1e-6)
        for a, b in zip(arrays.get_weights(), keras_order.get_weights(), strict=True)
    )


@pytest.mark.parametrize("workers", [None, 1, 2])
def test_kerasx_fit_makes_one_pipeline_iterator_per_epoch_in_the_generators_order(
    workers, monkeypatch
):
    import tensorflow as tf

    from kerasx.data import DataGenerator

    made: list[int] = []
    real_iter = tf.data.Dataset.__iter__

    def counted(dataset):
        made.append(1)
        return real_iter(dataset)

    monkeypatch.setattr(tf.data.Dataset, "__iter__", counted)
    x, y, model = _generator_case(40)
    seen: list[list[tuple[int, ...]]] = []

    def record(xb, yb):  # a transform moves the generator onto tf.data threads
        seen[-1].append(tuple(int(v) for v in xb[:, 0]))
        return xb, yb

    if workers is None:  # gathered in TensorFlow (no transform)
        generator = DataGenerator.from_arrays(x, y, batch_size=8, seed=5)
    else:
        x = np.arange(40, dtype="float32")[:, None].repeat(x.shape[1], axis=1)
        generator = DataGenerator.from_arrays(
            x, y, batch_size=8, seed=5, transform=record, workers=workers
        )

    class EpochMark(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([])

    seen.append([])  # the first batch, read for the element spec
    kerasx.fit(model(), generator, epochs=3, callbacks=[EpochMark()], progress=False)
    # One iterator to start; each later epoch uses the one Keras made at the previous end.
    assert len(made) == 4
    assert generator.epoch == 3
    if workers is not None:  # and each epoch still loads the batches of its own order
        expected = [
            [tuple(generator.order(e)[i : i + 8].tolist()) for i in range(0, 40, 8)]
            for e in range(3)
        ]
        if workers == 1:
            assert seen[1:] == expected
        else:  # two threads may finish loads out of order; the pipeline reorders them
            assert [sorted(s) for s in seen[1:]] == [sorted(e) for e in expected]


def test_numpy_arrays_keep_keras_meaning_of_shuffle_false_and_validation_split():
    x, y, model = _generator_case(70)
    in_order = model()
    in_order.fit(x[:56], y[:56], batch_size=16, epochs=2, shuffle=False, verbose=0)

    trained = model()
    history = kerasx.fit(
        trained, x, y, batch_size=16, epochs=2, shuffle=False, validation_split=0.2,
        progress=False,
    )

    _assert_same_weights(trained, in_order)  # the first 80% in order, as Keras splits
    val_loss = trained.evaluate(x[56:], y[56:], batch_size=16, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, abs=1e-5)


def test_numpy_arrays_with_class_weight_stay_with_keras():
    x, y, model = _generator_case(70)
    weights = {0: 1.0, 1: 3.0}
    expected = model()
    expected.fit(x, y, batch_size=16, epochs=2, shuffle=False, class_weight=weights, verbose=0)

    trained = model()
    kerasx.fit(
        trained, x, y, batch_size=16, epochs=2, shuffle=False, class_weight=weights,
        progress=False,
    )

    _assert_same_weights(trained, expected)


def test_generators_with_a_transform_still_go_through_python():
    import numpy as np

    from kerasx.data import DataGenerator
    from kerasx.errors import DataError
    from kerasx.training._feeds import gathers_in_tensorflow

    x = np.zeros((8, 2), "float32")
    plain = DataGenerator.from_arrays(x, batch_size=4, shuffle=False)
    transformed = DataGenerator.from_arrays(
        x, batch_size=4, shuffle=False, transform=lambda a, b: (a + 1, b)
    )
    assert gathers_in_tensorflow(plain)
    assert not gathers_in_tensorflow(transformed)
    with pytest.raises(DataError, match="cannot apply a Python `transform`"):
        transformed.tensor_dataset()


def test_no_function_of_the_training_package_calls_itself():
    # `fit` finishes an epoch SIGTERM cut short and then trains on in a loop, not by calling
    # itself again with the same arguments.
    import ast

    import kerasx.training

    recursive = []
    for path in Path(kerasx.training.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                calls = {
                    call.func.id
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                }
                if node.name in calls:
                    recursive.append(f"{path.name}:{node.name}")
    assert recursive == []


@pytest.mark.parametrize("fast_paths", ["on", "off"])
def test_metrics_are_built_before_a_mid_epoch_resume_without_running_a_step(
    fast_paths, monkeypatch
) -> None:
    # Resuming in the middle of an epoch restores the metric accumulators before Keras
    # builds them: kerasx builds them from one batch (Keras's symbolic build, or its public
    # path: one forward pass, loss and metrics, then reset). No weight changes.
    from kerasx._compat import DISABLE_FAST_PATHS_ENV
    from kerasx.training._resume import build_metrics

    if fast_paths == "off":
        monkeypatch.setenv(DISABLE_FAST_PATHS_ENV, "1")
    model = _model()
    weights = model.get_weights()
    unbuilt = len(model.metrics_variables)
    x, y = _data(8)
    build_metrics(model, (x, y))
    assert len(model.metrics_variables) > unbuilt
    assert all(not np.any(v.numpy()) for v in model.metrics_variables)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
