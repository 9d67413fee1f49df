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
