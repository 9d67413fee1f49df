"""Tests for the tf.data feeds of `kerasx.data.DataGenerator` (`kerasx/data/_pipeline.py`)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from kerasx.data import DataGenerator


class Nested(DataGenerator):
    """Batches of a nested structure: dicts with unsorted keys, lists inside tuples."""

    def __init__(self, structure: str, **kwargs) -> None:
        super().__init__(10, batch_size=4, seed=0, **kwargs)
        self.structure = structure

    def load_batch(self, indices):
        x = indices.astype("float32")[:, None]
        if self.structure == "dict":
            return {"zeta": x, "alpha": [x + 1, x + 2]}, indices * 1.0
        if self.structure == "list":
            return [x, [x + 1, x + 2]], indices * 1.0, np.ones(len(indices), "float32")
        return x


def _as_tuples(value):
    """The batch structure the feeds give: lists become tuples (Keras reads a tuple as
    `(x, y, sample_weight)`), dicts keep their keys."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _as_tuples(item) for key, item in value.items()}
    return value


def _numpy(value):
    if isinstance(value, tuple):
        return tuple(_numpy(item) for item in value)
    if isinstance(value, dict):
        return {key: _numpy(item) for key, item in value.items()}
    return value.numpy().tolist()


def _plain(value):
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return np.asarray(value).tolist()


@pytest.mark.parametrize("structure", ["dict", "list", "array"])
@pytest.mark.parametrize("feed", ["to_dataset", "threaded"])
def test_feeds_give_the_generators_batches_with_lists_as_tuples(structure, feed):
    generator = Nested(structure, workers=2)
    expected = [_plain(_as_tuples(generator[i])) for i in range(len(generator))]
    dataset = generator.to_dataset() if feed == "to_dataset" else generator._threaded_dataset()
    got = [_numpy(batch) for batch in dataset]
    assert got == expected


def test_pickled_generator_leaves_out_every_feed_cache():
    x, y = np.arange(20, dtype="float32").reshape(10, 2), np.arange(10)
    generator = DataGenerator.from_arrays(x, y, batch_size=4, seed=0)
    generator.tensor_dataset()
    generator._threaded_dataset()
    assert {"_kx_tensors", "_kx_datasets", "_kx_thread_datasets"} <= set(generator.__dict__)
    copy = pickle.loads(pickle.dumps(generator))
    assert not {"_kx_tensors", "_kx_datasets", "_kx_thread_datasets"} & set(copy.__dict__)
    np.testing.assert_array_equal(copy[0][0], generator[0][0])
