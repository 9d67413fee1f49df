"""Worker processes that load a `DataGenerator`'s batches (`kerasx/data/_workers.py`).

With `use_multiprocessing=True`, `kerasx.fit` and `to_dataset()` load batches in worker
processes started once and reused by every epoch. These tests pin the order of the batches
(the parent's permutation), how workers start (forked on Linux; spawned with a pickled copy
elsewhere), the errors (a failing `load_batch`, a killed worker, a copy that does not pickle
or unpickle) and that no worker outlives `fit` or Python. The generators are defined at
module level, so that spawned workers can import them too.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasx
from kerasx.data import DataGenerator, _workers
from kerasx.data._pipeline import process_dataset
from kerasx.data._workers import start_method, worker_pool
from kerasx.errors import DataError

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="counts processes through /proc (Linux)"
)


class Logged(DataGenerator):
    """Writes `pid epoch i0 i1 ...` per batch to a file of its process; `y` = the indices."""

    def __init__(self, num_samples: int, folder, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.folder = str(folder)

    def load_batch(self, indices):
        with open(os.path.join(self.folder, f"{os.getpid()}.txt"), "a") as log:
            log.write(" ".join(map(str, [os.getpid(), self.epoch, *indices.tolist()])) + "\n")
        x = np.repeat(indices.astype("float32")[:, None], 3, axis=1) / 100.0
        return x, indices.astype("float32")[:, None] / 100.0


class Boom(DataGenerator):
    """Fails on every batch whose first index is >= 8."""

    def load_batch(self, indices):
        if indices[0] >= 8:
            raise ValueError("boom in load_batch")
        return np.zeros((len(indices), 3), "float32"), np.zeros((len(indices), 1), "float32")


class Killed(DataGenerator):
    """A worker process that loads a batch whose first index is >= 8 kills itself."""

    def __init__(self, num_samples: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.parent = os.getpid()

    def load_batch(self, indices):
        if indices[0] >= 8 and os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.zeros((len(indices), 3), "float32"), np.zeros((len(indices), 1), "float32")


class Copied(DataGenerator):
    """`x` is 1 where the batch was loaded by a copy made by unpickling in another process."""

    def __init__(self, num_samples: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.unpickled_in = -1

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.unpickled_in = os.getpid()

    def load_batch(self, indices):
        copy = float(self.unpickled_in == os.getpid() and "_kx_pool" not in self.__dict__)
        return np.full((len(indices), 3), copy, "float32"), np.zeros((len(indices), 1), "float32")


class Unloadable(Copied):
    """Its copy refuses to be unpickled in another process."""

    def __init__(self, num_samples: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.parent = os.getpid()

    def __setstate__(self, state):
        if state["parent"] != os.getpid():
            raise RuntimeError("this copy stays home")
        self.__dict__.update(state)


def sequence_batches():
    """A Keras 2 style generator function (module level, so processes can pickle it)."""
    for step in range(100):
        yield np.full((2, 3), step, "float32"), np.full((2, 1), step, "float32")


def _descendants() -> set[int]:
    """The process ids below this one (children, grandchildren...), zombies left out."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.fixture
def processes_before():
    """The processes below this one before the test (after a pool has run once); the test
    checks none was added."""
    warm = Boom(8, batch_size=4, shuffle=False, workers=1, use_multiprocessing=True)
    worker_pool(warm).load(0, 0, np.arange(4))
    warm.close()
    return _descendants()


def _regressor():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _logged_batches(folder: Path) -> list[tuple[int, int, tuple[int, ...]]]:
    """`(pid, epoch, indices)` per batch that `Logged` loaded."""
    lines = [line.split() for f in folder.glob("*.txt") for line in f.read_text().splitlines()]
    return [(int(p), int(e), tuple(int(i) for i in rest)) for p, e, *rest in lines]


def _batches_of(order: np.ndarray, size: int) -> set[tuple[int, ...]]:
    return {tuple(order[i : i + size].tolist()) for i in range(0, len(order), size)}


# ---------------------------------------------------------------- kerasx.fit


@pytest.mark.slow
def test_kerasx_fit_starts_the_workers_once_and_they_load_the_parents_permutations(
    tmp_path, processes_before
):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    train = Logged(48, tmp_path / "train", batch_size=8, seed=4, workers=2,
                   use_multiprocessing=True)
    val = Logged(16, tmp_path / "val", batch_size=8, shuffle=False, workers=2,
                 use_multiprocessing=True)
    kerasx.fit(_regressor(), train, validation_data=val, epochs=3, progress=False)

    assert (train.epoch, val.epoch) == (3, 3)
    loaded = [b for b in _logged_batches(tmp_path / "train") if b[0] != os.getpid()]
    for epoch in range(3):
        batches = collections.Counter(b[2] for b in loaded if b[1] == epoch)
        assert set(batches) == _batches_of(train.order(epoch), 8)  # the parent's order
        assert set(batches.values()) == {1}  # each batch once
    # Started once per fit: the same two processes served all three epochs.
    assert len({b[0] for b in loaded}) == 2
    validation = [b for b in _logged_batches(tmp_path / "val") if b[0] != os.getpid()]
    assert len(validation) == 3 * 2 and len({b[0] for b in validation}) <= 2
    assert _descendants() == processes_before


