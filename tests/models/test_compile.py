"""kerasx.models.compile: task inference, refusals, labels, fast defaults."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasx
from kerasx import models
from kerasx.errors import ConfigurationError
from kerasx.models._compile import fit_steps_per_execution, resolve_labels
from kerasx.models._defaults import choose_jit_compile, choose_steps_per_execution
from kerasx.models._tasks import infer_task, output_info


def _dense(units, activation, inputs=4):
    dense = keras.layers.Dense(units, activation=activation)
    return keras.Sequential([keras.Input((inputs,)), dense])


def _metric_classes(model):
    return [type(m).__name__ for m in model._compile_metrics._user_metrics]


@pytest.mark.parametrize(
    ("units", "activation", "task", "loss", "metric"),
    [
        (10, "softmax", "multiclass", "sparse_categorical_crossentropy",
         "SparseCategoricalAccuracy"),
        (1, "sigmoid", "binary", "binary_crossentropy", "BinaryAccuracy"),
        (5, "sigmoid", "multilabel", "binary_crossentropy", "BinaryAccuracy"),
        (1, None, "regression", "mean_squared_error", "MeanAbsoluteError"),
        (3, "relu", "regression", "mean_squared_error", "MeanAbsoluteError"),
    ],
)  # fmt: skip
def test_task_inferred_from_the_output_layer(units, activation, task, loss, metric):
    model = _dense(units, activation)
    assert output_info(model)[0].task == task
    assert models.compile(model) is model
    assert model.loss.name == loss
    assert _metric_classes(model) == [metric]


def test_infer_task_table():
    assert infer_task("softmax", 1) is None
    assert infer_task(None, 3) is None
    assert infer_task("tanh", 1) == "regression"


def test_linear_output_with_a_classification_task_uses_logits():
    model = models.compile(_dense(3, None), "multiclass")
    assert model.loss.from_logits
    binary = models.compile(_dense(1, None), "binary")
    assert binary.loss.from_logits
    assert binary._compile_metrics._user_metrics[0].threshold == 0.0


def test_onehot_labels_and_explicit_choices_win():
    model = models.compile(
        _dense(3, "softmax"), labels="onehot", optimizer="sgd", learning_rate=0.05,
        steps_per_execution=4, jit_compile=False, metrics=["mse"],
    )  # fmt: skip
    assert model.loss.name == "categorical_crossentropy"
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.steps_per_execution == 4
    assert model.jit_compile is False


@pytest.mark.parametrize(
    ("build", "kwargs", "match"),
    [
        (lambda: _dense(10, "softmax"), {"loss": "mse"}, r"loss='mse' is a regression loss"),
        (lambda: _dense(1, "softmax"), {}, r"softmax over one unit is always 1"),
        (lambda: _dense(1, "sigmoid"), {"task": "multiclass"}, r"needs one unit per class"),
        (lambda: _dense(3, "sigmoid"), {"task": "binary"}, r"task='binary' needs one unit"),
        (lambda: _dense(3, "softmax"), {"task": "regression"}, r"gives probabilities"),
        (lambda: _dense(3, "softmax"), {"task": "multilabel"}, r"needs sigmoid"),
        (lambda: _dense(3, "sigmoid"), {"task": "multiclass"}, r"needs softmax"),
        (lambda: _dense(3, "relu"), {"task": "multiclass"}, r"not a probability or a logit"),
        (lambda: _dense(1, None), {"task": "binary", "loss": "binary_crossentropy"},
         r"expects probabilities"),
        (lambda: _dense(1, None), {"loss": "binary_crossentropy"}, r"is for classification"),
        (lambda: _dense(3, "softmax"), {"loss": "binary_crossentropy"}, r"needs sigmoid outputs"),
    ],
)  # fmt: skip
def test_inconsistent_choices_are_refused_with_an_explanation(build, kwargs, match):
    with pytest.raises(ConfigurationError, match=match) as info:
        models.compile(build(), **kwargs)
    assert "force=True" in str(info.value)


def test_force_compiles_the_keras2_style_mse_on_softmax():
    model = models.compile(_dense(10, "softmax"), loss="mse", metrics=["accuracy"], force=True)
    assert model.loss == "mse"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "ranking"}, r"`task` must be 'auto' or one of"),
        ({"labels": "dense"}, r"`labels` must be one of"),
        ({"task": {"nope": "binary"}}, r"names outputs the model does not have"),
        ({"optimizer": keras.optimizers.SGD, "learning_rate": 0.1}, r"applies to an optimizer"),
        ({"mixed_precision": "mixed_bfloat16"}, r"chosen when a model is built"),
        ({"mixed_precision": "float64"}, r"Mixed precision must be"),
    ],
)
def test_bad_arguments(kwargs, match):
    if kwargs.get("optimizer") is keras.optimizers.SGD:
        kwargs = {**kwargs, "optimizer": keras.optimizers.SGD()}
    with pytest.raises(ConfigurationError, match=match):
        models.compile(_dense(3, "softmax"), **kwargs)


def test_model_without_inputs_is_refused():
    with pytest.raises(ConfigurationError, match=r"Start a Sequential with keras.Input"):
        models.compile(keras.Sequential([keras.layers.Dense(2)]))


def test_mixed_precision_model_needs_float32_outputs():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = _dense(3, "softmax")
    with pytest.raises(ConfigurationError, match=r"needs float32 outputs"):
        models.compile(model)
    good = models.mlp((4,), hidden=(4,), outputs=3)  # builders keep the output float32
    assert models.compile(good, mixed_precision="mixed_bfloat16") is good


def test_multi_output_tasks_per_output_and_training():
    model = models.mlp((4,), hidden=(8,), outputs={"kind": 3, "flag": 1, "size": 1},
                       output_activation={"size": "linear"})  # fmt: skip
    models.compile(model, task={"size": "regression"})
    assert {n: model.loss[n].name for n in model.output_names} == {
        "kind": "sparse_categorical_crossentropy",
        "flag": "binary_crossentropy",
        "size": "mean_squared_error",
    }
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = {"kind": rng.integers(0, 3, 64), "flag": rng.integers(0, 2, (64, 1)), "size": x[:, :1]}
    history = model.fit(x, y, epochs=1, verbose=0)
    assert {"kind_accuracy", "flag_accuracy", "size_mae"} <= set(history.history)


def test_resolve_labels_switches_to_onehot_and_training_works():
    model = models.compile(models.mlp((4,), hidden=(8,), outputs=3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    ids = rng.integers(0, 3, 64)
    assert resolve_labels(model, ids) == "sparse"
    assert model.loss.name == "sparse_categorical_crossentropy"
    fit_steps_per_execution(model, 4)  # kerasx.fit caps "auto" at the batches of an epoch
    assert resolve_labels(model, keras.utils.to_categorical(ids, 3)) == "onehot"
    assert model.loss.name == "categorical_crossentropy"
    assert model.steps_per_execution == 4  # the cap survives the recompile
    model.fit(x, keras.utils.to_categorical(ids, 3), epochs=1, verbose=0)
    optimizer, steps = model.optimizer, int(model.optimizer.iterations)
    moments = [v.numpy().copy() for v in optimizer.variables]
    assert resolve_labels(model, ids) == "sparse"  # and back, if the targets change
    assert model.loss.name == "sparse_categorical_crossentropy"
    # The switch keeps the optimizer and its state (Adam's step count and moments).
    assert model.optimizer is optimizer and int(optimizer.iterations) == steps > 0
    for before, after in zip(moments, optimizer.variables, strict=True):
        np.testing.assert_array_equal(after.numpy(), before)
    model.fit(x, ids, epochs=1, verbose=0)
    assert int(optimizer.iterations) == 2 * steps
    # Explicit labels are left alone, and so are models kerasx did not compile.
    explicit = models.compile(models.mlp((4,), outputs=3), labels="sparse")
    assert resolve_labels(explicit, keras.utils.to_categorical(ids, 3)) is None
    assert resolve_labels(_dense(3, "softmax"), ids) is None


def test_fast_defaults():
    assert choose_steps_per_execution(100_000) == 512
    assert choose_steps_per_execution(5_000_000) == 64
    assert choose_steps_per_execution(50_000_000) == 1
    assert choose_steps_per_execution(100_000, steps_per_epoch=45) == 45
    mlp = models.compile(models.mlp((64,), hidden=(32,)))
    assert mlp.steps_per_execution == 512
    on_this_machine = bool(tf.config.list_physical_devices("GPU"))
    assert choose_jit_compile(models.mlp((64,))) is on_this_machine
    assert choose_jit_compile(models.cnn((8, 8), filters=(4,)), gpu=False) is False
    assert choose_jit_compile(models.cnn((8, 8), filters=(4,)), gpu=True) is True
    assert choose_jit_compile(models.rnn((None, 1)), gpu=True) is True


def test_no_xla_where_it_cannot_run_even_on_a_gpu(op_determinism):
    assert choose_jit_compile(models.mlp((4,)), gpu=True) is False  # op determinism is on


def test_no_xla_for_layers_without_it_or_under_a_strategy_even_on_a_gpu():
    class NoXLA(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.supports_jit = False

        def call(self, inputs):
            return inputs

    inner = keras.Sequential([keras.Input((4,)), NoXLA(), keras.layers.Dense(2)])
    nested = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2)])
    assert choose_jit_compile(nested, gpu=True) is False  # found inside a nested model
    assert choose_jit_compile(models.mlp((4,), strategy="one"), gpu=True) is False


def test_compiled_model_round_trips_through_keras_format(tmp_path):
    model = models.compile(models.mlp((4,), hidden=(8,), outputs=3))
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    model.fit(x, np.arange(32) % 3, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.loss.name == "sparse_categorical_crossentropy"


def test_an_explicit_categorical_loss_sets_the_labels_and_its_metric():
    onehot = models.compile(models.mlp((4,), outputs=3), loss="categorical_crossentropy")
    assert _metric_classes(onehot) == ["CategoricalAccuracy"]
    sparse = models.compile(
        models.mlp((4,), outputs=3), loss=keras.losses.SparseCategoricalCrossentropy()
    )
    assert _metric_classes(sparse) == ["SparseCategoricalAccuracy"]
    ids = np.arange(32) % 3
    # resolve_labels leaves a loss the user chose alone, whatever the targets look like.
    assert resolve_labels(onehot, ids) is None
    assert onehot.loss == "categorical_crossentropy"
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    onehot.fit(x, keras.utils.to_categorical(ids, 3), epochs=1, verbose=0)  # plain Keras too
    with pytest.raises(ConfigurationError, match=r"takes one-hot rows as targets, but "
                       r"labels='sparse' says they are integer class ids"):
        models.compile(
            models.mlp((4,), outputs=3), loss="categorical_crossentropy", labels="sparse"
        )


def test_builder_task_chooses_the_output_activation_and_the_compiled_loss():
    regressor = models.compile(models.rnn((None, 1), task="regression"))
    assert regressor.get_layer("output").activation.__name__ == "linear"
    assert "mean_squared_error" in str(regressor.loss)
    assert _metric_classes(regressor) == ["MeanAbsoluteError"]
    two = models.mlp((4,), outputs={"kind": 3, "size": 1}, task={"size": "regression"})
    assert two.get_layer("kind").activation.__name__ == "softmax"
    assert two.get_layer("size").activation.__name__ == "linear"
    models.compile(two)
    assert "mean_squared_error" in str(two.loss["size"])
    with pytest.raises(ConfigurationError, match=r"multiclass output needs one unit per class"):
        models.cnn((8, 8), filters=(4,), outputs=1, task="multiclass")
    with pytest.raises(ConfigurationError, match=r"`task` must be 'auto' or one of .* "
                       r"Received: task='classify'"):
        models.mlp((4,), task="classify")


def test_fit_reads_one_hot_targets_from_a_generator_or_a_dataset():
    from kerasx.data import DataGenerator

    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    onehot = keras.utils.to_categorical(np.arange(48) % 3, 3)
    for data in (
        DataGenerator.from_arrays(x, onehot, batch_size=16, seed=0),
        tf.data.Dataset.from_tensor_slices((x, onehot)).batch(16),
    ):
        model = models.compile(models.mlp((4,), hidden=(8,), outputs=3))
        history = kerasx.fit(model, data, epochs=1, progress=False)
        assert model.loss.name == "categorical_crossentropy"
        assert np.isfinite(history.history["loss"][0])


def test_fit_caps_automatic_steps_per_execution_at_the_batches_of_an_epoch():
    model = models.compile(models.mlp((4,), hidden=(8,), outputs=2))
    assert model.steps_per_execution == 512
    x = np.zeros((100, 4), "float32")
    y = np.zeros(100, "int32")
    kerasx.fit(model, x, y, epochs=1, batch_size=32, progress=False)
    assert model.steps_per_execution == 4  # ceil(100 / 32)
    fixed = models.compile(models.mlp((4,), outputs=2), steps_per_execution=16)
    kerasx.fit(fixed, x, y, epochs=1, batch_size=32, progress=False)
    assert fixed.steps_per_execution == 16  # an explicit value is left alone


def test_an_output_whose_task_cannot_be_read_is_refused_until_named():
    inputs = keras.Input((4,))
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="doubled")(keras.layers.Dense(3)(inputs))
    model = keras.Model(inputs, doubled)
    with pytest.raises(ConfigurationError, match=r"Cannot infer the task of output 'doubled' "
                       r"\(3 unit\(s\), activation None\)\. Received: task='auto'\. Pass task="):
        models.compile(model)
    assert "mean_squared_error" in str(models.compile(model, task="regression").loss)


def test_class_probabilities_count_as_onehot_targets_and_train():
    model = models.compile(models.mlp((4,), hidden=(8,), outputs=3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    logits = rng.normal(size=(64, 3))
    soft = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype("float32")
    history = kerasx.fit(model, x, soft, epochs=1, batch_size=16, progress=False)
    assert model.loss.name == "categorical_crossentropy"
    assert np.isfinite(history.history["loss"][0])


def test_a_list_gives_one_entry_per_output_in_order():
    def two_heads():
        return models.mlp((4,), hidden=(4,), outputs={"a": 1, "b": 1}, task="regression")

    model = models.compile(two_heads(), loss=["mse", "mae"])
    assert model.loss == {"a": "mse", "b": "mae"}
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = {"a": x[:, :1] * 3, "b": x[:, 1:2] * 3}
    pred = model.predict(x, verbose=0)
    expected = np.mean((pred["a"] - y["a"]) ** 2) + np.mean(np.abs(pred["b"] - y["b"]))
    total = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(total, expected, rtol=1e-5)
    tasks = models.compile(two_heads(), task=("regression", "binary"))
    assert {n: tasks.loss[n].name for n in ("a", "b")} == {
        "a": "mean_squared_error", "b": "binary_crossentropy"
    }  # fmt: skip
    # The order is `model.output_names`: Keras sorts a dict's names, in builders as well.
    heads = models.mlp((4,), outputs={"up": 1, "size": 1}, task=["regression", "binary"])
    assert heads.output_names == ["size", "up"]
    assert [heads.get_layer(n).activation.__name__ for n in ("size", "up")] == [
        "linear", "sigmoid"
    ]  # fmt: skip
    models.compile(heads, task=["regression", "binary"], loss=["mae", None])
    assert heads.loss["size"] == "mae" and heads.loss["up"].name == "binary_crossentropy"
    # One output: a one-entry list is that output's value, and is checked like one.
    with pytest.raises(ConfigurationError, match=r"softmax"):
        models.compile(models.mlp((4,), outputs=3), loss=["mse"])
    assert models.compile(models.mlp((4,), outputs=3), loss=["mse"], force=True).loss == "mse"
    with pytest.raises(ConfigurationError, match=r"model has 2 output\(s\) \['a', 'b'\]\. "
                       r"Received: 3 entries"):
        models.compile(two_heads(), loss=["mse", "mae", "mse"])


def test_sequence_outputs_tell_class_ids_from_one_hot_rows_by_rank():
    model = models.compile(models.rnn((5, 2), units=(4,), outputs=5, return_sequences=True))
    assert model.output_shape == (None, 5, 5)  # 5 time steps, 5 classes
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, (8, 5))  # (samples, time): as wide as the class axis
    assert resolve_labels(model, ids) == "sparse"
    assert resolve_labels(model, keras.utils.to_categorical(ids, 5)) == "onehot"
    model.fit(rng.normal(size=(8, 5, 2)), keras.utils.to_categorical(ids, 5), verbose=0)
    assert resolve_labels(model, ids) == "sparse"
    model.fit(rng.normal(size=(8, 5, 2)), ids, verbose=0)
    # A tf.data.Dataset is read from its element spec: one-hot sequences, then class ids.
    x = rng.normal(size=(8, 5, 2)).astype("float32")
    onehot = tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(ids, 5)))
    kerasx.fit(model, onehot.batch(4), epochs=1, progress=False)
    assert model.loss.name == "categorical_crossentropy"
    kerasx.fit(model, tf.data.Dataset.from_tensor_slices((x, ids)).batch(4), epochs=1,
               progress=False)
    assert model.loss.name == "sparse_categorical_crossentropy"


def test_label_switch_keeps_a_mixed_float16_loss_scale_optimizer():
    # mixed_float16 runs (slowly) on CPU too, so the GPU policy's optimizer path is tested here.
    from keras.optimizers import LossScaleOptimizer

    model = models.compile(
        models.mlp((4,), hidden=(8,), outputs=3, mixed_precision="mixed_float16"),
        mixed_precision="mixed_float16",
    )
    rng = np.random.default_rng(0)
    x, ids = rng.normal(size=(32, 4)).astype("float32"), rng.integers(0, 3, 32)
    kerasx.fit(model, x, keras.utils.to_categorical(ids, 3), epochs=1, batch_size=8,
               progress=False)  # fmt: skip
    optimizer = model.optimizer
    assert isinstance(optimizer, LossScaleOptimizer) and int(optimizer.iterations) == 4
    kerasx.fit(model, x, ids, epochs=1, batch_size=8, progress=False)
    assert model.loss.name == "sparse_categorical_crossentropy"
    assert model.optimizer is optimizer and int(optimizer.iterations) == 8  # not re-wrapped
