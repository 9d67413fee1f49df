"""`FitRun`: what one `kerasx.fit` call knows about its run, beyond what its callbacks see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kerasx.callbacks._run_state import LoadedState, RunContext

__all__ = ["FitRun"]


@dataclass
class FitRun(RunContext):
    """The `RunContext` of one `kerasx.fit` call, with what only `fit` and its guard use.

    Attributes:
        loaded: the state the current `model.fit` call resumes from, or None.
        start_epoch: the epochs completed before the current `model.fit` call.
        resumed_from_epoch: the epochs completed before this `kerasx.fit` call.
        step_offset: steps of the current epoch trained before this call (resuming a
            mid-epoch state), else 0.
        mid_epoch: whether the training input can skip the first steps of an epoch, so that
            SIGTERM may save a mid-epoch state (see `kerasx.fit`).
        saved_mid_epoch: the steps of the mid-epoch state SIGTERM saved, else 0.
        checkpoints: the `Checkpoint` callbacks, which write the states.
        early_stopping: the `EarlyStopping` callbacks, which may end the run.
        stop_requested: whether a callback set `model.stop_training` in the `model.fit` call
            that just ended (any callback: `EarlyStopping`, `WeightMonitor`, the user's own).
    """

    loaded: LoadedState | None = None
    start_epoch: int = 0
    resumed_from_epoch: int = 0
    step_offset: int = 0
    mid_epoch: bool = False
    saved_mid_epoch: int = 0
    checkpoints: list[Any] = field(default_factory=list)
    early_stopping: list[Any] = field(default_factory=list)
    stop_requested: bool = False

    @property
    def continues(self) -> bool:
        """Whether the `model.fit` call that just ended finished a cut-short epoch and the
        run goes on with the remaining epochs."""
        return (
            not self.terminate_requested
            and self.failed is None
            and not self.stopped_early
            and not self.stop_requested
            and self.call_epochs is not None
            and self.call_epochs < self.epochs
        )
