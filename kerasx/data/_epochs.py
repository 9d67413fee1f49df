"""The epoch counter of a `DataGenerator`: when the order of the samples moves to a new epoch.

Two callers end epochs, and both must get a new permutation exactly once per epoch:

- Keras calls `on_epoch_begin()`, then reads the batches, then `on_epoch_end()`. It also calls
  `on_epoch_end()` on its own when it resets an iterator, right after it has read batches 0
  and 1 to learn the element spec, and before an epoch begins. Those calls must not skip an
  epoch.
- A loop that follows the `keras.utils.Sequence` contract (custom training loops, other
  libraries) reads every batch and then calls `on_epoch_end()`, without `on_epoch_begin()`.

So `end()` advances after a matching `begin()`, or, without one, when every batch was read
since the epoch started. Keras's reset reads only 2 batches, so it advances nothing, unless the
generator has at most 2 batches: then the spec reads are a whole pass. Such an advance is taken
back by a `begin()` that follows with no batch read in between, which is what Keras does next;
a Sequence-style loop reads batches next instead.
"""

from __future__ import annotations

import threading

__all__ = ["EpochCounter"]


class EpochCounter:
    """The current epoch of a generator and what has happened in it.

    Reads may come from several threads at once (the feeds' workers); `begin`, `end` and
    `set` come from the thread that drives the epochs.

    Args:
        epoch: the epoch to start at. Defaults to `0`.

    Attributes:
        epoch: the epoch whose permutation the batches use now.
    """

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = int(epoch)
        self._begun = False
        self._read: set[int] = set()
        self._tentative = False
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def set(self, epoch: int) -> None:
        """Start over at `epoch`, with nothing begun or read (restoring a state)."""
        with self._lock:
            self.epoch = int(epoch)
            self._begun = self._tentative = False
            self._read = set()

    def begin(self) -> None:
        """An epoch begins (Keras's `on_epoch_begin`)."""
        with self._lock:
            if self._tentative:
                self.epoch -= 1  # the advance was Keras's reset after its spec reads
            self._tentative = False
            self._begun = True
            self._read = set()

    def read(self, index: int) -> None:
        """Batch `index` of the current epoch is being read."""
        with self._lock:
            self._read.add(int(index))
            self._tentative = False

    def end(self, batches: int) -> bool:
        """An epoch ends (`on_epoch_end`); advance as the module docstring says.

        Args:
            batches: the number of batches in an epoch.

        Returns:
            Whether the epoch advanced.
        """
        with self._lock:
            advance = self._begun or (bool(self._read) and len(self._read) >= batches)
            if advance:
                self._tentative = not self._begun and batches <= 2
                self.epoch += 1
            self._begun = False
            self._read = set()
            return advance
