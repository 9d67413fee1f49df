"""`kerasx.fit`'s feed for a `DataGenerator` with `use_multiprocessing=True`
(`kerasx/training/_feeds.py`): worker processes that the feed owns, exact resume, and the
rest of an epoch after a mid-epoch state."""

from __future__ import annotations

import multiprocessing
import os

import keras
import numpy as np
import pytest

import kerasx
from kerasx.data import DataGenerator
from kerasx.data._workers import worker_pool
from kerasx.training._feeds import prepare_input, train_input

_RNG = np.random.default_rng(80)
X = _RNG.normal(size=(80, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("int32")


class Rows(DataGenerator):
    """Rows of the module's arrays."""

    def load_batch(self, indices):
        return X[indices], Y[indices]


class Pids(DataGenerator):
    """`x` holds the id of the process that loaded the batch."""

    def load_batch(self, indices):
        return np.full((len(indices), 4), os.getpid(), "float32"), Y[indices]


def _model():
    kerasx.seed_everything(5, deterministic=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _workers_gone(pools) -> bool:
    return not any(pool.running for pool in pools) and not multiprocessing.active_children()


@pytest.mark.slow
def test_resume_with_process_workers_equals_an_uninterrupted_run(tmp_path):
    def generator():
        return Rows(len(X), batch_size=16, seed=11, workers=2, use_multiprocessing=True)

    straight = _model()
    kerasx.fit(straight, generator(), epochs=3, run_dir=tmp_path / "a", progress=False)
    first = _model()
    kerasx.fit(first, generator(), epochs=1, run_dir=tmp_path / "b", progress=False)
    resumed = _model()
    history = kerasx.fit(resumed, generator(), epochs=3, run_dir=tmp_path / "b", progress=False)

    assert history.resumed_from_epoch == 1 and history.epoch == [0, 1, 2]
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    assert not multiprocessing.active_children()


def test_the_feed_owns_the_workers_of_training_and_validation_data():
    train = Pids(32, batch_size=8, seed=0, workers=2, use_multiprocessing=True)
    val = Pids(16, batch_size=8, shuffle=False, workers=2, use_multiprocessing=True)
    model = _model()
    with prepare_input(
        model, train, None, batch_size=None, validation_data=val, validation_split=0.0,
        seed=None, fit_kwargs={}, resumable=False,
    ) as feed:
        assert feed.processes and len(feed.pools) == 2
        dataset = train_input(feed, 0)
        train.on_epoch_begin()
        pids = {int(x.numpy()[0, 0]) for x, _ in dataset}
        assert os.getpid() not in pids and len(pids) == 2
        assert feed.pools[0].running
    assert _workers_gone(feed.pools)  # leaving the feed stops them, as fit's end does


def test_training_and_validation_workers_exit_by_themselves_when_fit_ends():
    # Forked workers of the validation pool must not hold the training pool's pipe ends:
    # then every worker sees its pipe close and exits with code 0 (not SIGKILL's -9).
    train = Pids(32, batch_size=8, seed=0, workers=2, use_multiprocessing=True)
    val = Pids(16, batch_size=8, shuffle=False, workers=2, use_multiprocessing=True)
    kerasx.fit(_model(), train, validation_data=val, epochs=2, progress=False)
    assert worker_pool(train).exitcodes == [0, 0]
    assert worker_pool(val).exitcodes == [0, 0]
    assert _workers_gone([worker_pool(train), worker_pool(val)])


def test_the_rest_of_a_cut_short_epoch_comes_from_the_workers():
    generator = Rows(80, batch_size=16, seed=3, workers=2, use_multiprocessing=True)
    feed = prepare_input(
        _model(), generator, None, batch_size=None, validation_data=None,
        validation_split=0.0, seed=None, fit_kwargs={}, resumable=True,
    )
    try:
        assert feed.mid_epoch
        feed.close()  # as the previous model.fit call's end does
        rest = train_input(feed, 2)  # opens the workers again
        got = [y.numpy().tolist() for _, y in rest]
        assert got == [generator[i][1].tolist() for i in range(2, 5)]
    finally:
        feed.close()
    assert _workers_gone(feed.pools)
