"""kerasx.models.mlp / cnn / rnn: shapes, names, parameter counts, errors, training."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasx import datasets, models, runtime
from kerasx.errors import ConfigurationError


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    return (x_train / 16.0, y_train), (x_test / 16.0, y_test)


def _names(model):
    return [layer.name for layer in model.layers]


def test_mlp_names_shapes_and_parameter_count():
    model = models.mlp((100,), hidden=(64,), outputs=10)
    assert isinstance(model, keras.Model)
    assert model.name == "mlp"
    assert _names(model) == ["input", "hidden_1", "output"]
    assert model.count_params() == 100 * 64 + 64 + 64 * 10 + 10
    assert model.output_shape == (None, 10)
    assert model.get_layer("output").activation.__name__ == "softmax"


def test_mlp_flattens_images_and_adds_batch_norm_and_dropout():
    model = models.mlp((8, 8), hidden=(16, 8), outputs=1, batch_norm=True, dropout=0.2, name="m")
    assert _names(model) == [
        "input", "flatten",
        "hidden_1", "hidden_1_bn", "hidden_1_act", "hidden_1_dropout",
        "hidden_2", "hidden_2_bn", "hidden_2_act", "hidden_2_dropout",
        "output",
    ]  # fmt: skip
    # Dense without bias + BatchNormalization (4 per unit, 2 of them trainable)
    assert model.count_params() == 64 * 16 + 4 * 16 + 16 * 8 + 4 * 8 + 8 + 1
    assert model.get_layer("output").activation.__name__ == "sigmoid"


def test_mlp_two_inputs_concatenated_is_the_keras2_style_model():
    model = models.mlp(
        {"x1": (784,), "x2": (784,)}, hidden=(), outputs=1, branch=(10,), output_activation="linear"
    )
    assert _names(model) == ["x1", "x2", "x1_branch_1", "x2_branch_1", "concatenate", "output"]
    assert model.count_params() == 2 * (784 * 10 + 10) + 20 + 1
    prediction = model.predict({"x1": np.zeros((2, 784)), "x2": np.ones((2, 784))}, verbose=0)
    assert prediction.shape == (2, 1)


def test_mlp_multi_output_heads_are_named_and_float32():
    model = models.mlp((4,), hidden=(8,), outputs={"kind": 3, "is_big": 1, "size": 2},
                       output_activation={"size": "linear"})  # fmt: skip
    assert sorted(model.output_names) == ["is_big", "kind", "size"]  # Keras sorts dict keys
    activations = {n: model.get_layer(n).activation.__name__ for n in model.output_names}
    assert activations == {"kind": "softmax", "is_big": "sigmoid", "size": "linear"}
    assert all(model.get_layer(n).dtype_policy.name == "float32" for n in model.output_names)


def test_mixed_precision_build_keeps_output_float32_and_restores_global_policy():
    model = models.mlp((4,), hidden=(8,), outputs=3, mixed_precision="mixed_bfloat16")
    assert model.get_layer("hidden_1").compute_dtype == "bfloat16"
    assert model.get_layer("output").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_cnn_names_and_parameter_count():
    model = models.cnn((8, 8), filters=(8, 16), dense=(32,), outputs=10)
    assert _names(model) == [
        "input", "add_channel", "conv_1", "pool_1", "conv_2", "pool_2", "flatten",
        "dense_1", "dense_1_dropout", "output",
    ]  # fmt: skip
    conv = (3 * 3 * 1 * 8 + 8) + (3 * 3 * 8 * 16 + 16)
    assert model.count_params() == conv + (2 * 2 * 16 * 32 + 32) + (32 * 10 + 10)


def test_cnn_global_pool_batch_norm_and_two_inputs():
    model = models.cnn(
        {"left": (8, 8, 1), "right": (8, 8, 3)}, filters=(4,), dense=(), global_pool=True,
        batch_norm=True, outputs=2,
    )  # fmt: skip
    names = _names(model)
    for expected in ("left_conv_1", "left_conv_1_bn", "right_pool_1", "right_global_pool",
                     "concatenate", "output"):  # fmt: skip
        assert expected in names
    assert model.get_layer("concatenate").output.shape == (None, 8)


def test_cnn_refuses_an_input_too_small_for_the_pooling_stack():
    with pytest.raises(ConfigurationError, match=r"pool_4 would shrink the 1x1 feature map"):
        models.cnn((8, 8), filters=(8, 8, 8, 8))
    # Without pooling the same stack is fine.
    assert models.cnn((8, 8), filters=(8, 8, 8, 8), pool_size=None, dense=()).output_shape == (
        None,
        10,
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: models.cnn((8, 8), filters=()), r"`filters` must not be empty"),
        (lambda: models.mlp((0,)), r"input_shape.*positive integers"),
        (lambda: models.mlp((None, 4)), r"positive integers"),
        (lambda: models.mlp((4,), outputs=0), r"`outputs` must be a positive integer"),
        (lambda: models.mlp((4,), outputs={"a": 0}), r"map output names to positive"),
        (lambda: models.mlp((4,), dropout=1.0), r"`dropout` must be a rate in \[0, 1\)"),
        (lambda: models.mlp((4,), hidden=(8, -1)), r"`hidden` must contain positive integers"),
        (lambda: models.mlp((4,), branch=(3,)), r"one input"),
        (
            lambda: models.mlp((4,), output_activation={"nope": "relu"}),
            r"names outputs the model does not have: \[.nope.\]",
        ),
        (lambda: models.mlp({}), r"at least one input"),
        (lambda: models.cnn((8,)), r"2 or 3 dimension"),
        (lambda: models.cnn((8, 8), pool_size=(2,)), r"pool_size"),
        (lambda: models.rnn((None, 1), cell="transformer"), r"`cell` must be one of"),
        (lambda: models.rnn((5,)), r"2 dimension"),
        (lambda: models.rnn((None, 1), units=()), r"`units` must not be empty"),
        (lambda: models.mlp((4,), name=""), r"`name` must be a non-empty string"),
        (lambda: models.mlp((4,), mixed_precision="float8"), r"Mixed precision must be"),
    ],
)
def test_builder_errors(call, match):
    with pytest.raises(ConfigurationError, match=match):
        call()


def test_rnn_variable_length_and_names():
    model = models.rnn((None, 1), units=(32, 32))
    assert model.input_shape == (None, None, 1)
    assert _names(model) == ["input", "lstm_1", "lstm_2", "output"]
    lstm = 4 * (32 * (1 + 32) + 32)
    assert model.count_params() == lstm + 4 * (32 * (32 + 32) + 32) + 33
    for steps in (3, 9):
        assert model.predict(np.zeros((2, steps, 1)), verbose=0).shape == (2, 1)


def test_rnn_bidirectional_gru_sequences():
    model = models.rnn((6, 2), units=(4,), outputs=3, cell="gru", bidirectional=True,
                       return_sequences=True)  # fmt: skip
    assert _names(model) == ["input", "bidirectional_1", "output"]
    assert model.output_shape == (None, 6, 3)


def test_rnn_two_inputs_of_different_lengths_and_two_outputs():
    model = models.rnn({"words": (None, 3), "prices": (None, 1)}, units=(4,), cell="simple",
                       outputs={"up": 1, "size": 1}, task={"size": "regression"})  # fmt: skip
    assert {"words_simple_1", "prices_simple_1", "concatenate", "up", "size"} <= set(
        _names(model)
    )
    simple = 4 * (3 + 4) + 4
    assert model.count_params() == simple + (4 * (1 + 4) + 4) + 2 * (8 + 1)
    assert model.get_layer("up").activation.__name__ == "sigmoid"
    assert model.get_layer("size").activation.__name__ == "linear"
    data = {"words": np.zeros((2, 7, 3)), "prices": np.ones((2, 2, 1))}  # lengths 7 and 2
    out = model.predict(data, verbose=0)
    assert out["up"].shape == out["size"].shape == (2, 1)


def test_builder_under_a_strategy_records_it():
    import tensorflow as tf

    model = models.mlp((4,), hidden=(4,), outputs=2, strategy="one")
    strategy = model.distribute_strategy
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert strategy is runtime.strategy("one")  # one instance per name, as kerasx.fit's
    # Built inside the strategy's scope: every variable belongs to it.
    assert all(strategy.extended.variable_created_in_scope(w.value) for w in model.weights)
    plain = models.mlp((4,), hidden=(4,), outputs=2)
    assert not any(strategy.extended.variable_created_in_scope(w.value) for w in plain.weights)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "cnn", "rnn"])
def test_each_builder_learns_digits_in_two_epochs(kind, digits):
    (x_train, y_train), (x_test, y_test) = digits
    keras.utils.set_random_seed(1)
    if kind == "mlp":
        model = models.mlp((8, 8), hidden=(64,), outputs=10)
    elif kind == "cnn":
        model = models.cnn((8, 8), filters=(16,), dense=(64,), dropout=0.1, outputs=10)
    else:  # rows of the image as 8 time steps of 8 features
        model = models.rnn((None, 8), units=(32,), outputs=10, cell="gru")
    models.compile(model, optimizer="adam", learning_rate=0.01)
    model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.3, f"{kind} reached only {accuracy:.2f} (chance is 0.10)"