def test_the_process_pipeline_gives_the_generators_batches_in_order(tmp_path):
    generator = Logged(40, tmp_path, batch_size=8, seed=2, workers=2, use_multiprocessing=True)
    try:
        for epoch in (0, 1):
            generator.on_epoch_begin()
            got = [tuple(y.numpy()[:, 0].round(2).tolist()) for _, y in process_dataset(generator)]
            expected = [tuple((generator[i][1][:, 0]).round(2).tolist()) for i in range(5)]
            assert got == expected
            assert generator.epoch == epoch
            generator.on_epoch_end()
    finally:
        generator.close()


def test_workers_are_forked_and_use_the_generator_without_a_pickled_copy():
    generator = Copied(16, batch_size=4, seed=0, workers=2, use_multiprocessing=True)
    try:
        batches = [x for x, _ in process_dataset(generator)]
        assert worker_pool(generator).method == "fork"
    finally:
        generator.close()
    assert all(float(x.numpy().max()) == 0.0 for x in batches)  # never unpickled
    assert generator.unpickled_in == -1


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_spawned_workers_receive_a_real_pickled_copy_without_the_feeds_caches(monkeypatch):
    # As on macOS and Windows.
    monkeypatch.setattr(_workers, "start_method", lambda: "spawn")
    generator = Copied(16, batch_size=4, seed=0, workers=1, use_multiprocessing=True)
    try:
        batches = [x for x, _ in process_dataset(generator)]
        assert worker_pool(generator).method == "spawn"
    finally:
        generator.close()
    assert all(float(x.numpy().min()) == 1.0 for x in batches)
    assert generator.unpickled_in == -1  # this process's generator was never a copy


@pytest.mark.timeout(60)
def test_an_error_in_load_batch_names_the_batch_with_the_workers_traceback(processes_before):
    generator = Boom(64, batch_size=4, shuffle=False, workers=2, use_multiprocessing=True)
    with pytest.raises(DataError, match=r"Boom\.load_batch failed on batch \d+ \(epoch 0, "
                       r"indices \[\d+, .*ValueError: boom in load_batch") as info:
        kerasx.fit(_regressor(), generator, epochs=2, progress=False)
    cause = str(info.value.__cause__)
    assert "In the worker process" in cause and 'raise ValueError("boom in load_batch")' in cause
    assert _descendants() == processes_before


@pytest.mark.timeout(60)
def test_a_worker_killed_by_a_signal_is_named_with_its_exit_code(processes_before):
    generator = Killed(64, batch_size=4, shuffle=False, workers=2, use_multiprocessing=True)
    with pytest.raises(DataError, match=r"Worker process [12] of 2 loading Killed's batches "
                       r"\(pid \d+\) was killed by SIGKILL \(exit code -9\) while loading "
                       r"batch \d+; the other workers were stopped"):
        kerasx.fit(_regressor(), generator, epochs=2, progress=False)
    assert _descendants() == processes_before


@pytest.mark.timeout(60)
def test_a_forked_worker_never_unpickles_the_generator():
    generator = Unloadable(16, batch_size=4, seed=0, workers=2, use_multiprocessing=True)
    history = kerasx.fit(_regressor(), generator, epochs=1, progress=False)
    assert len(history.history["loss"]) == 1


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_copy_that_does_not_unpickle_in_a_spawned_worker_is_explained(monkeypatch):
    monkeypatch.setattr(_workers, "start_method", lambda: "spawn")
    generator = Unloadable(16, batch_size=4, seed=0, workers=1, use_multiprocessing=True)
    with pytest.raises(DataError, match=r"could not unpickle its copy of the generator: "
                       r"RuntimeError: this copy stays home\. .*use threads") as info:
        kerasx.fit(_regressor(), generator, epochs=1, progress=False)
    assert "this copy stays home" in str(info.value.__cause__)


@pytest.mark.timeout(60)
def test_a_generator_that_stops_pickling_after_init_is_explained_when_workers_spawn(
    monkeypatch, processes_before
):
    monkeypatch.setattr(_workers, "start_method", lambda: "spawn")
    generator = Boom(16, batch_size=4, shuffle=False, workers=2, use_multiprocessing=True)
    generator.lock = threading.Lock()  # set after __init__, where picklability is checked
    with pytest.raises(DataError, match=r"Boom has use_multiprocessing=True, so each worker "
                       r"process receives a pickled copy of it, but these attributes cannot "
                       r"be pickled: `lock` \(TypeError: .*use threads") as info:
        kerasx.fit(_regressor(), generator, epochs=1, progress=False)
    assert isinstance(info.value.__cause__, TypeError)
    assert _descendants() == processes_before


