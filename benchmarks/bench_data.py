"""DataGenerator benchmarks: fit speed against tf.data, parallel workers, memory over epochs.

1. `kerasx.fit` on `DataGenerator.from_arrays` (shuffled by the generator) against `model.fit` on
   `tf.data.Dataset.from_tensor_slices(...).batch(32).prefetch(AUTOTUNE)`, an MLP 784-128-10 on
   60,000 x 784 float32, batch 32, same model and `steps_per_execution`. Epochs are timed by a
   callback inside 2-epoch calls. Four loops take turns, one call each per round, 12 rounds:
   kerasx, the anchor, and for reference kerasx with `shuffle=False` (the anchor's batches)
   and tf.data's own shuffling (`.shuffle(n)` before `.batch`). Goal: the median of the
   per-round ratios (a round's kerasx epochs over its anchor epochs) at most 1.05x; the note
   gives a bootstrap 95% interval. For reference, the CPU time (user + system) of the same
   epochs, and plain `model.fit` on the same generator (Keras's PyDataset bridge, a Python
   call per batch).
2. A CPU-heavy `load_batch` (about 20 ms of single-threaded NumPy work per batch, calibrated in
   rounds of under 1 ms): epoch time with `workers=2` (threads) against `workers=1`, through
   `kerasx.models.compile` + `kerasx.fit`. Goal: at least 1.8x faster on 2 cores. Reference
   rows: the same batches loaded by 2 plain threads against 1 with no `fit` (how far the work
   itself scales here); a `workers=2` epoch whose `load_batch` does no NumPy rounds (what
   `fit` and the feeding cost on their own); the same two epochs Keras's way (`model.compile`
   + `model.fit`, Keras's `PyDataset` path and queue); and the `workers=1` epoch of the two
   ways. Each way runs in fresh child processes, kerasx, Keras, Keras, kerasx, and the rows
   show medians over them. They are separate processes because Keras feeds a `PyDataset`
   through `tf.data.Dataset.from_generator`. Building one makes TensorFlow 2.21 set glibc's
   `M_MMAP_THRESHOLD` to 128 KiB for the rest of the process. After that every NumPy array of
   128 KiB or more (this work's are 400 KB) is a fresh `mmap` that page-faults as it is
   written, so one Keras fit would slow every later measurement in the process.
3. Worker processes and threads through `kerasx.fit`, on a `load_batch` of about 10 ms of
   mixed NumPy work: about 4 ms of calls on 16 numbers, during which the GIL is mostly held,
   and 6 ms of ufuncs on 50,000 numbers, which release it (`_workloads.MixedWork`, calibrated
   in each process before any fit). For 40-batch and 160-batch epochs (8 samples per batch),
   `workers=2` against `workers=1`, threads and processes; goal at least 1.8x for 40-batch
   epochs. A configuration's figure per round is the median of epochs 2-4 of one 4-epoch
   `kerasx.fit` call (the first epoch starts the processes); the speed-ups are medians of one
   ratio per round, the configurations taking turns in each round. Reference rows: the same
   40 batches loaded by plain threads and by a warm `ProcessPoolExecutor`, no fit (how far
   the work itself scales here); `model.fit(generator.to_dataset())` against
   `kerasx.fit(generator)` with 2 processes; and the per-epoch set-up of each feed, an epoch
   of one empty batch after the first epoch (goal for processes: at most 20 ms). The same
   through plain `model.fit` (Keras's queue, which starts a process pool every epoch) runs in
   a fresh process of its own, for the reasons given in 2.
4. Resident memory over 50 epochs with 2 thread workers, generator with a Python `transform`:
   growth after epoch 2, through `kerasx.fit` (goal: less than 5%) and, for reference, through
   `model.fit`. Each in a fresh child process.

Run `python benchmarks/bench_data.py [--quick]`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import (
    Row,
    epoch_timer,
    format_table,
    median_interval,
    median_seconds,
    ratio_row,
    rotated_epoch_rounds,
)

__all__ = ["run"]

STEPS_PER_EXECUTION = 16


def _mlp(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def _start_delays(delays: list[float] | None) -> Any:
    """A Keras callback appending, per epoch, the seconds from its start to its first step."""
    import keras

    class StartDelay(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start: float | None = time.perf_counter()

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if self.start is not None and delays is not None:
                delays.append(time.perf_counter() - self.start)
            self.start = None

    return StartDelay()


def bench_fit_vs_tfdata(quick: bool) -> list[Row]:
    import numpy as np
    import tensorflow as tf

    import kerasx
    from kerasx.data import DataGenerator

    n = 12_000 if quick else 60_000
    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    shuffled = DataGenerator.from_arrays(x, y, batch_size=32, seed=0)
    in_order = DataGenerator.from_arrays(x, y, batch_size=32, shuffle=False)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).prefetch(tf.data.AUTOTUNE)
    reshuffled = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(n, seed=0, reshuffle_each_iteration=True)
        .batch(32)
        .prefetch(tf.data.AUTOTUNE)
    )
    cpu: dict[str, list[float]] = {"kerasx": [], "tf.data": []}
    starts: dict[str, list[float]] = {"kerasx": [], "tf.data": []}

    # kerasx.fit feeds an array generator to Keras as a tf.data pipeline (same batches).
    def through_kerasx(generator: Any, name: str) -> Any:
        model = _mlp()

        def epochs(count: int, times: list[float]) -> None:
            timers = [epoch_timer(times, cpu.get(name)), _start_delays(starts.get(name))]
            kerasx.fit(model, generator, epochs=count, callbacks=timers, progress=False)

        return epochs

    def through_keras(data: Any, name: str) -> Any:
        model = _mlp()

        def epochs(count: int, times: list[float]) -> None:
            timers = [epoch_timer(times, cpu.get(name)), _start_delays(starts.get(name))]
            model.fit(data, epochs=count, verbose=0, shuffle=False, callbacks=timers)

        return epochs

    # Epochs are timed inside 2-epoch calls, as a user's run has them. This machine has slow
    # spells in which an epoch of either pipeline takes up to twice as long, CPU time
    # included; they come and go within seconds. So the four loops take turns, a call each
    # per round, and the goal is checked on the median of one ratio per round.
    rounds = rotated_epoch_rounds(
        {
            "kerasx": through_kerasx(shuffled, "kerasx"),
            "tf.data": through_keras(dataset, "tf.data"),
            "kerasx, shuffle=False": through_kerasx(in_order, ""),
            "tf.data .shuffle(n)": through_keras(reshuffled, ""),
        },
        1 if quick else 2,
        rounds=2 if quick else 12,
    )
    epochs = {name: [t for call in calls for t in call] for name, calls in rounds.items()}
    base = statistics.median(epochs["tf.data"])

    def per_round(name: str, against: str = "tf.data") -> tuple[float, float, float]:
        ratios = [sum(a) / sum(b) for a, b in zip(rounds[name], rounds[against], strict=True)]
        return median_interval(ratios)

    main, low, high = per_round("kerasx")
    cpu = {name: values[1:] for name, values in cpu.items()}  # without the tracing epoch
    stalls = {name: sum(delay > 0.1 for delay in values[1:]) for name, values in starts.items()}
    # For reference: plain model.fit takes any PyDataset through Keras's Python-generator bridge.
    bridged = _mlp()
    bridged.fit(shuffled, epochs=1, verbose=0, shuffle=False)
    bridge: list[float] = []
    bridged.fit(shuffled, epochs=2 if quick else 3, verbose=0, callbacks=[epoch_timer(bridge)])
    anchor = "model.fit on tf.data from_tensor_slices"
    calls = f"{len(rounds['kerasx'])} rounds of one {len(rounds['kerasx'][0])}-epoch call per loop"
    rows = [
        ratio_row(
            f"kerasx.fit epoch on DataGenerator.from_arrays, MLP on {n:,}x784, batch 32",
            statistics.median(epochs["kerasx"]),
            base,
            goal_ratio=1.05,
            anchor_name=anchor,
            ratio=main,
            note=f"steps_per_execution={STEPS_PER_EXECUTION}; shuffled vs unshuffled; median "
            f"of per-round ratios, 95% interval {low:.2f}-{high:.2f}x; {calls}; median epochs "
            f"{statistics.median(epochs['kerasx']) / base:.2f}x",
        ),
        ratio_row(
            "CPU time (user + system) of the same epochs, median",
            statistics.median(cpu["kerasx"]),
            statistics.median(cpu["tf.data"]),
            goal_ratio=None,
            anchor_name=anchor,
            note=f"{len(cpu['kerasx'])} epochs each; epochs whose first step began over 0.1 s "
            f"after the epoch: kerasx {stalls['kerasx']}, tf.data {stalls['tf.data']}",
        ),
    ]
    for name, what in (
        ("kerasx, shuffle=False", "the same batches as the anchor, in order"),
        ("tf.data .shuffle(n)", "tf.data's own way to shuffle, a buffer of all n rows"),
    ):
        ratio, low, high = per_round(name)
        rows.append(
            ratio_row(
                f"{name}, vs the same unshuffled tf.data",
                statistics.median(epochs[name]),
                base,
                goal_ratio=None,
                anchor_name=anchor,
                ratio=ratio,
                note=f"{what}; 95% interval {low:.2f}-{high:.2f}x",
            )
        )
    rows.append(
        ratio_row(
            "model.fit epoch on the same DataGenerator (Keras's PyDataset bridge)",
            statistics.median(bridge),
            base,
            goal_ratio=None,
            anchor_name=anchor,
        )
    )
    return rows


def _heavy_class():
    import numpy as np

    from kerasx.data import DataGenerator

    class HeavyGenerator(DataGenerator):
        """`rounds` rounds of NumPy ufunc work per batch (ufuncs release the GIL)."""

        def __init__(self, num_samples: int, *, rounds: int, **kwargs) -> None:
            super().__init__(num_samples, **kwargs)
            self.rounds = rounds
            self.base = np.linspace(0.0, 1.0, 50_000)

        def load_batch(self, indices):
            values = self.base + float(indices[0])
            for _ in range(self.rounds):
                values = np.sqrt(np.sin(values) ** 2 + 1.0)
            features = np.resize(np.sin(values[:16]).astype("float32"), (len(indices), 16))
            return features, features[:, :1]

    return HeavyGenerator


def _calibrate_rounds(target_s: float = 0.020) -> int:
    """Rounds of the heavy loop that take about `target_s` on this machine (under 1 ms each)."""
    import numpy as np

    heavy = _heavy_class()(8, rounds=1, batch_size=8, seed=0)
    indices = np.arange(8)
    seconds, _ = median_seconds(lambda: heavy.load_batch(indices), repeats=21, warmup=0)
    return max(1, round(target_s / seconds))


def _threaded_seconds(generator, batches: int, threads: int) -> float:
    """Seconds to load `generator[0..batches)` shared out over plain threads."""

    def load(first: int) -> None:
        for i in range(first, batches, threads):
            generator[i]

    workers = [threading.Thread(target=load, args=(k,)) for k in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def _worker_epochs(feed: str, batches: int, repeats: int) -> dict[str, float]:
    """Median second-epoch times of the heavy generator, in this process (see `bench_workers`).

    `feed` "kerasx": `kerasx.models.compile` + `kerasx.fit`, which loads the batches on
    tf.data threads. "keras": `model.compile` + `model.fit`, Keras's `PyDataset` path (its
    queue for `workers=2`).
    """
    import keras

    import kerasx
    from kerasx import models

    rounds = _calibrate_rounds()  # before any fit, see the module docstring
    heavy = _heavy_class()
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(1)])
    if feed == "kerasx":
        models.compile(model, optimizer="sgd", loss="mse")
    else:
        model.compile(optimizer="sgd", loss="mse")
    generators = {
        "workers=1": heavy(batches * 8, rounds=rounds, batch_size=8, seed=0, workers=1),
        "workers=2": heavy(batches * 8, rounds=rounds, batch_size=8, seed=0, workers=2),
        "idle": heavy(batches * 8, rounds=0, batch_size=8, seed=0, workers=2),
    }
    times: list[float] = []
    samples: dict[str, list[float]] = {name: [] for name in [*generators, "1 thread", "2 threads"]}
    for _ in range(repeats):
        for name, generator in generators.items():
            times.clear()
            if feed == "kerasx":
                kerasx.fit(model, generator, epochs=2, verbose=0, callbacks=[epoch_timer(times)])
            else:
                model.fit(
                    generator, epochs=2, verbose=0, shuffle=False, callbacks=[epoch_timer(times)]
                )
            samples[name].append(times[-1])  # the second epoch: workers and tracing are warm
        samples["1 thread"].append(_threaded_seconds(generators["workers=1"], batches, 1))
        samples["2 threads"].append(_threaded_seconds(generators["workers=1"], batches, 2))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians["rounds"] = rounds
    return medians


def _child_worker_epochs(feed: str, batches: int, repeats: int) -> dict[str, float]:
    """`_worker_epochs` in a fresh Python process (see the module docstring for why)."""
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--workers", feed, str(batches), str(repeats)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def bench_workers(quick: bool) -> list[Row]:
    batches = 30 if quick else 100
    repeats = 2 if quick else 3
    runs: dict[str, list[dict[str, float]]] = {"kerasx": [], "keras": []}
    for feed in ["kerasx", "keras", "keras", "kerasx"]:
        runs[feed].append(_child_worker_epochs(feed, batches, repeats))

    def median(feed: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[feed])

    ours, theirs = "kerasx", "keras"
    rounds = sorted({int(run["rounds"]) for feed in runs for run in runs[feed]})
    work = f"{batches} batches x ~20 ms NumPy ({'/'.join(map(str, rounds))} rounds)"
    def speedup(feed: str, benchmark: str, goal: float | None, note: str) -> Row:
        """The `workers=1` epoch against the `workers=2` one: the speed-up of 2 workers."""
        return ratio_row(
            benchmark,
            median(feed, "workers=1"),
            median(feed, "workers=2"),
            goal_ratio=goal,
            higher_is_better=True,
            anchor_name="workers=2",
            note=note,
        )

    return [
        speedup(
            ours,
            f"epoch of {work}, workers=2 threads vs workers=1, kerasx.fit",
            1.8,
            "kerasx column: workers=1; ratio is the speed-up; kerasx.models.compile",
        ),
        ratio_row(
            "the same batches loaded by plain threads, no fit: 2 threads vs 1",
            median(ours, "1 thread"),
            median(ours, "2 threads"),
            goal_ratio=None,
            higher_is_better=True,
            anchor_name="2 threads",
            note="ratio is the speed-up of the work alone, in the kerasx.fit processes",
        ),
        ratio_row(
            "workers=2 epoch whose load_batch does no NumPy rounds vs the workers=2 epoch above",
            median(ours, "idle"),
            median(ours, "workers=2"),
            goal_ratio=None,
            anchor_name="workers=2, ~20 ms per batch",
            note="what kerasx.fit and its feeding cost on their own",
        ),
        speedup(
            theirs,
            "the same, Keras's way: model.compile + model.fit, workers=2 vs workers=1",
            None,
            f"idle workers=2 epoch {median(theirs, 'idle'):.2f} s (kerasx.fit "
            f"{median(ours, 'idle'):.2f} s)",
        ),
        ratio_row(
            "workers=1 epoch: kerasx.fit vs model.fit (other processes, see docstring)",
            median(ours, "workers=1"),
            median(theirs, "workers=1"),
            goal_ratio=None,
            anchor_name="model.fit",
            note="includes Keras's from_generator setting M_MMAP_THRESHOLD; workers=2: "
            f"{median(ours, 'workers=2'):.2f} s vs {median(theirs, 'workers=2'):.2f} s",
        ),
    ]


# ---------------------------------------------------------------------- worker processes

_FEED_EPOCHS = 4
"""Epochs per `fit` call in the worker-process benchmark; the first is left out."""


def _steady(times: list[float]) -> float:
    return statistics.median(times[1:])


def _small_model() -> Any:
    import keras

    from kerasx import models

    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(1)])
    return models.compile(model, optimizer="sgd", loss="mse")


def _feed_epochs(model: Any, generator: Any, way: str, epochs: int) -> list[float]:
    """Epoch times of one call: `kerasx.fit(generator)`, `model.fit(generator)` (Keras's
    own queue) or `model.fit(generator.to_dataset())`."""
    import kerasx

    times: list[float] = []
    timer = [epoch_timer(times)]
    if way == "kerasx":
        kerasx.fit(model, generator, epochs=epochs, callbacks=timer, progress=False)
    elif way == "keras":
        model.fit(generator, epochs=epochs, shuffle=False, verbose=0, callbacks=timer)
    else:
        model.fit(generator.to_dataset(), epochs=epochs, shuffle=False, verbose=0,
                  callbacks=timer)
        generator.close()
    return times


def _feed_configs(way: str, sizes: tuple[int, ...], small: int, large: int) -> dict[str, Any]:
    """Name -> (generator, model, how it is fed, epochs per call)."""
    from _workloads import MixedWork

    configs: dict[str, Any] = {}
    for batches in sizes:
        for kind in ("threads", "processes"):
            for workers in (1, 2):
                generator = MixedWork(
                    batches * 8, small=small, large=large, batch_size=8, seed=0,
                    workers=workers, use_multiprocessing=kind == "processes",
                )
                configs[f"{kind} {workers} {batches}"] = (generator, way, _FEED_EPOCHS)
    for kind in ("threads", "processes"):
        idle = MixedWork(8, small=0, large=0, batch_size=8, seed=0, workers=2,
                         use_multiprocessing=kind == "processes")
        configs[f"setup {kind}"] = (idle, way, 6)
    if way == "kerasx":
        generator = MixedWork(sizes[0] * 8, small=small, large=large, batch_size=8, seed=0,
                              workers=2, use_multiprocessing=True)
        configs["to_dataset"] = (generator, "to_dataset", _FEED_EPOCHS)
        idle = MixedWork(8, small=0, large=0, batch_size=8, seed=0, workers=2,
                         use_multiprocessing=True)
        configs["setup to_dataset"] = (idle, "to_dataset", 6)
    return {name: (gen, _small_model(), how, epochs) for name, (gen, how, epochs) in
            configs.items()}


def _plain_seconds(generator: Any, workers: int, kind: str, pool: Any) -> float:
    """Seconds to load all of `generator`'s batches with `workers` plain threads or
    processes of the warm `pool`, no fit."""
    from _workloads import load_in_turn

    start = time.perf_counter()
    if kind == "threads":
        threads = [
            threading.Thread(target=load_in_turn, args=(generator, k, workers))
            for k in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        list(pool.map(load_in_turn, [generator] * workers, range(workers), [workers] * workers))
    return time.perf_counter() - start


def _feed_rounds(way: str, sizes: tuple[int, ...], rounds: int) -> dict[str, Any]:
    """The worker-process benchmark in this process (see the module docstring, item 3)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from _workloads import calibrate

    from kerasx.data._workers import start_method, worker_pool

    small, large = calibrate()  # before any fit, see item 2 of the module docstring
    configs = _feed_configs(way, sizes, small, large)
    samples: dict[str, list[float]] = {name: [] for name in configs}
    plain: dict[str, list[float]] = {f"{k} {w}": [] for k in ("threads", "processes")
                                     for w in (1, 2)}
    reference = configs[f"threads 1 {sizes[0]}"][0]
    # One worker pool first, so that no measured fit pays a first start; the plain executor
    # starts its processes the way kerasx's workers do (`start_method`: fork on Linux).
    warm = configs[f"processes 2 {sizes[0]}"][0]
    worker_pool(warm).load(0, 0, warm.batch_indices(0))
    warm.close()
    context = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        _plain_seconds(reference, 2, "processes", pool)  # both processes started and warm
        names = list(configs)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                generator, model, how, epochs = configs[name]
                samples[name].append(_steady(_feed_epochs(model, generator, how, epochs)))
            for name in plain:
                kind, workers = name.split()
                plain[name].append(_plain_seconds(reference, int(workers), kind, pool))
    return {"samples": samples, "plain": plain, "rounds": [small, large]}


