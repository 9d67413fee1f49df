"""Which targets a multiclass output takes: integer class ids (sparse) or one-hot rows.

`compile(labels="auto")` compiles for class ids; `resolve_labels(model, y)` (in
`kerasx.models._compile`) switches to one-hot targets, or class probabilities, when it sees
them. An explicit categorical or sparse categorical crossentropy loss chooses the labels of
its output itself. This module holds those decisions; recompiling is `compile`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kerasx.errors import ConfigurationError
from kerasx.models._tasks import OutputInfo, loss_name

__all__ = [
    "LABELS",
    "check_labels",
    "has_class_axis",
    "labels_of_loss",
    "labels_of_targets",
    "loss_labels",
    "targets_per_output",
]

LABELS: tuple[str, ...] = ("auto", "sparse", "onehot")
"""The values `compile`'s `labels` argument takes."""

_LOSS_LABELS = {
    "categoricalcrossentropy": "onehot",
    "categoricalfocalcrossentropy": "onehot",
    "sparsecategoricalcrossentropy": "sparse",
}
_KINDS = {"onehot": "one-hot rows", "sparse": "integer class ids"}


def check_labels(labels: Any) -> None:
    """Refuse a `labels` value that is not one of `LABELS`.

    Args:
        labels: the value given to `compile`.

    Raises:
        ConfigurationError: if `labels` is not `"auto"`, `"sparse"` or `"onehot"`.
    """
    if labels not in LABELS:
        raise ConfigurationError(
            f"`labels` must be one of {list(LABELS)}. Received: labels={labels!r}."
        )


def labels_of_loss(loss: Any) -> str | None:
    """The labels a categorical crossentropy loss implies.

    Args:
        loss: a loss name, object or function, or None.

    Returns:
        `"onehot"` for (focal) categorical crossentropy, `"sparse"` for sparse categorical
        crossentropy, None for any other loss.
    """
    name = loss_name(loss) if loss is not None else None
    return _LOSS_LABELS.get(name.replace("_", "")) if name else None


def loss_labels(
    tasks: Mapping[str, str], losses: Mapping[str, Any], labels: str, force: bool
) -> dict[str, str]:
    """The labels that each multiclass output's explicit loss sets (its metrics follow it).

    Args:
        tasks: `{output name: task}`.
        losses: `{output name: explicit loss or None}`.
        labels: the `labels` argument of `compile`.
        force: accept a loss that contradicts an explicit `labels`.

    Returns:
        `{output name: "onehot" or "sparse"}` for the outputs whose loss implies labels.

    Raises:
        ConfigurationError: if a loss contradicts an explicit `labels` and `force` is False.
    """
    chosen: dict[str, str] = {}
    for name, task in tasks.items():
        implied = labels_of_loss(losses[name]) if task == "multiclass" else None
        if implied is None:
            continue
        if labels != "auto" and implied != labels and not force:
            raise ConfigurationError(
                f"The loss of output {name!r} takes {_KINDS[implied]} as targets, but "
                f"labels={labels!r} says they are {_KINDS[labels]}. Received: "
                f"loss={losses[name]!r}, labels={labels!r}. Drop one of the two (an explicit "
                "loss sets the labels), or pass force=True."
            )
        chosen[name] = implied
    return chosen


def has_class_axis(y: Any, info: OutputInfo) -> bool:
    """Whether targets `y` have the output's own shape, a class axis of `units` last.

    Such targets are one-hot rows or class probabilities, which only a categorical loss
    takes, rather than class ids (one axis fewer, or a last axis of 1).

    Args:
        y: the targets of one output: anything with a `shape`.
        info: the output.

    Returns:
        True for one-hot rows or class probabilities.
    """
    shape = getattr(y, "shape", None)
    if shape is None or getattr(shape, "rank", 0) is None or info.units < 2:
        return False
    return len(shape) == info.rank and shape[-1] == info.units


def targets_per_output(y: Any, names: list[str]) -> dict[str, Any]:
    """`{output name: targets}` from what `fit` was given.

    Args:
        y: a dict `{output name: targets}`, a list or tuple in output order (for several
            outputs), or the targets of a single output.
        names: the model's output names.

    Returns:
        The targets of each output found in `y`.
    """
    if isinstance(y, Mapping):
        return dict(y)
    if isinstance(y, list | tuple) and len(names) > 1:
        return dict(zip(names, y))
    return {names[0]: y}


def labels_of_targets(infos: list[OutputInfo], targets: Mapping[str, Any]) -> str | None:
    """The labels that targets call for.

    Args:
        infos: the multiclass outputs.
        targets: `{output name: targets}`.

    Returns:
        `"onehot"` when the targets of every output in `infos` have a class axis (see
        `has_class_axis`), `"sparse"` otherwise, None when the targets of one of them are
        missing or have no `shape` (a dataset, a generator).
    """
    answers = set()
    for info in infos:
        target = targets.get(info.name)
        if target is None or not hasattr(target, "shape"):
            return None
        answers.add(has_class_axis(target, info))
    return "onehot" if answers == {True} else "sparse"
