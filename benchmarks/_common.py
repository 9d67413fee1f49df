"""Shared helpers for kerasx benchmarks: medians of repeated runs and one result table.

Every benchmark module `benchmarks/bench_<topic>.py` defines `run(quick: bool = False) ->
list[Row]` and can be run alone (`python benchmarks/bench_io.py`); `benchmarks/run.py` runs them
all and prints one table. Figures are medians of several runs, measured side by side with their
anchor in one process, so machine noise hits both sides alike.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Row",
    "format_table",
    "interleaved_medians",
    "mlp_784",
    "median_seconds",
    "median_interval",
    "paired_ratio",
    "ratio_row",
    "rotated_epoch_rounds",
    "timed",
]


@dataclass
class Row:
    """One benchmark result: kerasx's figure, its anchor's, the ratio and the goal."""

    benchmark: str
    kerasx: float
    anchor: float
    unit: str
    ratio: float
    goal: str
    ok: bool
    anchor_name: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def epoch_timer(times: list[float], cpu: list[float] | None = None) -> Any:
    """A Keras callback appending each epoch's wall time to `times` (imports Keras lazily).

    With `cpu`, it also appends the process's CPU time (user + system) of each epoch to it.
    """
    import keras

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()
            self.cpu_start = cpu_seconds() if cpu is not None else 0.0

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.start)
            if cpu is not None:
                cpu.append(cpu_seconds() - self.cpu_start)

    return EpochTimer()


def abba_epochs(
    ours: Callable[[int, list[float]], Any],
    theirs: Callable[[int, list[float]], Any],
    epochs: int,
    *,
    rounds: int = 1,
) -> tuple[list[float], list[float]]:
    """Epoch times of two training loops, each run inside multi-epoch calls, ABBA.

    `ours(n, times)` and `theirs(n, times)` train `n` epochs in one call and append each
    epoch's time to `times`. Each round trains each side `epochs` epochs in two calls, in the
    order ours, theirs, theirs, ours. Returns each side's epoch times without its very first
    epoch, which traces the training step.
    """
    first, second = (epochs + 1) // 2, epochs // 2
    ours_times: list[float] = []
    theirs_times: list[float] = []
    for _ in range(rounds):
        ours(first, ours_times)
        theirs(first, theirs_times)
        if second:
            theirs(second, theirs_times)
            ours(second, ours_times)
    return ours_times[1:], theirs_times[1:]


def rotated_epoch_rounds(
    sides: dict[str, Callable[[int, list[float]], Any]], epochs: int, *, rounds: int
) -> dict[str, list[list[float]]]:
    """Epoch times of several training loops, one call of `epochs` epochs each per round.

    `sides[name](n, times)` trains `n` epochs in one call and appends each epoch's time to
    `times`. Each side first trains one untimed epoch (it traces the training step). Each
    round then calls every side once, in an order that rotates from round to round and is
    reversed every other lap, so no side always runs first or right after another one.
    Returns, per side, one list of epoch times per round: the calls of a round run within
    seconds of each other, so a ratio per round is not moved by the machine's slow drift.
    """
    names = list(sides)
    for name in names:
        sides[name](1, [])
    times: dict[str, list[list[float]]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        order = names[shift:] + names[:shift]
        if (index // len(names)) % 2:
            order.reverse()
        for name in order:
            epoch_times: list[float] = []
            sides[name](epochs, epoch_times)
            times[name].append(epoch_times)
    return times


def median_interval(
    values: list[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """The median of `values` and a bootstrap percentile interval around it.

    Resamples `values` with replacement `resamples` times (a fixed seed, so a table is
    reproducible from its samples) and returns `(median, low, high)`, where `low` and `high`
    bound the central `confidence` share of the resampled medians.
    """
    import random

    rng = random.Random(seed)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)
    )
    tail = int(resamples * (1.0 - confidence) / 2.0)
    return statistics.median(values), medians[tail], medians[resamples - 1 - tail]


def median_seconds(
    fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1
) -> tuple[float, list[float]]:
    """Median seconds of `repeats` calls of `fn` after `warmup` untimed calls, and all samples."""
    for _ in range(warmup):
        fn()
    samples = [timed(fn) for _ in range(repeats)]
    return statistics.median(samples), samples


def interleaved_medians(
    kerasx_fn: Callable[[], Any],
    anchor_fn: Callable[[], Any],
    *,
    repeats: int = 5,
    warmup: int = 1,
) -> tuple[float, float]:
    """Medians of kerasx and anchor timings, run alternately so drift hits both alike."""
    for _ in range(warmup):
        kerasx_fn()
        anchor_fn()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        ours.append(timed(kerasx_fn))
        theirs.append(timed(anchor_fn))
    return statistics.median(ours), statistics.median(theirs)


def paired_samples(
    kerasx_fn: Callable[[], Any],
    anchor_fn: Callable[[], Any],
    *,
    repeats: int = 5,
    warmup: int = 1,
    between: Callable[[], Any] | None = None,
) -> tuple[list[float], list[float], list[float]]:
    """Run kerasx, anchor, anchor, kerasx (ABBA) `repeats` times, after `warmup` rounds.

    `between`, if given, runs untimed before every timed call (for example `os.sync`, so that
    one side's deferred disk writes are not paid by the other). Returns kerasx's times, the
    anchor's times and one ratio per repeat: the sum of its two kerasx times over the sum of
    its two anchor times.
    """

    def run(fn: Callable[[], Any]) -> float:
        if between is not None:
            between()
        return timed(fn)

    for _ in range(warmup):
        kerasx_fn()
        anchor_fn()
    ours: list[float] = []
    theirs: list[float] = []
    ratios: list[float] = []
    for _ in range(repeats):
        a1, b1, b2, a2 = run(kerasx_fn), run(anchor_fn), run(anchor_fn), run(kerasx_fn)
        ours += [a1, a2]
        theirs += [b1, b2]
        ratios.append((a1 + a2) / (b1 + b2))
    return ours, theirs, ratios


def paired_ratio(
    kerasx_fn: Callable[[], Any],
    anchor_fn: Callable[[], Any],
    *,
    repeats: int = 5,
    warmup: int = 1,
    between: Callable[[], Any] | None = None,
) -> tuple[float, float, float]:
    """For small differences on a noisy machine: the median of per-pair ratios.

    See `paired_samples`: a slow spell of the machine hits both sides of a pair, and linear
    drift cancels. Returns the medians of kerasx's and the anchor's times and the median of the
    `repeats` pair ratios.
    """
    ours, theirs, ratios = paired_samples(
        kerasx_fn, anchor_fn, repeats=repeats, warmup=warmup, between=between
    )
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


def ratio_row(
    benchmark: str,
    kerasx: float,
    anchor: float,
    *,
    goal_ratio: float | None,
    higher_is_better: bool = False,
    unit: str = "s",
    anchor_name: str = "",
    note: str = "",
    ratio: float | None = None,
) -> Row:
    """A row whose ratio is kerasx / anchor (or `ratio`, e.g. from `paired_ratio`), checked
    against `goal_ratio`.

    With `higher_is_better=False` (times) the goal is `ratio <= goal_ratio`; with
    `higher_is_better=True` (speed-ups, throughput) it is `ratio >= goal_ratio`. A
    `goal_ratio` of None makes an informational row: shown, never a pass or a failure.
    """
    if ratio is None:
        ratio = kerasx / anchor if anchor else float("inf")
    if goal_ratio is None:
        ok, goal = True, "reference"
    elif higher_is_better:
        ok, goal = ratio >= goal_ratio, f">= {goal_ratio:g}x"
    else:
        ok, goal = ratio <= goal_ratio, f"<= {goal_ratio:g}x"
    return Row(benchmark, kerasx, anchor, unit, ratio, goal, ok, anchor_name, note)


def _result(row: Row) -> str:
    if row.goal == "reference":
        return "info"
    return "pass" if row.ok else "FAIL"


def format_table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = [
        "| benchmark | kerasx | anchor | ratio | goal | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        anchor = f"{r.anchor:.3g} {r.unit}" + (f" ({r.anchor_name})" if r.anchor_name else "")
        lines.append(
            f"| {r.benchmark} | {r.kerasx:.3g} {r.unit} | {anchor} | {r.ratio:.2f}x | {r.goal} "
            f"| {_result(r)}{' - ' + r.note if r.note else ''} |"
        )
    return "\n".join(lines)


def mlp_784(*, compile_kwargs: dict[str, Any] | None = None) -> Any:
    """The benchmarks' MLP 784-128-10 (softmax), seeded; compiled with Adam and sparse
    categorical cross-entropy plus `compile_kwargs`, or left uncompiled with `None`."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    if compile_kwargs is not None:
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", **compile_kwargs
        )
    return model
