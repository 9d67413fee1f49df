"""`import kerasx` is cheap: a fresh interpreter that imports kerasx against one that does not.

Row (medians of fresh interpreters, run alternately):

- `python -c "import kerasx"` against `python -c "pass"`: what importing kerasx adds to a
  command-line start (`kerasx --help`, a notebook's first cell). kerasx loads TensorFlow,
  Keras, NumPy and matplotlib lazily, on first use; tests/test_import.py checks that none of
  them is imported. Goal: at most 1.5x a bare interpreter's start.
"""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Row, format_table, paired_ratio, ratio_row

__all__ = ["run"]


def _interpreter(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def run(quick: bool = False) -> list[Row]:
    repeats = 5 if quick else 21
    ours, theirs, ratio = paired_ratio(
        lambda: _interpreter("import kerasx"), lambda: _interpreter("pass"), repeats=repeats
    )
    return [
        ratio_row(
            "fresh interpreter: `import kerasx` vs nothing",
            ours,
            theirs,
            goal_ratio=1.5,
            ratio=ratio,
            anchor_name='python -c "pass"',
            note=f"median of {repeats} pair ratios",
        )
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
