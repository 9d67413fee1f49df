"""When a `DataGenerator` moves to the next epoch's permutation (`kerasx/data/_epochs.py`).

Two callers end epochs: Keras (`on_epoch_begin`, the batches, `on_epoch_end`, plus extra
`on_epoch_end` calls when it resets an iterator) and loops that follow the
`keras.utils.Sequence` contract (read every batch, then `on_epoch_end`). Each must get a new
permutation exactly once per epoch.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest

from kerasx.data import DataGenerator
from kerasx.data._epochs import EpochCounter


class Recorder(DataGenerator):
    """Returns the sample indices as `y` and records every index it loads."""

    def __init__(self, num_samples: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.loaded: list[int] = []
        self.lock = threading.Lock()

    def load_batch(self, indices):
        with self.lock:
            self.loaded.extend(int(i) for i in indices)
        return np.repeat(indices.astype("float32")[:, None], 3, axis=1), indices[:, None] * 1.0


def _regressor():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _sequence_epoch(generator: DataGenerator) -> list[int]:
    """One epoch as the `keras.utils.Sequence` contract has it: every batch, then
    `on_epoch_end()`; no `on_epoch_begin()`."""
    seen = [int(i) for index in range(len(generator)) for i in generator[index][1][:, 0]]
    generator.on_epoch_end()
    return seen


# ---------------------------------------------------------------- the counter on its own


def test_counter_advances_after_begin_and_end_whatever_was_read():
    counter = EpochCounter()
    counter.begin()
    assert counter.end(batches=5)
    counter.begin()
    counter.read(0)
    assert counter.end(batches=5)
    assert counter.epoch == 2


def test_counter_advances_without_begin_only_after_every_batch_was_read():
    counter = EpochCounter()
    counter.read(0)
    counter.read(1)
    assert not counter.end(batches=3)  # Keras's reset after reading batches 0 and 1
    assert counter.epoch == 0
    for index in (0, 1, 2, 2):
        counter.read(index)
    assert counter.end(batches=3)
    assert counter.epoch == 1
    assert not counter.end(batches=3)  # nothing read since: an extra call counts for nothing
    assert counter.epoch == 1


def test_counter_takes_back_an_advance_that_keras_reset_made_on_a_tiny_generator():
    counter = EpochCounter()
    counter.read(0)
    counter.read(1)
    assert counter.end(batches=2)  # batches 0 and 1: Keras's spec reads, or a whole pass
    assert counter.epoch == 1
    counter.begin()  # Keras begins its epoch: it was the spec reads
    assert counter.epoch == 0
    counter.read(0)
    counter.read(1)
    counter.end(batches=2)
    counter.read(0)  # a Sequence-style loop reads on instead: the advance holds
    counter.begin()
    assert counter.epoch == 1


def test_counter_set_forgets_what_happened_in_the_epoch():
    counter = EpochCounter()
    counter.begin()
    counter.set(7)
    assert not counter.end(batches=3)
    assert counter.epoch == 7


# ---------------------------------------------------------------- a Sequence-style loop


def test_a_sequence_style_loop_gets_a_new_permutation_after_each_on_epoch_end():
    generator = Recorder(40, batch_size=8, seed=3)
    epochs = [_sequence_epoch(generator) for _ in range(3)]
    assert generator.epoch == 3
    for epoch, seen in enumerate(epochs):
        assert seen == generator.order(epoch).tolist()
    assert len({tuple(seen) for seen in epochs}) == 3


@pytest.mark.parametrize("num_samples", [8, 16, 40])  # 1, 2 and 5 batches
def test_a_sequence_style_loop_on_small_generators(num_samples):
    generator = Recorder(num_samples, batch_size=8, seed=3)
    epochs = [_sequence_epoch(generator) for _ in range(3)]
    assert generator.epoch == 3
    assert epochs == [generator.order(e).tolist() for e in range(3)]


def test_on_epoch_end_after_part_of_an_epoch_does_not_advance():
    generator = Recorder(40, batch_size=8, seed=3)
    generator[0]
    generator[1]
    generator.on_epoch_end()
    assert generator.epoch == 0


def test_the_sequence_protocol_resumes_from_a_state():
    generator = Recorder(40, batch_size=8, seed=3)
    _sequence_epoch(generator)
    state = generator.get_state()
    assert state["epoch"] == 1
    resumed = Recorder(40, batch_size=8, seed=0)
    resumed.set_state(state)
    assert _sequence_epoch(resumed) == generator.order(1).tolist()


# ---------------------------------------------------------------- Keras's own calls


@pytest.mark.parametrize("num_samples", [8, 16, 24, 40])  # 1, 2, 3 and 5 batches
def test_keras_fit_with_its_extra_on_epoch_end_calls_never_skips_an_epoch(num_samples):
    generator = Recorder(num_samples, batch_size=8, seed=5)
    validation = Recorder(num_samples, batch_size=8, seed=5, shuffle=False)
    _regressor().fit(generator, validation_data=validation, epochs=3, shuffle=False, verbose=0)
    assert (generator.epoch, validation.epoch) == (3, 3)
    # Keras loads the first batches once up front, for the element spec.
    spec_reads = min(2, len(generator)) * 8
    trained = generator.loaded[min(spec_reads, num_samples):]
    assert trained == [i for epoch in range(3) for i in generator.order(epoch).tolist()]


def test_keras_evaluate_after_a_sequence_style_loop_uses_the_next_epoch():
    generator = Recorder(16, batch_size=8, seed=5)
    _sequence_epoch(generator)
    generator.loaded.clear()
    _regressor().evaluate(generator, verbose=0)
    assert generator.epoch == 2
    assert generator.loaded[16:] == generator.order(1).tolist()
