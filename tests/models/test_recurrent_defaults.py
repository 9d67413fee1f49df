"""`jit_compile="auto"` for recurrent models on CPU (`kerasx/models/_defaults.py`).

XLA made epochs of a two-layer LSTM and GRU (50 steps, 32 units) about 3x faster on CPU, the
first epoch included (benchmarks/bench_models.py); it compiles once per sequence length, so
it stays off for variable-length inputs.
"""

from __future__ import annotations

import keras

from kerasx import models
from kerasx.models._defaults import choose_jit_compile


def _functional(cell: str, steps: int | None):
    inputs = keras.Input((steps, 1))
    layer = getattr(keras.layers, cell)
    x = layer(8, return_sequences=True)(inputs)
    x = layer(8)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def test_xla_on_cpu_for_recurrent_models_with_fixed_length_inputs():
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        assert choose_jit_compile(_functional(cell, 50), gpu=False) is True
    assert choose_jit_compile(models.rnn((20, 3), bidirectional=True), gpu=False) is True
    assert models.compile(_functional("LSTM", 50)).jit_compile is True


def test_no_xla_on_cpu_for_variable_length_sequences_or_other_models():
    assert choose_jit_compile(_functional("LSTM", None), gpu=False) is False
    assert choose_jit_compile(models.rnn((None, 1)), gpu=False) is False
    assert choose_jit_compile(models.mlp((50,)), gpu=False) is False
    assert models.compile(_functional("LSTM", None)).jit_compile is False


def test_no_xla_for_recurrent_models_under_op_determinism(op_determinism):
    assert choose_jit_compile(_functional("LSTM", 50), gpu=False) is False


def test_kerasx_fit_turns_xla_on_when_every_sequence_has_one_length():
    import numpy as np

    import kerasx
    from kerasx.data import DataGenerator

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 1)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")
    model = models.compile(models.rnn((None, 1), units=(8, 8)))
    assert model.jit_compile is False
    kerasx.fit(model, x, y, epochs=1, progress=False)  # NumPy arrays: one length
    assert model.jit_compile is True

    class Rows(DataGenerator):  # a subclass may give batches of any length
        def load_batch(self, indices):
            return x[indices], y[indices]

    other = models.compile(models.rnn((None, 1), units=(8, 8)))
    kerasx.fit(other, Rows(64, batch_size=16, seed=0), epochs=1, progress=False)
    assert other.jit_compile is False
    explicit = models.compile(models.rnn((None, 1), units=(8, 8)), jit_compile=False)
    kerasx.fit(explicit, DataGenerator.from_arrays(x, y, seed=0), epochs=1, progress=False)
    assert explicit.jit_compile is False


class _Scale(keras.layers.Layer):
    """A user's own layer: kerasx cannot know what its ops are."""

    def call(self, x):
        return x * 2.0


class _Cell(keras.layers.Layer):
    """A user's own RNN cell, inside Keras's own `RNN` layer."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1] + self.units, self.units))

    def call(self, x, states):
        h = keras.ops.tanh(keras.ops.matmul(keras.ops.concatenate([x, states[0]], -1), self.kernel))
        return h, [h]


def _lstm_with(layer):
    inputs = keras.Input((20, 1))
    x = keras.layers.LSTM(8, return_sequences=True)(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(layer(x))))


def test_no_xla_on_cpu_when_a_layer_loss_or_metric_is_the_users_own_code():
    assert choose_jit_compile(_lstm_with(keras.layers.Dense(2)), gpu=False) is True
    assert choose_jit_compile(_lstm_with(_Scale()), gpu=False) is False
    assert choose_jit_compile(_lstm_with(keras.layers.Lambda(lambda t: t * 2)), gpu=False) is False
    inputs = keras.Input((20, 1))
    custom_cell = keras.Model(inputs, keras.layers.RNN(_Cell(4))(inputs))
    assert choose_jit_compile(custom_cell, gpu=False) is False

    def my_loss(y_true, y_pred):
        return keras.ops.mean((y_true - y_pred) ** 2)

    plain = _functional("LSTM", 20)
    assert choose_jit_compile(plain, gpu=False, user_objects=["mse", ["mae"]]) is True
    assert choose_jit_compile(plain, gpu=False, user_objects=[my_loss]) is False
    assert choose_jit_compile(plain, gpu=False, user_objects=[keras.losses.Huber()]) is True
    assert models.compile(_functional("LSTM", 20), loss=my_loss).jit_compile is False
    assert models.compile(_functional("LSTM", 20), metrics=[my_loss]).jit_compile is False
    assert models.compile(_functional("LSTM", 20), loss="mse").jit_compile is True


def test_a_layer_xla_cannot_compile_still_trains_through_kerasx():
    # Before XLA became the CPU default for recurrent models, this trained; it must still.
    import numpy as np
    import tensorflow as tf

    import kerasx

    def through_python(t):
        out = tf.py_function(lambda v: v * 2.0, [t], tf.float32)
        out.set_shape(t.shape)
        return out

    model = models.compile(
        _lstm_with(keras.layers.Lambda(through_python, output_shape=(20, 8))), loss="mse"
    )
    x = np.random.default_rng(0).normal(size=(32, 20, 1)).astype("float32")
    history = kerasx.fit(model, x, x[:, :1, 0], epochs=1, progress=False)
    assert model.jit_compile is False and np.isfinite(history.history["loss"][0])


def test_xla_that_fit_turned_on_goes_off_for_data_of_many_lengths_and_never_overrides_the_user():
    import numpy as np

    import kerasx
    from kerasx.data import DataGenerator

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 12, 1)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")

    class Rows(DataGenerator):  # a subclass may give batches of any length
        def load_batch(self, indices):
            return x[indices], y[indices]

    model = models.compile(models.rnn((None, 1), units=(8,)))
    kerasx.fit(model, x, y, epochs=1, progress=False)
    assert model.jit_compile is True
    kerasx.fit(model, Rows(32, batch_size=16, seed=0), epochs=1, progress=False)
    assert model.jit_compile is False
    kerasx.fit(model, x, y, epochs=1, progress=False)
    assert model.jit_compile is True

    model.jit_compile = False  # the user's own choice, after kerasx turned XLA on
    kerasx.fit(model, x, y, epochs=1, progress=False)
    assert model.jit_compile is False