def _child_feed_rounds(way: str, sizes: tuple[int, ...], rounds: int) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--feeds", way, json.dumps(sizes),
         str(rounds)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def _speedup_row(samples: dict[str, list[float]], one: str, two: str, benchmark: str,
                 goal: float | None, note: str) -> Row:
    """`one` (1 worker) against `two` (2 workers): the median of the per-round speed-ups."""
    ratios = [a / b for a, b in zip(samples[one], samples[two], strict=True)]
    return ratio_row(
        benchmark,
        statistics.median(samples[one]),
        statistics.median(samples[two]),
        goal_ratio=goal,
        higher_is_better=True,
        anchor_name="workers=2",
        ratio=statistics.median(ratios),
        note=f"{note}; median of {len(ratios)} per-round ratios (range {min(ratios):.2f}-"
        f"{max(ratios):.2f}x)",
    )


def bench_worker_processes(quick: bool) -> list[Row]:
    sizes = (40,) if quick else (40, 160)
    runs = [_child_feed_rounds("kerasx", sizes, 2 if quick else 4) for _ in range(1 if quick
                                                                                  else 2)]
    keras_run = _child_feed_rounds("keras", (sizes[0],), 2 if quick else 3)
    samples = {name: [v for run in runs for v in run["samples"][name]]
               for name in runs[0]["samples"]}
    plain = {name: [v for run in runs for v in run["plain"][name]] for name in runs[0]["plain"]}
    work = "x ~10 ms mixed NumPy (~4 ms holding the GIL)"
    rows = []
    for batches in sizes:
        for kind in ("threads", "processes"):
            rows.append(_speedup_row(
                samples, f"{kind} 1 {batches}", f"{kind} 2 {batches}",
                f"{batches}-batch epochs {work}, kerasx.fit: workers=2 vs workers=1, {kind}",
                1.8 if batches == 40 else None,
                "kerasx column: workers=1; ratio is the speed-up",
            ))
    for kind in ("threads", "processes"):
        rows.append(_speedup_row(
            plain, f"{kind} 1", f"{kind} 2",
            f"the same {sizes[0]} batches loaded by plain {kind}, no fit: 2 vs 1",
            None, "how far the work itself scales on this machine",
        ))
    rows.append(ratio_row(
        f"model.fit(generator.to_dataset()) vs kerasx.fit(generator), {sizes[0]}-batch epochs, "
        "workers=2 processes",
        statistics.median(samples["to_dataset"]),
        statistics.median(samples[f"processes 2 {sizes[0]}"]),
        goal_ratio=None, anchor_name="kerasx.fit",
        note="the same worker pool, started by the first pass",
    ))
    rows.append(ratio_row(
        "per-epoch set-up, kerasx.fit with workers=2 processes: an epoch of one empty batch",
        statistics.median(samples["setup processes"]), 0.020, goal_ratio=1.0,
        anchor_name="the 20 ms goal",
        note=f"after the first epoch; threads {statistics.median(samples['setup threads'])*1e3:.0f}"
        f" ms, to_dataset with processes "
        f"{statistics.median(samples['setup to_dataset'])*1e3:.0f} ms",
    ))
    keras_samples = keras_run["samples"]
    rows.append(_speedup_row(
        keras_samples, f"processes 1 {sizes[0]}", f"processes 2 {sizes[0]}",
        f"the same {sizes[0]}-batch epochs through model.fit (Keras's queue, a process pool per "
        "epoch): workers=2 vs 1, processes", None,
        f"idle one-batch epoch: processes "
        f"{statistics.median(keras_samples['setup processes'])*1e3:.0f} ms, threads "
        f"{statistics.median(keras_samples['setup threads'])*1e3:.0f} ms; a fresh process",
    ))
    calibrated = sorted({tuple(run["rounds"]) for run in [*runs, keras_run]})
    rows[-1].note += f"; rounds (small, large) per process: {calibrated}"
    return rows


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory_rss(feed: str, epochs: int) -> list[int]:
    """RSS after each of `epochs` epochs with 2 thread workers, in this process.

    `feed` "kerasx": `kerasx.fit` on a generator with a Python `transform`, which it loads on
    tf.data threads. "keras": `model.fit` on the same generator, through Keras's queue.
    """
    import keras
    import numpy as np

    import kerasx
    from kerasx.data import DataGenerator

    rng = np.random.default_rng(0)
    x = rng.random((4096, 64), dtype=np.float32)
    y = rng.random((4096, 1), dtype=np.float32)

    def jitter(x_batch, y_batch):
        noise = np.random.default_rng(int(x_batch[0, 0] * 1e6)).normal(0, 0.01, x_batch.shape)
        return (x_batch + noise).astype("float32"), y_batch

    generator = DataGenerator.from_arrays(
        x, y, batch_size=64, seed=0, workers=2, transform=jitter
    )
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rss: list[int] = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rss.append(_rss_bytes())

    if feed == "kerasx":
        kerasx.fit(model, generator, epochs=epochs, verbose=0, callbacks=[Recorder()])
    else:
        model.fit(generator, epochs=epochs, verbose=0, shuffle=False, callbacks=[Recorder()])
    return rss


