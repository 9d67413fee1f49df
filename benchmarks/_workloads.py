"""Generators the worker benchmarks load, at module level so that worker processes (which
import this module afresh) can unpickle them. Importing it imports Keras."""

from __future__ import annotations

import numpy as np

from kerasx.data import DataGenerator

from _common import median_seconds

__all__ = ["MixedWork", "calibrate", "load_in_turn"]


class MixedWork(DataGenerator):
    """Per batch, CPU work of two kinds, as image decoding or tokenising in Python has it:

    - `small` rounds of NumPy calls on 16 numbers: each call is short, so Python runs between
      them and the thread holds the GIL most of the time;
    - `large` rounds of ufuncs on 50,000 numbers, which release the GIL while they compute.
    """

    def __init__(self, num_samples: int, *, small: int, large: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.small, self.large = small, large
        self.base = np.linspace(0.0, 1.0, 50_000)
        self.tiny = np.linspace(0.0, 1.0, 16)

    def load_batch(self, indices):
        shift = float(indices[0]) * 1e-3
        values = self.base + shift
        for _ in range(self.large):
            values = np.sqrt(np.sin(values) ** 2 + 1.0)
        tiny = self.tiny + shift
        for _ in range(self.small):
            tiny = np.sqrt(np.sin(tiny) ** 2 + 1.0)
        features = (np.sin(tiny) + float(values[:8].mean())).astype("float32")
        features = np.resize(features, (len(indices), 16)) * 0.1
        return features, features[:, :1]


def _seconds(small: int, large: int) -> float:
    generator = MixedWork(8, small=small, large=large, batch_size=8, seed=0)
    indices = np.arange(8)
    return median_seconds(lambda: generator.load_batch(indices), repeats=15, warmup=0)[0]


def calibrate(small_s: float = 0.004, large_s: float = 0.006) -> tuple[int, int]:
    """Rounds of each kind that take about `small_s` and `large_s` on this machine."""
    per_small = (_seconds(400, 0) - _seconds(0, 0)) / 400
    per_large = (_seconds(0, 10) - _seconds(0, 0)) / 10
    return max(1, round(small_s / per_small)), max(1, round(large_s / per_large))


def load_in_turn(generator: DataGenerator, first: int, step: int) -> int:
    """Load batches `first`, `first + step`, ... of `generator`; how many were loaded."""
    count = 0
    for index in range(first, len(generator), step):
        generator.load_batch(generator.batch_indices(index))
        count += 1
    return count
