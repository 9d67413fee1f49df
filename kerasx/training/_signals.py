"""SIGTERM during `kerasx.fit`: stop at a batch boundary, save there, then pass the signal on.

- `sigterm_stops(model, run, enabled=...)`: while active, SIGTERM asks Keras to stop.
- `RunGuard`: the first callback of the list; it decides whether the epoch ending now counts
  (not cut short by SIGTERM, no NaN loss) and saves the mid-epoch state after SIGTERM.
- `pass_on_sigterm(previous)`: once training stopped, the handler that was installed before
  gets the signal (the default one exits with status 143).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

from kerasx.training._run import FitRun

__all__ = ["EXIT_SIGTERM", "RunGuard", "pass_on_sigterm", "sigterm_stops"]

_log = logging.getLogger(__name__)

EXIT_SIGTERM = 128 + 15
"""The exit status of a process that SIGTERM ended, as a shell reports it."""


class RunGuard(keras.callbacks.Callback):
    """First in the list: decides whether the epoch ending now counts (not cut short by
    SIGTERM, no NaN loss) before any recording callback sees it, and saves the mid-epoch
    state after SIGTERM.

    Its only batch hook is `on_train_batch_begin`, a flag test per step.

    Args:
        run: the run of this `kerasx.fit` call.
    """

    def __init__(self, run: FitRun) -> None:
        super().__init__()
        self.run = run
        self._begin_iterations = 0
        self._offset = 0
        self._stopping = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._offset = self.run.step_offset
        self._stopping = False
        if self.run.terminate_requested:
            self._stopping = True
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._begin_iterations = int(self.model.optimizer.iterations.numpy())
        if self._offset and self.run.loaded is not None:
            # Keras has just reset the metrics; carry on from the steps before the stop.
            self._restore_metrics(epoch, self.run.loaded.groups.get("metrics", []))

    def _restore_metrics(self, epoch: int, saved: list[Any]) -> None:
        variables = self.model.metrics_variables
        if [tuple(v.shape) for v in variables] == [tuple(a.shape) for a in saved]:
            for variable, value in zip(variables, saved):
                variable.assign(value)
        else:
            _log.warning(
                "The metrics of the resumed epoch %d cover only its last %d steps: the "
                "saved metric state does not fit this model's metrics.",
                epoch + 1,
                int(self.params.get("steps") or 0),
            )

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        if not run.terminate_requested or self._stopping:
            return
        # The first batch boundary after SIGTERM: `batch` steps of this call's epoch are done.
        self._stopping = True
        self.model.stop_training = True
        steps = self._offset + batch
        if run.mid_epoch and steps > 0:
            for checkpoint in run.checkpoints:
                checkpoint.save_mid_epoch(steps)
            run.saved_mid_epoch = steps

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        self._offset = 0
        run.epoch_partial = False
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            run.failed = f"the loss became {float(loss)} in epoch {epoch + 1}"
            run.epoch_partial = True
            self.model.stop_training = True
            return
        if run.terminate_requested:
            self.model.stop_training = True
            steps = self.params.get("steps")
            done = int(self.model.optimizer.iterations.numpy()) - self._begin_iterations
            run.epoch_partial = steps is None or done < steps

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.run.stopped_early = any(cb.stopped_epoch > 0 for cb in self.run.early_stopping)
        # A stop asked for while finishing a cut-short epoch also ends this `kerasx.fit` call.
        self.run.stop_requested = bool(self.model.stop_training)


@contextmanager
def sigterm_stops(model: Any, run: FitRun, *, enabled: bool) -> Iterator[list[Any]]:
    """While active, SIGTERM asks Keras to stop at the next batch boundary.

    When the input can resume mid-epoch, `RunGuard` saves the state at that boundary and
    stops Keras; otherwise the handler stops Keras at once and the cut-short epoch is dropped.
    Only the main thread can install a handler; elsewhere, or with `enabled=False`, nothing
    changes.

    Args:
        model: the model being trained.
        run: the run whose `terminate_requested` the handler sets.
        enabled: whether to install the handler (`kerasx.fit` does with a `run_dir`).

    Yields:
        A list holding the handler that was installed before, if one was replaced.
    """
    previous: list[Any] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield previous
        return

    def handler(signum: int, frame: Any) -> None:
        run.terminate_requested = True
        if not run.mid_epoch:
            model.stop_training = True

    previous.append(signal.signal(signal.SIGTERM, handler))
    try:
        yield previous
    finally:
        signal.signal(signal.SIGTERM, previous[0])


def pass_on_sigterm(previous: list[Any]) -> None:
    """Hand the SIGTERM that stopped training to the handler installed before `kerasx.fit`.

    Args:
        previous: what `sigterm_stops` yielded.

    Raises:
        SystemExit: with status 143 when that handler was the default one.
    """
    handler = previous[0] if previous else signal.SIG_DFL
    if callable(handler):
        handler(signal.SIGTERM, None)
    elif handler != signal.SIG_IGN:
        raise SystemExit(EXIT_SIGTERM)
