"""`summary` and `summary_table`: a model summary as text, as rows, and as HTML in Jupyter.

Unlike `model.summary()` on an unbuilt or subclassed model (which shows "unbuilt" and 0
parameters), kerasx builds the model from `input_shape=` when given, and otherwise says clearly
how to build it. The totals always equal `model.count_params()`.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["ModelSummary", "SummaryTable", "summary", "summary_table"]


class SummaryTable(list):
    """The rows of a summary (a `list` of dicts) with the model's totals in `.totals`.

    Attributes:
        totals: `{"total": int, "trainable": int, "non_trainable": int, "bytes": int}`.
        model_name: the model's name.
        model_class: the model's class name.
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        totals: dict[str, int],
        model_name: str,
        model_class: str,
    ) -> None:
        super().__init__(rows)
        self.totals = totals
        self.model_name = model_name
        self.model_class = model_class


def _totals(model: Any) -> dict[str, int]:
    from kerasx.viz._graph import count_weights

    trainable = count_weights(model.trainable_weights)
    non_trainable = count_weights(model.non_trainable_weights)
    seen: set[int] = set()
    size_bytes = 0
    for variable in model.weights:
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        import numpy as np

        count = 1
        for dim in variable.shape:
            count *= int(dim)
        size_bytes += count * np.dtype(str(variable.dtype)).itemsize
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
        "bytes": size_bytes,
    }


def _rows(model: Any, expand_nested: bool, depth: int, prefix: str) -> list[dict[str, Any]]:
    from kerasx.viz._graph import (
        ModelCalls,
        count_weights,
        is_nested_model,
        layer_output_shape,
    )
    from kerasx.viz._graph_calls import is_functional

    calls = ModelCalls(model)
    if is_functional(model):
        layers = list(model.operations)
    else:
        # Sequential (without its InputLayer, as Keras shows it) and subclassed models.
        layers = list(model.layers)
    rows = []
    for layer in layers:
        rows.append(
            {
                "name": prefix + layer.name,
                "class": type(layer).__name__,
                "output_shape": layer_output_shape(layer, calls),
                "params": count_weights(getattr(layer, "weights", [])),
                "trainable": bool(getattr(layer, "trainable", False)),
                "trainable_params": count_weights(getattr(layer, "trainable_weights", [])),
                "depth": depth,
            }
        )
        if expand_nested and is_nested_model(layer):
            rows += _rows(layer, True, depth + 1, prefix + layer.name + "/")
    return rows


def summary_table(
    model: Any, *, expand_nested: bool = False, input_shape: Any = None
) -> SummaryTable:
    """The summary of a model as rows: one dict per layer, plus totals.

    Args:
        model: a Keras model.
        expand_nested: add rows for the layers inside nested models (with `depth` > 0) after the
            row of the nested model. Defaults to `False`.
        input_shape: one sample's shape without the batch dimension (or a list of shapes), used
            to build an unbuilt model such as a subclassed one. Defaults to `None`.

    Returns:
        A `SummaryTable`: a list of `{"name", "class", "output_shape", "params", "trainable",
        "trainable_params", "depth"}` dicts, with `.totals` = `{"total", "trainable",
        "non_trainable", "bytes"}`; `totals["total"] == model.count_params()`.

    Raises:
        ConfigurationError: the model is not built and `input_shape` is missing or wrong.

    Example:

    >>> import keras, kerasx
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> table = kerasx.viz.summary_table(model)
    >>> table[0]["params"], table.totals["total"]
    (10, 10)
    """
    from kerasx.viz._graph import build_if_needed

    build_if_needed(model, input_shape)
    return SummaryTable(
        _rows(model, expand_nested, 0, ""),
        _totals(model),
        model.name,
        type(model).__name__,
    )


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.2f} {unit}"
        size /= 1024
    return f"{size:,.2f} GB"  # pragma: no cover - the loop always returns


