"""Callback state as a protocol: `get_state()` / `set_state(state)` in the resume state.

`Checkpoint` saves the state of every tracked callback that has both methods (and of Keras's
`EarlyStopping`, through a built-in adapter) and gives it back on resume, matched by position
among the stateful callbacks and class name. Format 1 state files (EarlyStopping only) are
still read.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import kerasx
from kerasx.callbacks import Checkpoint
from kerasx.callbacks._run_state import (
    STATE_FORMAT,
    is_stateful,
    list_states,
    read_state,
    write_state,
)
from kerasx.errors import ConfigurationError


class Counter(keras.callbacks.Callback):
    """Counts the batches and epochs it has seen, across resumed runs."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0
        self.epochs = 0
        self.restored: list[dict[str, Any]] = []

    def on_train_begin(self, logs: Any = None) -> None:
        self.batches = self.epochs = 0  # reset, as EarlyStopping does; set_state comes after

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.epochs += 1

    def get_state(self) -> dict[str, Any]:
        return {"batches": self.batches, "epochs": self.epochs}

    def set_state(self, state: dict[str, Any]) -> None:
        self.restored.append(dict(state))
        self.batches, self.epochs = state["batches"], state["epochs"]


class OtherCounter(Counter):
    pass


def _data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(48, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _fit(run_dir: Path, epochs: int, callbacks: list[Any], **kwargs: Any) -> kerasx.History:
    x, y = _data()
    return kerasx.fit(
        _model(), x, y, epochs=epochs, batch_size=16, run_dir=run_dir, progress=False,
        callbacks=callbacks, **kwargs,
    )


def _newest_meta(run_dir: Path) -> dict[str, Any]:
    return read_state(list_states(run_dir / "checkpoints")[-1][-1]).meta


def test_stateful_means_both_methods_or_early_stopping() -> None:
    class OnlyGet(keras.callbacks.Callback):
        def get_state(self) -> dict[str, Any]:
            return {}

    assert is_stateful(Counter())
    assert is_stateful(keras.callbacks.EarlyStopping())
    assert not is_stateful(OnlyGet())
    assert not is_stateful(keras.callbacks.TerminateOnNaN())
    assert not is_stateful(Checkpoint("unused"))


def test_a_users_callback_state_is_saved_and_restored_on_resume(tmp_path: Path) -> None:
    _fit(tmp_path, 1, ["default", Counter()])
    meta = _newest_meta(tmp_path)
    assert meta["format"] == STATE_FORMAT == 2
    assert meta["callbacks"] == [{"class": "Counter", "state": {"batches": 3, "epochs": 1}}]

    counter = Counter()
    history = _fit(tmp_path, 2, ["default", counter])
    assert history.resumed_from_epoch == 1
    assert counter.restored == [{"batches": 3, "epochs": 1}]  # after its own on_train_begin
    assert counter.get_state() == {"batches": 6, "epochs": 2}
    assert _newest_meta(tmp_path)["callbacks"][0]["state"] == {"batches": 6, "epochs": 2}


def test_states_are_matched_by_position_and_class_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _fit(tmp_path, 1, ["default", Counter(), OtherCounter()], patience=5)
    classes = [entry["class"] for entry in _newest_meta(tmp_path)["callbacks"]]
    assert classes == ["EarlyStopping", "Counter", "OtherCounter"]

    # Swapped: neither class matches the saved state at its position.
    first, second = OtherCounter(), Counter()
    with caplog.at_level(logging.WARNING, logger="kerasx"):
        _fit(tmp_path, 2, ["default", first, second], patience=5)
    assert first.restored == [] and second.restored == []
    assert "no state for stateful callback 1 (OtherCounter)" in caplog.text
    assert "no state for stateful callback 2 (Counter)" in caplog.text
    assert first.get_state() == {"batches": 3, "epochs": 1}  # started afresh


def test_get_state_must_return_a_json_dict(tmp_path: Path) -> None:
    class Opaque(Counter):
        def get_state(self) -> dict[str, Any]:
            return {"thing": object()}

    message = r"get_state\(\) must return a dict that JSON holds.*Received: Opaque\.get_state"
    with pytest.raises(ConfigurationError, match=message):
        _fit(tmp_path, 1, ["default", Opaque()])


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({"pair": (1, 2)}, r"state\['pair'\] is a tuple"),
        ({"per_class": {0: 3}}, r"state\['per_class'\] has the key 0"),
        ([1, 2], "get_state\\(\\) returned a list"),
    ],
    ids=["tuple", "int-key", "not-a-dict"],
)
def test_a_state_json_would_change_is_refused_before_the_first_epoch(
    tmp_path: Path, state: Any, problem: str
) -> None:
    class Lossy(Counter):
        def get_state(self) -> Any:
            return state

    epochs_begun = []
    probe = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: epochs_begun.append(e))
    with pytest.raises(ConfigurationError, match=problem):
        _fit(tmp_path, 1, ["default", probe, Lossy()])
    assert epochs_begun == []  # refused when training began, not after an epoch of work
    assert list_states(tmp_path / "checkpoints") == []