@pytest.mark.timeout(60)
def test_to_dataset_of_a_generator_that_stops_pickling_explains_it_when_workers_spawn(
    monkeypatch, processes_before
):
    monkeypatch.setattr(_workers, "start_method", lambda: "spawn")
    generator = Boom(16, batch_size=4, shuffle=False, workers=2, use_multiprocessing=True)
    generator.log = open(os.devnull, "w")  # noqa: SIM115 - the attribute under test
    try:
        # A plain tf.data pipeline carries the DataError's text, as for load_batch's errors.
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"DataError: Boom has "
                           r"use_multiprocessing=True, .*these attributes cannot be pickled: "
                           r"`log` \(TypeError: .*use threads"):
            list(generator.to_dataset())
    finally:
        generator.log.close()
        generator.close()
    assert _descendants() == processes_before


@pytest.mark.timeout(60)
def test_a_request_to_a_worker_that_died_while_idle_names_the_signal():
    # Sent before the pool has seen the death, the request fails to send; sent after, it is
    # refused. Either way it names the signal (several rounds: both orders occur).
    for _ in range(10):
        generator = Boom(64, batch_size=4, shuffle=False, workers=1, use_multiprocessing=True)
        pool = worker_pool(generator)
        try:
            pool.load(0, 0, np.arange(4))
            (pid,) = pool.pids()
            os.kill(pid, signal.SIGKILL)
            while _state(pid) not in ("Z", None):  # dead, reaped or not
                time.sleep(0.001)
            with pytest.raises(DataError, match=r"was killed by SIGKILL \(exit code -9\)"):
                pool.load(1, 0, np.arange(4, 8))
        finally:
            generator.close()


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_a_worker_that_cannot_start_leaves_no_pipe_open():
    generator = Boom(8, batch_size=4, shuffle=False, workers=1, use_multiprocessing=True)
    pool = worker_pool(generator)
    before = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    free = [fd for fd in range(before[-1] + 4) if fd not in before]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Room for the worker's pipe (two descriptors), none for the one process.start() makes.
    resource.setrlimit(resource.RLIMIT_NOFILE, (free[2], hard))
    try:
        with pytest.raises(OSError):
            pool.load(0, 0, np.arange(4))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        generator.close()
    after = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    assert after == before
    assert not pool.running