class ModelSummary(str):
    """A model summary: a `str` (prints as a text table) that renders as HTML in Jupyter.

    `summary` returns one; make one yourself only to format a table from `summary_table`
    differently. The text is fixed when it is made; `.totals` are the model's totals.

    Args:
        table: the rows and totals, as `summary_table` returns them.
        show_trainable: add a column saying whether each layer's weights train.
            Defaults to `True`.

    Attributes:
        table: the `SummaryTable` (rows and `.totals`) the text was made from.
        show_trainable: whether the trainable column is shown.

    Example:

    >>> import keras, kerasx
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="out")],
    ...                          name="tiny")
    >>> text = kerasx.viz.ModelSummary(kerasx.viz.summary_table(model), show_trainable=False)
    >>> print(text)
    Model: "tiny" (Sequential)
    -----------------------------------
    Layer (type)  Output shape  Param #
    -----------------------------------
    out (Dense)   (None, 2)          10
    ===================================
    Total params: 10 (40 B)
    Trainable params: 10
    Non-trainable params: 0
    >>> text.totals["total"], isinstance(text, str)
    (10, True)
    """

    table: SummaryTable
    show_trainable: bool

    def __new__(cls, table: SummaryTable, show_trainable: bool = True) -> ModelSummary:
        return super().__new__(cls, _format_text(table, show_trainable))

    # The arguments are the constructor's, as in `__new__`; `__init__` keeps them (and shows
    # them in the API reference, which reads a class's signature from `__init__`).
    def __init__(self, table: SummaryTable, show_trainable: bool = True) -> None:
        super().__init__()
        self.table = table
        self.show_trainable = show_trainable

    @property
    def totals(self) -> dict[str, int]:
        """`{"total", "trainable", "non_trainable", "bytes"}` of the model."""
        return self.table.totals

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return _format_html(self.table, self.show_trainable)


def _columns(show_trainable: bool) -> list[str]:
    columns = ["Layer (type)", "Output shape", "Param #"]
    return [*columns, "Trainable"] if show_trainable else columns


def _cells(row: dict[str, Any], show_trainable: bool) -> list[str]:
    indent = "  " * row["depth"]
    cells = [f"{indent}{row['name']} ({row['class']})", row["output_shape"], f"{row['params']:,}"]
    if show_trainable:
        if row["params"] == 0:
            cells.append("-")
        elif row["trainable_params"] == row["params"]:
            cells.append("yes")
        elif row["trainable_params"] == 0:
            cells.append("no")
        else:
            cells.append("partly")
    return cells


def _total_lines(table: SummaryTable) -> list[str]:
    totals = table.totals
    return [
        f"Total params: {totals['total']:,} ({_human_bytes(totals['bytes'])})",
        f"Trainable params: {totals['trainable']:,}",
        f"Non-trainable params: {totals['non_trainable']:,}",
    ]


def _format_text(table: SummaryTable, show_trainable: bool) -> str:
    header = _columns(show_trainable)
    body = [_cells(row, show_trainable) for row in table]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            padded.append(cell.rjust(widths[i]) if i == 2 else cell.ljust(widths[i]))
        return "  ".join(padded).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [f'Model: "{table.model_name}" ({table.model_class})', rule, line(header), rule]
    lines += [line(cells) for cells in body]
    lines += [rule.replace("-", "="), *_total_lines(table)]
    return "\n".join(lines)


def _format_html(table: SummaryTable, show_trainable: bool) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _columns(show_trainable))
    body = []
    for row in table:
        cells = _cells(row, show_trainable)
        tds = "".join(
            f'<td style="text-align:{"right" if i == 2 else "left"}">{html.escape(c)}</td>'
            for i, c in enumerate(cells)
        )
        body.append(f"<tr>{tds}</tr>")
    totals = "<br>".join(html.escape(t) for t in _total_lines(table))
    return (
        f"<div><b>Model: {html.escape(table.model_name)}</b> ({html.escape(table.model_class)})"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p>{totals}</p></div>"
    )


def summary(
    model: Any,
    *,
    expand_nested: bool = False,
    show_trainable: bool = True,
    input_shape: Any = None,
) -> ModelSummary:
    """A model's summary: layers, output shapes, parameter counts and totals.

    Works for Sequential, Functional and subclassed models. An unbuilt model (a subclassed model
    before its first call, or a Sequential model without `Input`) is built from `input_shape`;
    without it a `ConfigurationError` explains how to build it, instead of Keras's "unbuilt"
    rows with 0 parameters.

    Args:
        model: a Keras model.
        expand_nested: also list the layers inside nested models, indented. Defaults to `False`.
        show_trainable: add a column saying whether each layer's weights train.
            Defaults to `True`.
        input_shape: one sample's shape without the batch dimension (or a list of shapes), used
            to build an unbuilt model. Defaults to `None`.

    Returns:
        A `ModelSummary`: a `str` subclass (print it), that shows as an HTML table in Jupyter;
        `.table` holds the rows and `.totals` the totals.

    Raises:
        ConfigurationError: the model is not built and `input_shape` is missing or wrong.

    Example:

    >>> import keras, kerasx
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="tiny")
    >>> print(kerasx.viz.summary(model).splitlines()[0])
    Model: "tiny" (Sequential)
    """
    table = summary_table(model, expand_nested=expand_nested, input_shape=input_shape)
    return ModelSummary(table, show_trainable)
