"""Tests for `kerasx.data.DataGenerator`: order, batches, Keras integration, workers, errors."""

from __future__ import annotations

import json
import os
import threading

import keras
import numpy as np
import pytest

from kerasx.data import DataGenerator
from kerasx.errors import DataError


class Recorder(DataGenerator):
    """Returns the sample indices as `y`, and records every index it loads (threads only)."""

    def __init__(self, num_samples: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.loaded: list[int] = []
        self.guard = None if kwargs.get("use_multiprocessing") else threading.Lock()

    def load_batch(self, indices):
        if self.guard is not None:
            with self.guard:
                self.loaded.extend(int(i) for i in indices)
        x = np.stack([np.full(3, i, dtype="float32") for i in indices])
        return x, indices.astype("float32")[:, None]


class FileRecorder(DataGenerator):
    """Appends `pid index` lines to a file for every index it loads, from any process."""

    def __init__(self, num_samples: int, folder, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.folder = str(folder)

    def load_batch(self, indices):
        import os

        with open(os.path.join(self.folder, f"{os.getpid()}.txt"), "a") as log:
            log.writelines(f"{os.getpid()} {int(i)}\n" for i in indices)
        x = np.stack([np.full(3, i, dtype="float32") for i in indices])
        return x, indices.astype("float32")[:, None]


class Boom(DataGenerator):
    """Fails on every batch whose first index is >= 8 (module level so processes can pickle it)."""

    def load_batch(self, indices):
        if indices[0] >= 8:
            raise ValueError("boom in load_batch")
        return np.zeros((len(indices), 3), "float32"), np.zeros((len(indices), 1), "float32")


class Overlap(DataGenerator):
    """Sleeps 20 ms per batch and records how many batches load at once, and where."""

    def __init__(self, num_samples: int, **kwargs) -> None:
        super().__init__(num_samples, **kwargs)
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.threads: set[int] = set()

    def load_batch(self, indices):
        import time

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return indices.astype("float32")[:, None].repeat(3, axis=1), indices[:, None] * 1.0


@pytest.fixture
def from_generator_calls(monkeypatch):
    """How many times `tf.data.Dataset.from_generator` was called (each call goes through)."""
    import tensorflow as tf

    calls: list[int] = []
    real = tf.data.Dataset.from_generator

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tf.data.Dataset, "from_generator", staticmethod(counted))
    return calls


def _tiny_regressor(inputs: int = 3, optimizer: str = "sgd"):
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _epoch_batches(generator: DataGenerator) -> list[np.ndarray]:
    return [generator[i][1][:, 0].astype(int) for i in range(len(generator))]


# ---------------------------------------------------------------- order and batches


def test_same_seed_gives_same_order_and_each_epoch_a_new_one():
    a, b = Recorder(50, batch_size=8, seed=7), Recorder(50, batch_size=8, seed=7)
    assert np.array_equal(np.concatenate(_epoch_batches(a)), np.concatenate(_epoch_batches(b)))
    first = np.concatenate(_epoch_batches(a))
    assert not np.array_equal(first, np.arange(50))
    a.on_epoch_begin()
    a.on_epoch_end()
    assert a.epoch == 1
    assert not np.array_equal(np.concatenate(_epoch_batches(a)), first)
    assert not np.array_equal(
        Recorder(50, seed=8).order(), Recorder(50, seed=7).order()
    )


def test_every_sample_exactly_once_per_epoch_with_partial_last_batch():
    generator = Recorder(50, batch_size=16, seed=1)
    assert len(generator) == 4
    for _ in range(3):
        batches = _epoch_batches(generator)
        assert [len(b) for b in batches] == [16, 16, 16, 2]
        assert sorted(np.concatenate(batches).tolist()) == list(range(50))
        generator.on_epoch_begin()
        generator.on_epoch_end()


def test_drop_remainder_drops_the_partial_batch():
    generator = Recorder(50, batch_size=16, seed=1, drop_remainder=True)
    assert len(generator) == 3
    assert all(len(b) == 16 for b in _epoch_batches(generator))
    assert "2 dropped per epoch" in repr(generator)


def test_unshuffled_generator_is_in_order():
    generator = Recorder(10, batch_size=4, shuffle=False)
    assert np.concatenate(_epoch_batches(generator)).tolist() == list(range(10))


def test_seed_none_is_drawn_from_numpy_global_rng_and_kept_in_state():
    np.random.seed(123)
    first = Recorder(30).get_state()["seed"]
    np.random.seed(123)
    assert Recorder(30).get_state()["seed"] == first


def test_get_state_set_state_reproduce_an_epochs_order_through_json():
    original = Recorder(40, batch_size=8)
    for _ in range(3):
        original.on_epoch_begin()
        original.on_epoch_end()
    state = json.loads(json.dumps(original.get_state()))
    assert state["epoch"] == 3
    resumed = Recorder(40, batch_size=8, seed=999)
    resumed.set_state(state)
    assert resumed.epoch == 3 and resumed.seed == original.seed
    assert np.array_equal(resumed.order(), original.order())


def test_on_epoch_end_without_begin_does_not_advance():
    generator = Recorder(10)
    generator.on_epoch_end()  # what Keras's iterator reset does
    assert generator.epoch == 0


def test_fit_advances_train_and_validation_views_once_per_epoch():
    parent = Recorder(64, batch_size=8, seed=3)
    train, val = parent.split(0.25)
    assert (train.num_samples, val.num_samples) == (48, 16)
    assert not set(train.subset.tolist()) & set(val.subset.tolist())
    model = _tiny_regressor()
    model.fit(train, validation_data=val, epochs=2, shuffle=False, verbose=0)
    assert (train.epoch, val.epoch, parent.epoch) == (2, 2, 0)
    model.evaluate(val, verbose=0)
    assert val.epoch == 3


def test_fit_sees_each_training_sample_once_per_epoch_in_the_generators_order():
    generator = Recorder(40, batch_size=8, seed=5)
    expected = [generator.order(0).tolist(), generator.order(1).tolist()]
    generator.loaded.clear()
    _tiny_regressor().fit(generator, epochs=2, shuffle=False, verbose=0)
    # Keras loads batches 0 and 1 once up front to read the element spec.
    loaded = generator.loaded[16:]
    assert loaded == expected[0] + expected[1]


# ---------------------------------------------------------------- constructors and views


def test_from_arrays_dicts_into_a_two_input_functional_model():
    rng = np.random.default_rng(0)
    x = {"a": rng.random((40, 3), dtype=np.float32), "b": rng.random((40, 2), dtype=np.float32)}
    y = (x["a"].sum(axis=1, keepdims=True) - x["b"][:, :1]).astype("float32")
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    model = keras.Model({"a": a, "b": b}, out)
    model.compile(optimizer="sgd", loss="mse")
    generator = DataGenerator.from_arrays(x, y, batch_size=8, seed=0)
    history = model.fit(generator, epochs=2, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(DataGenerator.from_arrays(x, shuffle=False), verbose=0).shape == (40, 1)
    assert "x['a']: shape (8, 3) dtype float32" in generator.describe()


def test_from_arrays_sample_weight_and_transform():
    x = np.arange(12, dtype="float32")[:, None]
    generator = DataGenerator.from_arrays(
        x, x * 2, np.ones(12, "float32"), batch_size=4, shuffle=False,
        transform=lambda xb, yb: (xb + 100, yb),
    )
    xb, yb, wb = generator[1]
    assert xb[:, 0].tolist() == [104, 105, 106, 107] and yb[:, 0].tolist() == [8, 10, 12, 14]
    assert wb.tolist() == [1, 1, 1, 1]


def test_from_generator_wraps_a_keras2_style_generator_and_recreates_it_each_epoch():
    calls = []

    def generate_arrays():
        calls.append(1)
        for i in range(4):
            yield np.full((2, 3), i, "float32"), np.full((2, 1), i, "float32")

    generator = DataGenerator.from_generator(generate_arrays, steps=4)
    # The epoch protocol Keras follows: batches 0..steps-1 in order, then on_epoch_end.
    for epoch in range(3):
        assert [int(generator[i][1][0, 0]) for i in range(4)] == [0, 1, 2, 3]
        assert len(calls) == epoch + 1  # one fresh generator per epoch, no more
        generator.on_epoch_end()
    before = len(calls)
    _tiny_regressor().fit(generator, epochs=2, shuffle=False, verbose=0)
    assert len(calls) >= before + 2  # plus Keras's look at the first batches for the spec


def test_constructors_without_their_classes_loaded_say_how_to_import(monkeypatch):
    import kerasx.data._registry as registry
    from kerasx.errors import MissingDependencyError

    monkeypatch.setattr(registry, "_CONSTRUCTORS", {})
    with pytest.raises(MissingDependencyError, match=r"DataGenerator\.from_arrays is not "
                       r"available.*`from kerasx\.data import DataGenerator`"):
        DataGenerator.from_arrays(np.zeros((4, 1)), np.zeros(4))


def test_to_dataset_has_the_first_batch_spec_and_advances_per_pass():
    import tensorflow as tf

    generator = Recorder(20, batch_size=8, seed=2)
    dataset = generator.to_dataset()
    assert dataset.element_spec[0] == tf.TensorSpec((None, 3), tf.float32)
    first = np.concatenate([y[:, 0].numpy() for _, y in dataset]).astype(int)
    assert first.tolist() == generator.order(0).tolist()
    second = np.concatenate([y[:, 0].numpy() for _, y in dataset]).astype(int)
    assert second.tolist() == generator.order(1).tolist() and generator.epoch == 2


def test_to_dataset_loads_on_workers_threads_without_from_generator(from_generator_calls):
    generator = Overlap(48, batch_size=8, seed=3, workers=2)
    dataset = generator.to_dataset()
    for epoch in range(2):
        ys = np.concatenate([y[:, 0].numpy() for _, y in dataset]).astype(int)
        assert ys.tolist() == generator.order(epoch).tolist()
        assert generator.epoch == epoch + 1  # the pass ended the epoch
    assert generator.most == 2 and from_generator_calls == []


@pytest.mark.parametrize("pipeline", ["to_dataset", "threaded", "tensor"])
def test_kerasx_pipelines_turn_tf_data_autotuning_off_and_users_can_turn_it_on(pipeline):
    # Left on, dropping a used iterator at an epoch's start could block for up to a second.
    import tensorflow as tf

    x, y = np.arange(40, dtype="float32").reshape(20, 2), np.arange(20)
    generator = DataGenerator.from_arrays(x, y, batch_size=8, seed=1, workers=2)
    dataset = {
        "to_dataset": generator.to_dataset,
        "threaded": generator._threaded_dataset,
        "tensor": generator.tensor_dataset,
    }[pipeline]()
    assert dataset.options().autotune.enabled is False
    # An AUTOTUNE map chained onto it still runs, and later options win.
    doubled = dataset.map(lambda a, b: (a * 2, b), num_parallel_calls=tf.data.AUTOTUNE)
    pairs = [(a.numpy(), b.numpy()) for a, b in doubled]
    xs, ys = np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])
    assert sorted(ys.tolist()) == list(range(20))
    np.testing.assert_array_equal(xs, 2 * x[ys])
    options = tf.data.Options()
    options.autotune.enabled = True
    assert dataset.with_options(options).options().autotune.enabled is True


