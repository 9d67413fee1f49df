"""`kerasx.lr_find` and `LRFinderResult` (in-process, real TensorFlow)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasx
from kerasx._compat.optimizers import learning_rate_source
from kerasx.data import DataGenerator
from kerasx.errors import ConfigurationError, DataError
from kerasx.training._lr_result import smooth_losses, steepest_descent


def _data(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    return x, y


def _model(optimizer: object = "adam", **compile_kwargs: object) -> keras.Model:
    """A classifier with every kind of state: weights, batch statistics, a dropout seed."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **compile_kwargs,
    )
    return model


def _regression() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")


def _linear(optimizer: object) -> keras.Model:
    """A linear regression: plain SGD on it diverges once the learning rate passes about 1."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _state(model: keras.Model) -> list[np.ndarray]:
    """The values of every variable of the model, its optimizer and its metrics."""
    variables = [*model.variables, *model.optimizer.variables, *model.metrics_variables]
    return [variable.numpy() for variable in variables]


def _assert_bitwise_equal(before: list[np.ndarray], after: list[np.ndarray]) -> None:
    assert len(before) == len(after)
    for old, new in zip(before, after):
        assert old.dtype == new.dtype and old.shape == new.shape
        assert old.tobytes() == new.tobytes()


# ------------------------------------------------------------------ the model is left as it was


def test_weights_optimizer_variables_iterations_and_metrics_are_restored_bitwise() -> None:
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # moments, iterations, metric totals
    before = _state(model)
    iterations = int(model.optimizer.iterations.numpy())
    learning_rate = model.optimizer.learning_rate
    assert iterations > 0

    result = kerasx.lr_find(model, x, y, seed=0)

    assert len(result.lrs) > 10  # it trained
    _assert_bitwise_equal(before, _state(model))
    assert int(model.optimizer.iterations.numpy()) == iterations
    assert model.optimizer.learning_rate is learning_rate  # the same variable, same value


def test_a_learning_rate_schedule_object_is_put_back() -> None:
    x, y = _data()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=10, decay_rate=0.5)
    model = _model(keras.optimizers.Adam(schedule))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = _state(model)
    rate = float(model.optimizer.learning_rate)

    kerasx.lr_find(model, x, y, seed=0)

    assert learning_rate_source(model.optimizer) is schedule
    assert float(model.optimizer.learning_rate) == rate
    _assert_bitwise_equal(before, _state(model))


def test_the_search_sets_the_rate_even_where_keras_traced_the_schedule_already() -> None:
    x, y = _regression()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-9, decay_steps=10, decay_rate=0.5)
    model = _linear(keras.optimizers.SGD(schedule))
    model.make_train_function()  # Keras's, traced with the schedule for lr_find's batches:
    model.train_function(iter([(x[:32], y[:32])]))
    traced = model.train_function

    result = kerasx.lr_find(model, x, y, seed=0)

    assert result.stop_reason == "diverged"  # the searched rates applied, not the 1e-9
    assert model.train_function is traced
    assert learning_rate_source(model.optimizer) is schedule


@pytest.mark.parametrize("make_variable", [keras.Variable, tf.Variable], ids=["keras", "tf"])
def test_a_learning_rate_callable_and_the_users_variable_are_left_alone(make_variable) -> None:
    x, y = _regression()
    rate = make_variable(1e-9, trainable=False, dtype="float32")

    def learning_rate():
        return rate

    model = _linear(keras.optimizers.SGD(learning_rate))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = _state(model)

    result = kerasx.lr_find(model, x, y, seed=0)

    assert result.stop_reason == "diverged"  # the searched rates applied, not the 1e-9
    assert float(rate.numpy()) == np.float32(1e-9)  # the user's variable was not written
    assert learning_rate_source(model.optimizer) is learning_rate
    assert model.optimizer.learning_rate is rate
    _assert_bitwise_equal(before, _state(model))


def test_training_after_lr_find_is_exactly_training_without_it(op_determinism) -> None:
    x, y = _data()
    searched, untouched = _model(), _model()
    kerasx.lr_find(searched, x, y, seed=0)
    for model in (searched, untouched):
        keras.utils.set_random_seed(1)
        model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    _assert_bitwise_equal(_state(untouched), _state(searched))


def test_an_unbuilt_optimizer_is_built_and_left_fresh() -> None:
    x, y = _data()
    model = _model()
    weights = [v.numpy() for v in model.variables]
    assert not model.optimizer.built

    kerasx.lr_find(model, x, y, seed=0)

    assert model.optimizer.built
    assert int(model.optimizer.iterations.numpy()) == 0
    _assert_bitwise_equal(weights, [v.numpy() for v in model.variables])
    slots = model.optimizer.variables[2:]  # after the iteration count and the learning rate
    assert slots and all(not np.any(slot.numpy()) for slot in slots)


def test_the_state_is_restored_when_the_data_fails_in_the_middle() -> None:
    x, y = _data()

    class Failing(DataGenerator):
        def load_batch(self, indices):
            if indices[0] == 5 * 32:  # the 6th batch
                raise OSError("disk gone")
            return x[indices], y[indices]

    model = _model()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = _state(model)
    with pytest.raises(DataError, match="disk gone"):
        kerasx.lr_find(model, Failing(len(x), batch_size=32, shuffle=False))
    _assert_bitwise_equal(before, _state(model))


def test_the_same_seed_gives_the_same_losses_twice(op_determinism) -> None:
    x, y = _data()
    model = _model()
    first = kerasx.lr_find(model, x, y, seed=3)
    second = kerasx.lr_find(model, x, y, seed=3)
    np.testing.assert_array_equal(first.losses, second.losses)
    assert first.suggestion == second.suggestion


# ------------------------------------------------------------------ the run


def test_the_learning_rate_grows_exponentially_from_min_to_max() -> None:
    x, y = _data()
    result = kerasx.lr_find(
        _model(), x, y, min_lr=1e-5, max_lr=1e-2, steps=31, stop_factor=math.inf, seed=0
    )
    assert len(result.lrs) == len(result.losses) == len(result.smoothed_losses) == 31
    assert result.stop_reason is None
    assert result.lrs[0] == pytest.approx(1e-5) and result.lrs[-1] == pytest.approx(1e-2)
    np.testing.assert_allclose(result.lrs[1:] / result.lrs[:-1], 10 ** (3 / 30))


def test_a_diverging_loss_stops_the_run() -> None:
    x, y = _regression()
    model = _linear("sgd")

    result = kerasx.lr_find(model, x, y, seed=0)

    assert result.stop_reason == "diverged"
    assert 10 < len(result.losses) < 100
    assert result.smoothed_losses[-1] > 4.0 * result.smoothed_losses[:-1].min()
    assert np.isfinite(model.get_weights()[0]).all()


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_loss_that_is_not_finite_stops_the_run_and_is_not_recorded(bad: float) -> None:
    x, y = _data()
    optimizer = keras.optimizers.SGD(0.01)

    def loss(y_true, y_pred):
        # From the 6th step on, the loss is NaN or Inf: arithmetic on it, no reductions.
        poison = keras.ops.where(optimizer.iterations >= 5, bad, 0.0)
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred) + poison

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizer, loss=loss)
    weights = model.get_weights()

    result = kerasx.lr_find(model, x, y, seed=0)

    assert result.stop_reason == "not finite"
    assert len(result.losses) == 5 and np.isfinite(result.losses).all()
    assert result.suggestion is None  # too few steps to see a descent
    _assert_bitwise_equal(weights, model.get_weights())
    assert int(optimizer.iterations.numpy()) == 0


@pytest.mark.parametrize("option", ["run_eagerly", "jit_compile"])
def test_eager_and_xla_models_run_their_steps_as_compiled(option: str) -> None:
    x, y = _data()
    model = _model(**{option: True})
    before = _state(model)[: len(model.variables)]
    result = kerasx.lr_find(model, x, y, max_lr=1e-2, steps=10, seed=0)
    assert len(result.losses) == 10 and np.isfinite(result.losses).all()
    _assert_bitwise_equal(before, _state(model)[: len(model.variables)])


# ------------------------------------------------------------------ inputs


def test_a_data_generator_is_read_without_moving_its_epoch() -> None:
    x, y = _data()
    generator = DataGenerator.from_arrays(x, y, batch_size=32, seed=1)
    state = generator.get_state()
    result = kerasx.lr_find(_model(), generator, max_lr=1e-2, steps=20, stop_factor=math.inf)
    assert len(result.losses) == 20  # 8 batches, cycled
    assert generator.get_state() == state


def test_a_dataset_with_fewer_batches_than_steps_is_cycled() -> None:
    x, y = _data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)  # 4 batches
    result = kerasx.lr_find(_model(), dataset, max_lr=1e-2, steps=20, stop_factor=math.inf)
    assert len(result.losses) == 20


def test_dict_inputs_and_fewer_samples_than_a_batch() -> None:
    x, y = _data(20)
    inputs = {"a": keras.Input((4,), name="a"), "b": keras.Input((4,), name="b")}
    merged = keras.layers.Concatenate()([inputs["a"], inputs["b"]])
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(merged))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result = kerasx.lr_find(
        model, {"a": x, "b": -x}, y, batch_size=32, max_lr=1e-2, steps=10, seed=0
    )
    assert len(result.losses) == 10


def test_one_hot_targets_teach_an_auto_labels_model_as_fit_does() -> None:
    x, y = _data()
    model = kerasx.models.compile(kerasx.models.mlp((4,), hidden=(8,), outputs=2))
    result = kerasx.lr_find(model, x, np.eye(2, dtype="float32")[y], max_lr=1e-2, seed=0)
    assert np.isfinite(result.losses).all()
    assert model.loss.fn is keras.losses.categorical_crossentropy  # no longer the sparse one


# ------------------------------------------------------------------ refusals


def test_an_uncompiled_model_is_refused() -> None:
    x, y = _data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ConfigurationError, match=r"needs a compiled model.*model\.compile"):
        kerasx.lr_find(model, x, y)


@pytest.mark.parametrize("steps", [9, 0, -5, 10.0, True, None])
def test_fewer_than_ten_steps_are_refused(steps: object) -> None:
    x, y = _data()
    with pytest.raises(ConfigurationError, match=r"`steps` must be an integer of at least 10"):
        kerasx.lr_find(_model(), x, y, steps=steps)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_lr": 1e-2, "max_lr": 1e-3}, r"`min_lr` must be below `max_lr`"),
        ({"min_lr": 1.0, "max_lr": 1.0}, r"`min_lr` must be below `max_lr`"),
        ({"min_lr": 0.0}, r"`min_lr` must be a finite number above 0"),
        ({"min_lr": -1e-3}, r"`min_lr` must be a finite number above 0"),
        ({"max_lr": math.inf}, r"`max_lr` must be a finite number above 0"),
        ({"max_lr": "10"}, r"`max_lr` must be a finite number above 0"),
        ({"stop_factor": 1.0}, r"`stop_factor` must be a number above 1"),
        ({"stop_factor": -4.0}, r"`stop_factor` must be a number above 1"),
        ({"seed": -1}, r"`seed` must be a non-negative integer"),
        ({"batch_size": 0}, r"`batch_size` must be a positive integer"),
    ],
)
def test_numbers_out_of_range_are_refused(kwargs: dict, message: str) -> None:
    x, y = _data()
    model = _model()
    with pytest.raises(ConfigurationError, match=message + r".*Received: "):
        kerasx.lr_find(model, x, y, **kwargs)
    assert not model.optimizer.built  # refused before anything was touched


def test_models_it_cannot_search_with_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import kerasx.training._lr_find as lr_find_module

    x, y = _data()
    frozen = _model()
    frozen.trainable = False
    with pytest.raises(ConfigurationError, match=r"needs a model with trainable weights"):
        kerasx.lr_find(frozen, x, y)

    class NoLoss(keras.Sequential):
        def train_step(self, data):
            super().train_step(data)
            return {"accuracy": 0.0}

    keras.utils.set_random_seed(0)
    model = NoLoss([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    weights = model.get_weights()
    with pytest.raises(ConfigurationError, match=r"without a 'loss' entry.*compute_metrics"):
        kerasx.lr_find(model, x, y)
    _assert_bitwise_equal(weights, model.get_weights())

    class TwoReplicas:
        num_replicas_in_sync = 2

    monkeypatch.setattr(lr_find_module, "model_strategy", lambda model: TwoReplicas())
    with pytest.raises(ConfigurationError, match=r"trains on one device.*2 replicas"):
        kerasx.lr_find(_model(), x, y)


def test_inputs_it_cannot_train_on_are_refused() -> None:
    x, y = _data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    generator = DataGenerator.from_arrays(x, y, batch_size=32)
    with pytest.raises(ConfigurationError, match=r"`y` must be None.*Received: y="):
        kerasx.lr_find(_model(), dataset, y)
    with pytest.raises(ConfigurationError, match=r"`batch_size` must be None.*batch_size=8"):
        kerasx.lr_find(_model(), generator, batch_size=8)
    with pytest.raises(ConfigurationError, match=r"NumPy arrays.*Received: x of type list"):
        kerasx.lr_find(_model(), [[1.0, 2.0, 3.0, 4.0]], y)
    with pytest.raises(DataError, match=r"same number of samples.*\(256, 4\), \(10,\)"):
        kerasx.lr_find(_model(), x, y[:10])
    with pytest.raises(DataError, match=r"yields no batches"):
        kerasx.lr_find(_model(), dataset.take(0))


# ------------------------------------------------------------------ the suggestion


def test_the_suggestion_is_the_steepest_descent_before_the_minimum() -> None:
    lrs = np.logspace(-6, 0, 61)
    # Falls fastest at 1e-3, lowest at 1e-1, then rises steeply.
    curve = 2.0 - np.tanh(2.0 * (np.log10(lrs) + 3.0)) + np.where(lrs > 0.1, 50 * lrs, 0.0)
    assert steepest_descent(lrs, curve, skip=6) == pytest.approx(1e-3)
    assert steepest_descent(lrs, -curve[::-1] + 5.0, skip=6) is None  # only rises
    assert steepest_descent(lrs[:2], curve[:2]) is None


def test_smoothing_is_a_bias_corrected_moving_average() -> None:
    np.testing.assert_allclose(smooth_losses([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(smooth_losses([1.0, 3.0], 0.5), [1.0, (0.25 + 1.5) / 0.75])


@pytest.mark.slow
def test_training_at_the_suggestion_beats_a_hundred_times_less_and_more() -> None:
    (x, y), _ = kerasx.datasets.load_digits()
    x = (x.reshape(len(x), -1) / 16.0).astype("float32")

    def model() -> keras.Model:
        keras.utils.set_random_seed(0)
        built = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        built.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return built

    suggestion = kerasx.lr_find(model(), x, y, seed=0).suggestion
    assert suggestion is not None
    final = {}
    for factor in (0.01, 1.0, 100.0):
        trained = model()
        trained.optimizer.learning_rate = suggestion * factor
        keras.utils.set_random_seed(0)
        history = trained.fit(x, y, epochs=2, batch_size=32, verbose=0)
        final[factor] = history.history["loss"][-1]
    assert final[1.0] < final[0.01] and final[1.0] < final[100.0], (suggestion, final)


# ------------------------------------------------------------------ the result


def test_plot_marks_the_suggestion_on_a_log_axis_and_says_what_to_do() -> None:
    from matplotlib.figure import Figure

    x, y = _data()
    result = kerasx.lr_find(_model(), x, y, seed=0)
    assert result.suggestion is not None
    figure = result.plot()
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    assert axes.get_xscale() == "log"
    assert f"{result.suggestion:.2g}" in axes.get_title()
    assert "learning_rate" in axes.get_title()
    labels = axes.get_legend_handles_labels()[1]
    assert labels == ["loss", "smoothed loss", f"suggestion: {result.suggestion:.2g}"]


def test_plot_draws_into_given_axes_and_says_when_there_is_no_suggestion() -> None:
    from matplotlib.figure import Figure

    result = kerasx.LRFinderResult(
        lrs=np.logspace(-3, -1, 12),
        losses=np.linspace(1.0, 2.0, 12),
        smoothed_losses=np.linspace(1.0, 2.0, 12),
        suggestion=None,
    )
    axes = Figure().add_subplot()
    assert result.plot(ax=axes) is axes.figure
    assert "lower min_lr" in axes.get_title()
    assert "suggestion=None" in repr(result)