def test_numpy_numbers_and_arrays_in_a_state_become_json(tmp_path: Path) -> None:
    class NumPyCounter(Counter):
        def get_state(self) -> dict[str, Any]:
            return {"batches": np.int64(self.batches), "seen": np.arange(2)}

    _fit(tmp_path, 1, ["default", NumPyCounter()])
    assert _newest_meta(tmp_path)["callbacks"][0]["state"] == {"batches": 3, "seen": [0, 1]}


def test_checkpoint_on_its_own_saves_the_callbacks_it_tracks(tmp_path: Path) -> None:
    counter = Counter()
    checkpoint = Checkpoint(tmp_path, monitor="loss")
    checkpoint.track([counter, keras.callbacks.TerminateOnNaN()])
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=16, callbacks=[counter, checkpoint], verbose=0)
    meta = read_state(tmp_path / "state-epoch-000002.npz").meta
    assert meta["callbacks"] == [{"class": "Counter", "state": {"batches": 6, "epochs": 2}}]


def test_checkpoint_on_its_own_keeps_the_last_epochs_weights_as_they_were(tmp_path: Path) -> None:
    # A standalone Checkpoint writes no extra "finished" state at the end of model.fit: the
    # last state is the last epoch's, even when EarlyStopping restores its best weights later.
    x, y = _data()
    model = _model()
    epoch_end_weights: list[list[np.ndarray]] = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epoch_end_weights.append(
            [v.numpy() for v in model.variables]
        )
    )
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=50, restore_best_weights=True)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0,
              callbacks=[record, Checkpoint(tmp_path, monitor="loss"), stopper])  # fmt: skip
    states = list_states(tmp_path)
    assert [epoch for epoch, _, _ in states] == [3]  # keep=1: the newest only
    loaded = read_state(states[-1][-1])
    assert loaded.meta["finished"] is False
    for saved, last in zip(loaded.groups["model"], epoch_end_weights[-1], strict=True):
        np.testing.assert_array_equal(saved, last)


def test_a_state_from_a_newer_kerasx_is_refused(tmp_path: Path) -> None:
    _fit(tmp_path, 1, ["default"])
    path = list_states(tmp_path / "checkpoints")[-1][-1]
    loaded = read_state(path)
    write_state(path, {**loaded.meta, "format": STATE_FORMAT + 1}, loaded.groups)
    with pytest.raises(ConfigurationError, match=r"written by a newer kerasx.*Upgrade kerasx"):
        _fit(tmp_path, 2, ["default"])


def _as_format_1(path: Path) -> None:
    """Rewrite a state file as kerasx wrote it with STATE_FORMAT 1 (EarlyStopping only)."""
    loaded = read_state(path)
    meta = {key: value for key, value in loaded.meta.items() if key not in ("groups", "callbacks")}
    meta["format"] = 1
    meta["early_stopping"] = [loaded.meta["callbacks"][0]["state"]]
    groups = {name: values for name, values in loaded.groups.items() if name != "callback_0"}
    groups["early_stopping_0"] = loaded.groups["callback_0"]
    write_state(path, meta, groups)


def test_a_format_1_state_still_restores_early_stopping(tmp_path: Path) -> None:
    _fit(tmp_path, 2, ["default"], patience=5, monitor="loss")
    path = list_states(tmp_path / "checkpoints")[-1][-1]
    saved = read_state(path).meta["callbacks"][0]["state"]
    _as_format_1(path)
    assert "callbacks" not in read_state(path).meta

    callbacks = kerasx.callbacks.defaults(tmp_path, monitor="loss", patience=5, progress=False)
    stopper = next(c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping))
    seen: dict[str, tuple] = {}
    probe = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.setdefault(
            "restored", (stopper.best, stopper.wait, len(stopper.best_weights or []))
        )
    )
    history = _fit(tmp_path, 3, [*callbacks, probe], monitor="loss")
    assert history.resumed_from_epoch == 2
    assert seen["restored"] == (saved["best"], saved["wait"], len(_model().get_weights()))