def test_to_dataset_gives_strings_as_bytes_and_names_values_without_a_tensor_dtype():
    class Stamps(DataGenerator):
        dates = False

        def load_batch(self, indices):
            if self.dates:
                return np.array(indices, dtype="datetime64[s]"), indices * 1.0
            return np.array([f"w{i}" for i in indices]), indices * 1.0

    words = Stamps(8, batch_size=4, shuffle=False)
    assert [x.numpy().tolist() for x, _ in words.to_dataset()] == [
        [b"w0", b"w1", b"w2", b"w3"], [b"w4", b"w5", b"w6", b"w7"]
    ]
    dates = Stamps(8, batch_size=4)
    dates.dates = True
    with pytest.raises(DataError, match=r"batch 0 of Stamps holds dtypes \['datetime64\[s\]', "):
        dates.to_dataset()


def test_kerasx_fit_reads_a_from_generator_generator_in_order(from_generator_calls):
    import kerasx

    calls = []

    def generate():
        calls.append(1)
        for i in range(4):
            yield np.full((2, 3), i / 4, "float32"), np.full((2, 1), i / 4, "float32")

    generator = DataGenerator.from_generator(generate, steps=4, workers=2)
    kerasx.fit(_tiny_regressor(optimizer="adam"), generator, epochs=2, progress=False)
    # One generator for the element spec, then one per epoch: a batch read out of order
    # would re-create it.
    assert len(calls) == 3
    assert generator.epoch == 2 and from_generator_calls == []


