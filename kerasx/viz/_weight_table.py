"""`format_weight_stats`: weight statistics as an aligned text table, for a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_number", "format_weight_stats"]

_HEADERS = ["", "layer", "variable", "shape", "count", "mean", "std", "min", "max",
            "zeros", "nan", "inf", "dead"]  # fmt: skip
_LEFT_ALIGNED = {0, 1, 2}


def format_number(value: Any) -> str:
    """A statistic for display: `-` for None, 4 decimals from 1e-3 to 1e4, else scientific."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if 1e-3 <= abs(value) < 1e4:
            return f"{value:.4f}"
        return f"{value:.3e}"
    return str(value)


def format_weight_stats(rows: Sequence[dict[str, Any]]) -> str:
    """An aligned text table of `weight_stats` rows, for a terminal.

    Rows whose variable holds NaN or Inf values are marked with `!` in the first column, and a
    last line counts them, so a broken checkpoint is obvious at a glance.

    Args:
        rows: rows from `weight_stats` or `weight_stats_from_file`.

    Returns:
        The table as one string (no trailing newline); `"(no weights)"` for no rows.

    Example:

    >>> import keras
    >>> from kerasx.viz import weight_stats
    >>> from kerasx.viz._weight_table import format_weight_stats
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> print(format_weight_stats(weight_stats(model)).splitlines()[-1])
    2 variables, 8 values; no NaN or Inf
    """
    if not rows:
        return "(no weights)"
    table = [_HEADERS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADERS))]
    lines = []
    for line in table:
        cells = [
            cell.ljust(widths[i]) if i in _LEFT_ALIGNED else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append(" ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    lines.append(_summary_line(rows))
    return "\n".join(lines)


def _cells(row: dict[str, Any]) -> list[str]:
    bad = bool(row.get("nan_count") or row.get("inf_count"))
    dead = row.get("dead_fraction")
    return [
        "!" if bad else "",
        str(row.get("layer", "")),
        str(row.get("variable", "")),
        "x".join(str(d) for d in row.get("shape", ())) or "scalar",
        str(row.get("count", "")),
        format_number(row.get("mean")),
        format_number(row.get("std")),
        format_number(row.get("min")),
        format_number(row.get("max")),
        f"{row.get('zero_fraction', 0.0):.1%}",
        str(row.get("nan_count", 0)) + ("!" if row.get("nan_count") else ""),
        str(row.get("inf_count", 0)) + ("!" if row.get("inf_count") else ""),
        "-" if dead is None else f"{dead:.0%}",
    ]


def _summary_line(rows: Sequence[dict[str, Any]]) -> str:
    flagged = sum(bool(row.get("nan_count") or row.get("inf_count")) for row in rows)
    total = sum(int(row.get("count", 0)) for row in rows)
    summary = f"{len(rows)} variables, {total:,} values"
    if flagged:
        return summary + f"; {flagged} with NaN or Inf (marked !)"
    return summary + "; no NaN or Inf"
