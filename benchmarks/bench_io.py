"""kerasx.io.save + load against Keras's save + load at the same durability, ~10M parameters.

kerasx's side includes everything it adds: the private in-memory copy, the safety scan, safe
mode, the temporary file, fsync and `os.replace`. Keras's side is `model.save`, then an fsync of
the file and of its folder (what kerasx's atomic write guarantees too), then
`keras.saving.load_model`. Goal: within 1.10x of Keras. The ratio is the median of ABBA pair
ratios (see `paired_ratio`).

`os.sync()` runs, untimed, before every timed call. Keras's save returns with 120 MB still
waiting in the page cache; without the sync, the next kerasx fsync (ext4 commits in order)
would also wait for those bytes, charging Keras's deferred disk writes to kerasx (measured: the
fsync took 0.32 s in that position against 0.19 s after a sync).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, paired_ratio, ratio_row

__all__ = ["run"]


def _fsync(path: Path) -> None:
    """Flush a file and its folder's entry to disk, as kerasx's atomic write does."""
    for target in (path, path.parent):
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _model(quick: bool):
    import keras

    width = 1024 if quick else 3162  # 3162**2 ~ 10M parameters
    model = keras.Sequential(
        [
            keras.Input((width,)),
            keras.layers.Dense(width, name="big"),
            keras.layers.Dense(10, name="out"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # save and load the optimizer state too
    return model


def run(quick: bool = False) -> list[Row]:
    """Time save+load of a `.keras` file both ways, alternately, and return one Row."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import kerasx.io

    model = _model(quick)
    folder = Path(tempfile.mkdtemp(prefix="kerasx-bench-io-"))
    try:
        ours_path = folder / "ours.keras"
        theirs_path = folder / "theirs.keras"

        def ours() -> None:
            kerasx.io.save(model, ours_path)
            kerasx.io.load(ours_path)

        def theirs() -> None:
            model.save(theirs_path)
            _fsync(theirs_path)
            keras.saving.load_model(theirs_path)

        repeats = 3 if quick else 6
        ours_s, theirs_s, ratio = paired_ratio(
            ours, theirs, repeats=repeats, warmup=1, between=os.sync
        )
        params = model.count_params()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [
        ratio_row(
            f"io save+load .keras ({params / 1e6:.1f}M params)",
            ours_s,
            theirs_s,
            goal_ratio=1.10,
            anchor_name="model.save + fsync + keras.saving.load_model",
            ratio=ratio,
            note=f"median of {repeats} ABBA pair ratios, scan + fsync included, os.sync between",
        )
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