def test_describe_and_repr():
    generator = Recorder(50, batch_size=16, seed=4)
    assert repr(generator) == (
        "<Recorder: 50 samples in 4 batches of 16, last batch 2; shuffle=True, seed=4, epoch=0>"
    )
    text = generator.describe()
    assert "x: shape (16, 3) dtype float32" in text and "y: shape (16, 1) dtype float32" in text
    assert "workers=1, use_multiprocessing=False" in text


# ---------------------------------------------------------------- workers


def test_thread_workers_load_every_sample_once_per_epoch():
    generator = Recorder(96, batch_size=8, seed=9, workers=2)
    generator.loaded.clear()
    _tiny_regressor().fit(generator, epochs=2, shuffle=False, verbose=0)
    loaded = generator.loaded[16:]  # after the two spec batches
    assert sorted(loaded[:96]) == list(range(96)) and sorted(loaded[96:]) == list(range(96))
    assert generator.epoch == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_kerasx_fit_loads_on_workers_threads_without_from_generator(workers, from_generator_calls):
    import kerasx

    generator = Overlap(64, batch_size=8, seed=2, workers=workers)
    kerasx.fit(_tiny_regressor(optimizer="adam"), generator, epochs=2, progress=False)
    assert generator.epoch == 2
    assert generator.most == workers  # `workers` batches load at once, never more
    assert generator.threads - {threading.get_ident()}  # on tf.data's threads
    assert from_generator_calls == []
    # The pipeline gives exactly the generator's batches, in order, for the current epoch.
    batches = [tuple(b) for b in generator._threaded_dataset()]
    assert [b[1].numpy()[:, 0].astype(int).tolist() for b in batches] == [
        b.tolist() for b in _epoch_batches(generator)
    ]
    # Keras's own path, for contrast, builds a from_generator dataset.
    _tiny_regressor().fit(generator, epochs=1, shuffle=False, verbose=0)
    assert len(from_generator_calls) >= 1