def test_fit_that_raises_in_a_callback_leaves_no_worker(processes_before):
    class Fails(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("a callback failed")

    generator = Boom(8, batch_size=4, shuffle=False, workers=2, use_multiprocessing=True)
    with pytest.raises(RuntimeError, match="a callback failed"):
        kerasx.fit(_regressor(), generator, epochs=2, callbacks=[Fails()], progress=False)
    assert _descendants() == processes_before


def test_workers_leave_sigterm_and_ctrl_c_to_the_training_process():
    # Sent to the whole process group, they are for kerasx.fit, which stops at a batch
    # boundary on SIGTERM and still needs its batches. Sent as soon as the workers exist
    # (a worker may still be starting), over a few rounds.
    for _ in range(5):
        generator = Copied(16, batch_size=4, seed=0, workers=2, use_multiprocessing=True)
        pool = worker_pool(generator)
        try:
            pool.load(0, 0, np.arange(4))
            for pid in pool.pids():
                os.kill(pid, signal.SIGTERM)
                os.kill(pid, signal.SIGINT)
            batches = [pool.load(i, 0, np.arange(4 * i, 4 * i + 4)) for i in range(4)]
            assert len(batches) == 4 and pool.running
        finally:
            generator.close()
        assert not pool.running and not pool.pids()
        assert pool.exitcodes == [0, 0]


def test_a_generator_without_random_access_reads_in_order_in_one_worker():
    generator = DataGenerator.from_generator(sequence_batches, steps=5, workers=2,
                                             use_multiprocessing=True)
    try:
        got = [int(y.numpy()[0, 0]) for _, y in process_dataset(generator)]
        assert got == [0, 1, 2, 3, 4]
        assert len(worker_pool(generator).pids()) == 1
    finally:
        generator.close()


# ---------------------------------------------------------------- to_dataset


@pytest.mark.slow
def test_to_dataset_keeps_its_workers_across_passes_until_close(tmp_path, processes_before):
    generator = Logged(32, tmp_path, batch_size=8, seed=1, workers=2, use_multiprocessing=True)
    model = _regressor()
    model.fit(generator.to_dataset(), epochs=2, shuffle=False, verbose=0)
    assert generator.epoch == 2
    loaded = [b for b in _logged_batches(tmp_path) if b[0] != os.getpid()]
    assert [sorted({b[1] for b in loaded})] == [[0, 1]]
    first_pids = {b[0] for b in loaded}
    assert len(first_pids) == 2 and first_pids <= _descendants()  # still running
    generator.close()
    assert _descendants() == processes_before
    # A new pass starts them again.
    model.fit(generator.to_dataset(), epochs=1, shuffle=False, verbose=0)
    restarted = {b[0] for b in _logged_batches(tmp_path) if b[0] != os.getpid()} - first_pids
    assert len(restarted) == 2
    generator.close()
    assert _descendants() == processes_before


# ---------------------------------------------------------------- how workers start


def test_workers_are_forked_on_linux_and_use_the_platform_default_elsewhere(monkeypatch):
    assert start_method() == "fork"
    monkeypatch.setattr(sys, "platform", "darwin")
    default = multiprocessing.get_start_method(allow_none=True)
    assert start_method() == (default or multiprocessing.get_all_start_methods()[0])


def _run_script(path: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=path.parent)


@pytest.mark.slow
def test_a_script_without_a_main_guard_and_its_own_generator_class_runs_once(tmp_path):
    # Forked workers import nothing again: the script's top level (and its fit) runs once,
    # and a generator class defined in the script's `__main__` loads in the workers.
    script = tmp_path / "train_no_guard.py"
    script.write_text(textwrap.dedent(
        """
        import os, numpy as np, keras, kerasx
        from kerasx.data import DataGenerator

        print("TOP LEVEL", flush=True)

        class Pids(DataGenerator):
            def load_batch(self, indices):
                x = np.full((len(indices), 3), os.getpid() / 1e7, "float32")
                return x, np.zeros((len(indices), 1), "float32")

        generator = Pids(32, batch_size=4, seed=0, workers=2, use_multiprocessing=True)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        history = kerasx.fit(model, generator, epochs=2, progress=False)
        pids = {round(float(x[0, 0]) * 1e7) for x, _ in generator.to_dataset()}
        generator.close()
        print("RESULT", len(history.history["loss"]), len(pids - {os.getpid()}), flush=True)
        """
    ))
    child = _run_script(script, timeout=240)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.count("TOP LEVEL") == 1
    assert "RESULT 2 2" in child.stdout


@pytest.mark.slow
def test_python_exits_promptly_with_a_pool_left_open(tmp_path):
    # A weakref.finalize made before multiprocessing is imported runs its atexit hook after
    # multiprocessing's: the pool must not rely on one to close before multiprocessing
    # terminates (ignored by the workers) and joins its children.
    script = tmp_path / "left_open.py"
    script.write_text(textwrap.dedent(
        """
        import weakref

        class Early:
            pass

        early = Early()
        weakref.finalize(early, print, "EARLY FINALIZER")

        import numpy as np
        from kerasx.data import DataGenerator
        from kerasx.data._workers import worker_pool

        class Zeros(DataGenerator):
            def load_batch(self, indices):
                x = np.zeros((len(indices), 3), "float32")
                return x, np.zeros((len(indices), 1), "float32")

        generator = Zeros(16, batch_size=4, workers=2, use_multiprocessing=True)
        for batch in generator.to_dataset():
            pass
        print("PIDS", *worker_pool(generator).pids(), flush=True)
        """
    ))
    child = _run_script(script, timeout=60)
    assert child.returncode == 0, child.stderr[-3000:]
    pids = [int(p) for p in child.stdout.split("PIDS", 1)[1].split("\n", 1)[0].split()]
    assert len(pids) == 2
    assert [_state(pid) for pid in pids] == [None, None]  # ended and reaped before the exit
    assert "EARLY FINALIZER" in child.stdout


@pytest.mark.slow
def test_a_generator_defined_in_an_interactive_main_is_forked(tmp_path):
    script = textwrap.dedent(
        """
        import os, numpy as np, keras, kerasx
        from kerasx.data import DataGenerator
        from kerasx.data._workers import worker_pool

        class Pids(DataGenerator):
            def load_batch(self, indices):
                x = np.full((len(indices), 3), os.getpid() / 1e7, "float32")
                return x, np.zeros((len(indices), 1), "float32")

        generator = Pids(32, batch_size=4, seed=0, workers=2, use_multiprocessing=True)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        kerasx.fit(model, generator, epochs=1, progress=False)
        pids = {round(float(x[0, 0]) * 1e7) for x, _ in generator.to_dataset()}
        print("RESULT", worker_pool(generator).method, len(pids - {os.getpid()}))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, timeout=240, check=True)
    assert "RESULT fork 2" in child.stdout