def bench_memory(quick: bool) -> list[Row]:
    epochs = 12 if quick else 50
    rows = []
    for feed, goal in [("kerasx", 1.05), ("keras", None)]:
        child = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--memory", feed, str(epochs)],
            capture_output=True, text=True, check=True,
        )
        rss = json.loads(child.stdout.strip().splitlines()[-1])
        how = "kerasx.fit" if feed == "kerasx" else "model.fit, Keras's queue"
        rows.append(
            ratio_row(
                f"RSS after {epochs} epochs vs after epoch 2 (workers=2 threads, {how})",
                statistics.median(rss[-3:]) / 2**20,
                rss[1] / 2**20,
                goal_ratio=goal,
                unit="MiB",
                anchor_name="after epoch 2",
                note="a fresh process; the generator has a Python transform",
            )
        )
    return rows


def run(quick: bool = False) -> list[Row]:
    """Run the DataGenerator benchmarks.

    Args:
        quick: smaller data and fewer repeats. Defaults to `False`.

    Returns:
        One row per benchmark.
    """
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    start = time.perf_counter()
    rows = [
        *bench_fit_vs_tfdata(quick),
        *bench_workers(quick),
        *bench_worker_processes(quick),
        *bench_memory(quick),
    ]
    rows[-1].note = (rows[-1].note + " " if rows[-1].note else "") + (
        f"(all data benchmarks took {time.perf_counter() - start:.0f} s)"
    )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--workers"]:  # the child process of `_child_worker_epochs`
        print(json.dumps(_worker_epochs(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    elif sys.argv[1:2] == ["--feeds"]:  # the child process of `bench_worker_processes`
        sizes = tuple(json.loads(sys.argv[3]))
        print(json.dumps(_feed_rounds(sys.argv[2], sizes, int(sys.argv[4]))))
    elif sys.argv[1:2] == ["--memory"]:  # the child process of `bench_memory`
        print(json.dumps(_memory_rss(sys.argv[2], int(sys.argv[3]))))
    else:
        print(format_table(run(quick="--quick" in sys.argv)))