@pytest.mark.parametrize("workers", [1, 2])
def test_thread_workers_load_in_parallel_under_op_determinism(workers, op_determinism):
    import kerasx

    # TensorFlow runs a stateful map function one call at a time under op determinism.
    generator = Overlap(64, batch_size=8, seed=2, workers=workers)
    kerasx.fit(_tiny_regressor(optimizer="adam"), generator, epochs=1, progress=False)
    assert generator.most == workers
    ys = np.concatenate([y[:, 0].numpy() for _, y in generator.to_dataset()]).astype(int)
    assert ys.tolist() == generator.order(1).tolist()


PINNED_TO_ONE_CPU = """
import os, sys, threading, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import kerasx
from kerasx.data import DataGenerator

class Overlap(DataGenerator):
    def __init__(self, num_samples, **kwargs):
        super().__init__(num_samples, **kwargs)
        self.lock, self.running, self.most = threading.Lock(), 0, 0

    def load_batch(self, indices):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)  # waits, as on a disk or a network
        with self.lock:
            self.running -= 1
        return indices.astype("float32")[:, None].repeat(3, axis=1), indices[:, None] * 1.0

generator = Overlap(64, batch_size=8, seed=2, workers=int(sys.argv[1]))
model = kerasx.models.Sequential([kerasx.layers.Input((3,)), kerasx.layers.Dense(1)])
model.compile("adam", "mse")
kerasx.fit(model, generator, epochs=1, progress=False)
print("cpus", len(os.sched_getaffinity(0)), "most", generator.most)
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_thread_workers_overlap_in_a_process_pinned_to_one_cpu():
    # tf.data gives parallel calls one thread per usable CPU; `workers=3` must still mean
    # three loads at once in a container or job limited to one CPU.
    from helpers import run_python

    result = run_python(PINNED_TO_ONE_CPU, "3", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-4:] == ["cpus", "1", "most", "3"]


def test_a_generator_pickles_after_kerasx_fit_fed_it_on_threads(tmp_path):
    import pickle

    import kerasx

    generator = FileRecorder(32, tmp_path, batch_size=8, seed=0, workers=2)
    kerasx.fit(_tiny_regressor(optimizer="adam"), generator, epochs=1, progress=False)
    assert generator.__dict__.get("_kx_thread_datasets")  # kept for the next fit
    copy = pickle.loads(pickle.dumps(generator))
    assert "_kx_thread_datasets" not in copy.__dict__
    assert copy.epoch == 1 and copy[0][1].tolist() == generator[0][1].tolist()


def test_kerasx_fit_feeds_a_validation_generator_and_advances_it_per_evaluation():
    import kerasx

    train = Recorder(48, batch_size=8, seed=1, workers=2)
    val = Recorder(16, batch_size=8, seed=1, shuffle=False)
    model = _tiny_regressor(optimizer="adam")
    history = kerasx.fit(model, train, validation_data=val, epochs=2, progress=False)
    assert (train.epoch, val.epoch) == (2, 2)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(val, verbose=0))


@pytest.mark.slow
def test_process_workers_pickle_batches_across_processes():
    rng = np.random.default_rng(1)
    x = rng.random((64, 3), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = _tiny_regressor()
    plain = DataGenerator.from_arrays(x, y, batch_size=8, shuffle=False)
    procs = DataGenerator.from_arrays(
        x, y, batch_size=8, shuffle=False, workers=2, use_multiprocessing=True
    )
    model.fit(procs, epochs=2, shuffle=False, verbose=0)
    assert procs.epoch == 2
    assert model.evaluate(procs, verbose=0) == pytest.approx(model.evaluate(plain, verbose=0))


WORKER_ERROR = r"Boom\.load_batch failed on batch \d+ \(epoch 0, indices .*ValueError: boom"


@pytest.mark.slow
def test_process_workers_load_every_sample_once_per_epoch(tmp_path):
    import collections
    import os

    generator = FileRecorder(64, tmp_path, batch_size=8, seed=4, workers=2,
                             use_multiprocessing=True)
    _tiny_regressor().fit(generator, epochs=2, shuffle=False, verbose=0)
    lines = [line.split() for f in tmp_path.glob("*.txt") for line in f.read_text().splitlines()]
    in_workers = [int(i) for pid, i in lines if int(pid) != os.getpid()]
    in_main = [int(i) for pid, i in lines if int(pid) == os.getpid()]
    # The main process only looks at the first batches (Keras reads 2), for the element spec.
    assert 0 < len(in_main) <= 16 and len(in_main) % 8 == 0
    assert sorted(in_main) == sorted(generator.order(0)[: len(in_main)].tolist())
    assert collections.Counter(in_workers) == {i: 2 for i in range(64)}  # once per epoch
    assert generator.epoch == 2


@pytest.mark.timeout(60)
def test_error_in_load_batch_in_worker_threads_surfaces_without_hanging():
    import tensorflow as tf

    import kerasx

    # kerasx.fit raises the generator's DataError, with TensorFlow's error as its cause.
    generator = Boom(64, batch_size=4, shuffle=False, workers=2)
    with pytest.raises(DataError, match=WORKER_ERROR) as info:
        kerasx.fit(_tiny_regressor(), generator, epochs=2, progress=False)
    assert isinstance(info.value.__cause__, tf.errors.InvalidArgumentError)
    # Plain model.fit gets TensorFlow's error, whose message carries the DataError's text.
    with pytest.raises(tf.errors.InvalidArgumentError, match="DataError: " + WORKER_ERROR):
        _tiny_regressor().fit(
            Boom(64, batch_size=4, shuffle=False, workers=2), epochs=2, shuffle=False, verbose=0
        )


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_error_in_load_batch_in_worker_processes_surfaces_without_hanging():
    import kerasx

    generator = Boom(64, batch_size=4, shuffle=False, workers=2, use_multiprocessing=True)
    with pytest.raises(DataError, match=WORKER_ERROR):
        kerasx.fit(_tiny_regressor(), generator, epochs=2, progress=False)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10"])
def test_bad_num_samples(bad):
    with pytest.raises(DataError, match=r"`num_samples` must be an integer >= 1\. Received"):
        Recorder(bad)


def test_bad_batch_size():
    with pytest.raises(DataError, match=r"`batch_size` must be an integer >= 1\. Received: "):
        Recorder(10, batch_size=0)
    with pytest.raises(DataError, match=r"batch_size=11, num_samples=10"):
        Recorder(10, batch_size=11, drop_remainder=True)
    assert len(Recorder(10, batch_size=11)) == 1


class Drifting(DataGenerator):
    def __init__(self, change: str, **kwargs) -> None:
        super().__init__(12, batch_size=4, shuffle=False, **kwargs)
        self.change = change

    def load_batch(self, indices):
        n = len(indices)
        x, y = np.zeros((n, 3), "float32"), np.zeros((n, 1), "float32")
        if indices[0] >= 8:
            if self.change == "structure":
                return x
            if self.change == "shape":
                x = np.zeros((n, 4), "float32")
            if self.change == "dtype":
                y = y.astype("int64")
            if self.change == "batch":
                y = y[:-1]
        return x, y


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("structure", r"Batch 2 of Drifting does not match .* its structure is array"),
        ("shape", r"Batch 2 .* x has shape \(4, 4\), which differs"),
        ("dtype", r"Batch 2 .* y has dtype int64, but the first batch's had dtype float32"),
        ("batch", r"Batch 2 of Drifting: all arrays of a batch must have the same first"),
    ],
)
def test_batch_that_differs_from_the_first_is_named(change, message):
    generator = Drifting(change)
    generator[0]
    with pytest.raises(DataError, match=message):
        generator[2]


def test_batch_that_differs_fails_in_fit_with_the_batch_index():
    import kerasx

    with pytest.raises(DataError, match=r"Batch 2 of Drifting .* x has shape \(4, 4\)"):
        kerasx.fit(_tiny_regressor(), Drifting("shape"), epochs=1, progress=False)


def test_from_arrays_lengths_differ():
    with pytest.raises(DataError, match=r"same number of samples .* x: 10, y: 9"):
        DataGenerator.from_arrays(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(DataError, match=r"x\['b'\]: 5"):
        DataGenerator.from_arrays({"a": np.zeros((4, 2)), "b": np.zeros((5, 2))})


def test_forgotten_super_init_is_detected_with_the_fix():
    class NoSuper(DataGenerator):
        def __init__(self, paths):
            self.paths = paths

    with pytest.raises(DataError, match=r"NoSuper\.__init__ must call `super\(\).__init__"):
        NoSuper(["a.png"])


class Unpicklable(DataGenerator):
    def __init__(self, **kwargs) -> None:
        super().__init__(16, batch_size=4, **kwargs)
        self.handle = threading.Lock()

    def load_batch(self, indices):
        return np.zeros((len(indices), 3), "float32"), np.zeros((len(indices), 1), "float32")


def test_unpicklable_attribute_with_processes_is_named_before_workers_start():
    with pytest.raises(DataError, match=r"these attributes cannot be pickled: `handle`"):
        Unpicklable(workers=2, use_multiprocessing=True)
    generator = Unpicklable(workers=2)
    generator.use_multiprocessing = True
    with pytest.raises(DataError, match=r"`handle` \(TypeError"):
        _tiny_regressor().fit(generator, epochs=1, shuffle=False, verbose=0)
    assert isinstance(
        DataGenerator.from_arrays(np.zeros((4, 1)), shuffle=False, use_multiprocessing=True),
        DataGenerator,
    )


def test_generator_yielding_fewer_batches_than_steps():
    def three():
        for _ in range(3):
            yield np.zeros((2, 3), "float32"), np.zeros((2, 1), "float32")

    generator = DataGenerator.from_generator(three, steps=5)
    with pytest.raises(DataError, match=r"yielded only 3 batches, fewer than steps=5, so batch 3"):
        generator[3]
    import kerasx

    with pytest.raises(DataError, match=r"'three' yielded only 3 batches, fewer than steps=5"):
        kerasx.fit(_tiny_regressor(), DataGenerator.from_generator(three, steps=5), epochs=1,
                   progress=False)


def test_error_inside_load_batch_names_the_batch_and_keeps_the_cause():
    generator = Boom(16, batch_size=4, shuffle=False)
    message = r"failed on batch 2 \(epoch 0, indices \[8, 9, 10, 11\]"
    with pytest.raises(DataError, match=message) as info:
        generator[2]
    assert isinstance(info.value.__cause__, ValueError)
    assert "test_data_generator.py" in str(info.value)


def test_bad_state_split_and_index():
    generator = Recorder(10)
    with pytest.raises(DataError, match=r"dict with integer keys 'seed' and 'epoch'"):
        generator.set_state({"seed": 1})
    with pytest.raises(DataError, match=r"state\['epoch'\] must be a non-negative integer"):
        generator.set_state({"seed": 1, "epoch": -1})
    fraction = r"strictly between 0 and 1\. Received: validation_fraction=1\.5"
    with pytest.raises(DataError, match=fraction):
        generator.split(1.5)
    with pytest.raises(DataError, match=r"leaves 10 for training and 0 for validation"):
        generator.split(0.01)
    with pytest.raises(IndexError, match=r"has 1 batches\. Received: index=5"):
        generator[5]
    wrapped = DataGenerator.from_generator(lambda: iter([]), steps=2)
    with pytest.raises(DataError, match=r"split\(\) needs random access"):
        wrapped.split(0.5)


def test_tensor_dataset_converts_once_follows_replaced_arrays_and_pickles_without_it():
    import pickle

    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20)
    generator = DataGenerator.from_arrays(x, y, batch_size=8, seed=3)
    first = [b[0].numpy() for b in generator.tensor_dataset()]
    np.testing.assert_array_equal(first[0], generator[0][0])  # the same batches as x[i]
    cached = generator._kx_tensors[1]
    pipeline = generator.tensor_dataset()
    assert generator._kx_tensors[1] is cached  # converted once
    assert generator.tensor_dataset() is pipeline  # built once, reused by later fit calls
    assert generator.tensor_dataset(skip_batches=1) is not pipeline
    generator.x = x * 10  # a new array: converted again
    again = [b[0].numpy() for b in generator.tensor_dataset()]
    np.testing.assert_array_equal(again[0], first[0] * 10)
    assert generator.tensor_dataset() is not pipeline  # rebuilt for the new array
    copy = pickle.loads(pickle.dumps(generator))
    assert "_kx_tensors" not in copy.__dict__ and "_kx_datasets" not in copy.__dict__
    np.testing.assert_array_equal(copy[1][0], generator[1][0])


@pytest.mark.parametrize(
    ("num", "batch", "drop", "skip", "chunk_bytes"),
    [
        (1000, 7, False, 0, None),  # 2 chunks of 64 batches, 14 batches left, a short last one
        (1000, 7, True, 3, None),  # drop_remainder, resumed after 3 batches
        (130, 64, False, 1, None),  # fewer batches than a chunk
        (5, 8, False, 0, None),  # only the short batch
        (100, 4, False, 0, 1),  # batches larger than a chunk's bytes: one batch per chunk
    ],
)
def test_tensor_dataset_gives_exactly_the_generators_batches(
    monkeypatch, num, batch, drop, skip, chunk_bytes
):
    import kerasx.data._pipeline as pipeline

    if chunk_bytes is not None:
        monkeypatch.setattr(pipeline, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(num)
    x = {
        "a": rng.random((num, 3), dtype=np.float32),
        "b": np.arange(num, dtype=np.int64),
    }
    y = rng.integers(0, 5, (num, 2))
    weights = rng.random(num).astype("float32")
    generator = DataGenerator.from_arrays(
        x, y, weights, batch_size=batch, seed=1, drop_remainder=drop
    )
    tensors = generator.tensor_dataset()  # converts the arrays and caches them
    per_chunk = pipeline._batches_per_chunk(generator._kx_tensors[1], batch)
    assert per_chunk == (64 if chunk_bytes is None else 1)
    for epoch in (0, 1):
        generator.set_state({"seed": 1, "epoch": epoch})
        expected = [generator[i] for i in range(skip, len(generator))]
        got = list(generator.tensor_dataset(skip_batches=skip) if skip else tensors)
        assert len(got) == len(expected) == len(generator) - skip
        for (gx, gy, gw), (ex, ey, ew) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(gx["a"].numpy(), ex["a"])
            np.testing.assert_array_equal(gx["b"].numpy(), ex["b"])
            np.testing.assert_array_equal(gy.numpy(), ey)
            np.testing.assert_array_equal(gw.numpy(), ew)


# ---------------------------------------------------------------- views, wrappers, warnings


def test_error_in_a_split_view_names_the_parent_class_and_its_sample_indices():
    class Parent(DataGenerator):
        def load_batch(self, indices):
            if 50 in indices:
                raise KeyError("bad sample")
            return np.zeros((len(indices), 2), "float32"), np.zeros((len(indices), 1), "float32")

    train, val = Parent(100, batch_size=10, shuffle=False).split(0.3, seed=0)
    view = train if 50 in train.subset else val
    batch = int(np.flatnonzero(view.subset == 50)[0]) // 10
    with pytest.raises(DataError, match=rf"Parent\.load_batch failed on batch {batch} of a split"
                       rf"\(\) view .*indices \[[^]]*\b50\b"):
        view[batch]


def test_split_shares_the_arrays_and_accepts_numpy_numbers():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20)
    generator = DataGenerator.from_arrays(x, y, batch_size=4, shuffle=False)
    train, val = generator.split(np.float32(0.25), seed=np.int64(3))
    assert train.parent is generator and generator.x is x  # no copy of the data
    assert len(train.subset) == 15 and len(val.subset) == 5
    xb, yb = val[0]
    np.testing.assert_array_equal(xb, x[val.subset[:4]])
    np.testing.assert_array_equal(yb, y[val.subset[:4]])
    with pytest.raises(DataError, match=r"`seed` must be a non-negative integer .* seed='a'"):
        generator.split(0.2, seed="a")


def test_from_arrays_with_lists_of_inputs_and_targets():
    x = [np.arange(12, dtype="float32").reshape(6, 2), np.ones((6, 3), "float32")]
    y = [np.arange(6), np.arange(6, dtype="float32") * 10]
    generator = DataGenerator.from_arrays(x, y, batch_size=4, shuffle=False)
    (x0, x1), (y0, y1) = generator[1]
    np.testing.assert_array_equal(x0, x[0][4:])
    assert x1.shape == (2, 3)
    np.testing.assert_array_equal(y0, [4, 5])
    np.testing.assert_array_equal(y1, [40.0, 50.0])


def test_from_arrays_without_targets_warns_that_it_shuffles_predictions():
    x = np.arange(40, dtype="float32").reshape(40, 1)
    with pytest.warns(UserWarning, match=r"predictions in a shuffled order\. Pass shuffle=False"):
        DataGenerator.from_arrays(x, batch_size=8)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    ordered = model.predict(DataGenerator.from_arrays(x, batch_size=8, shuffle=False), verbose=0)
    np.testing.assert_allclose(ordered, model.predict(x, verbose=0), rtol=1e-6)


def test_transform_that_does_not_return_x_and_y_is_named():
    def only_x(x_batch, y_batch):
        return x_batch

    generator = DataGenerator.from_arrays(
        np.zeros((8, 2), "float32"), np.zeros(8), batch_size=4, transform=only_x
    )
    with pytest.raises(DataError, match=r"transform only_x must return \(x_batch, y_batch\)\. "
                       r"Received: a ndarray for the batch of indices"):
        generator[0]


def test_from_generator_describes_batches_as_yielded():
    def batches():
        while True:
            yield np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")

    generator = DataGenerator.from_generator(batches, steps=5)
    text = generator.describe()
    assert text.startswith("GeneratorWrapper over batches(): 5 batches per epoch")
    assert "x: shape (4, 2) dtype float32" in text and "y: shape (4, 1) dtype float32" in text
    with pytest.raises(DataError, match=r"`steps` must be an integer >= 1\. Received: steps=0"):
        DataGenerator.from_generator(batches, steps=0)
