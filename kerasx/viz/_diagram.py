"""`plot_model`: a model diagram with Graphviz when it is installed, pure Python when it is not.

Keras 3's `keras.utils.plot_model` needs both the `pydot` package and Graphviz's `dot` program,
and raises `ImportError` without them (and `keras.utils.vis_utils` no longer exists). kerasx
reads the model into one graph (`kerasx.viz._graph`) and draws it with either engine:

- `"graphviz"`: pydot + `dot`, Graphviz's layout;
- `"builtin"`: matplotlib only, with kerasx's layered layout (`kerasx.viz._layout`): one box per
  layer (name, class, output shape), one arrow per connection.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from kerasx._notebook import in_notebook
from kerasx.errors import ConfigurationError, MissingDependencyError

__all__ = ["graphviz_available", "plot_model"]

ENGINES = ("auto", "graphviz", "builtin")
RANKDIRS = ("TB", "LR", "BT", "RL")
FORMATS = ("png", "svg", "pdf")

FONT_SIZE = 9.0
CHAR_WIDTH = 0.602  # DejaVu Sans Mono advance width, in ems: boxes fit their text exactly
LINE_HEIGHT = 1.35
PADDING = 7.0
MIN_BOX_WIDTH = 72.0
MAX_PIXELS = 30000  # Agg refuses images above 2**16 pixels a side; stay well below
BOX_FACE = "#dcebf7"
BOX_EDGE = "#2f5f8a"
INPUT_FACE = "#dcebf7"
ARROW_COLOR = "#404040"


def graphviz_available() -> bool:
    """Whether the Graphviz engine can run: the `pydot` package and the `dot` program."""
    if shutil.which("dot") is None:
        return False
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return True


def _choose_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ConfigurationError(
            f"engine must be one of {', '.join(repr(e) for e in ENGINES)}. "
            f"Received: engine={engine!r}."
        )
    if engine == "auto":
        return "graphviz" if graphviz_available() else "builtin"
    if engine == "graphviz" and not graphviz_available():
        raise MissingDependencyError(
            "engine='graphviz' needs the pydot package and Graphviz's `dot` program on PATH. "
            f"Received: dot={shutil.which('dot')!r}. Install Graphviz (Debian/Ubuntu: "
            "`apt-get install graphviz`; macOS: `brew install graphviz`) and `pip install pydot`, "
            "or use engine='builtin' (pure Python, matplotlib only) or engine='auto'."
        )
    return engine


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ConfigurationError(
            "plot_model writes .png, .svg or .pdf files, chosen by the file's suffix. "
            f"Received: to_file={str(path)!r}. Give the file one of these suffixes."
        )
    return suffix


def _labels(node: Any, *, show_shapes: bool, show_dtype: bool, show_layer_names: bool) -> list[str]:
    lines = [node.name, node.class_name] if show_layer_names else [node.class_name]
    if show_shapes:
        lines.append(node.output_shape)
    if show_dtype:
        lines.append(node.dtype)
    return lines


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] | None = None,
    *,
    show_shapes: bool = True,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 96,
    engine: str = "auto",
    input_shape: Any = None,
) -> Any:
    """Draw a model's layers and connections, with or without Graphviz.

    The drop-in for the Keras 2 style `keras.utils.vis_utils.plot_model(...)` (gone in Keras 3)
    and for `keras.utils.plot_model`, which raises `ImportError` when Graphviz is missing. With
    `engine="auto"`, Graphviz is used when both `pydot` and the `dot` program are installed;
    otherwise the built-in matplotlib renderer draws the same boxes and arrows.

    Subclassed models are one box (their connections exist only in Python code); build them
    first or pass `input_shape=`.

    Args:
        model: a Keras model (Sequential, Functional, or subclassed).
        to_file: where to write the image; `.png`, `.svg` or `.pdf` by suffix. When `None`:
            inside a Jupyter kernel nothing is written and an `IPython.display.Image` (PNG) is
            returned to show inline; elsewhere `model.png` is written in the current directory,
            as Keras does. Defaults to `None`.
        show_shapes: show each layer's output shape. Defaults to `True`.
        show_dtype: show each layer's output dtype. Defaults to `False`.
        show_layer_names: show layer names above their class. Defaults to `True`.
        rankdir: direction of the flow: `"TB"` (top to bottom), `"LR"` (left to right), `"BT"`
            or `"RL"`. Defaults to `"TB"`.
        expand_nested: draw the layers of nested models instead of one box per nested model.
            Defaults to `False`.
        dpi: resolution of PNG output. Defaults to `96`.
        engine: `"auto"`, `"graphviz"` or `"builtin"`. Defaults to `"auto"`.
        input_shape: shape of one input sample (without batch), used to build an unbuilt model.
            Defaults to `None`.

    Returns:
        The `pathlib.Path` written, or an `IPython.display.Image` when `to_file` is `None` in a
        notebook.

    Raises:
        ConfigurationError: unknown `engine` or `rankdir`, unsupported suffix, or an unbuilt model
            without `input_shape`.
        MissingDependencyError: `engine="graphviz"` without pydot or the `dot` program.

    Example:

    >>> import keras, kerasx, tempfile, pathlib
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "model.png"
    >>> kerasx.viz.plot_model(model, out, engine="builtin") == out
    True
    """
    from kerasx.viz._graph import build_if_needed, model_graph

    if rankdir not in RANKDIRS:
        raise ConfigurationError(
            f"rankdir must be one of {', '.join(repr(r) for r in RANKDIRS)}. "
            f"Received: rankdir={rankdir!r}."
        )
    if int(dpi) <= 0:
        raise ConfigurationError(f"dpi must be a positive number. Received: dpi={dpi!r}.")
    chosen = _choose_engine(engine)
    inline = to_file is None and in_notebook()
    target = Path("model.png") if to_file is None else Path(os.fspath(to_file))
    file_format = "png" if inline else _format_of(target)
    build_if_needed(model, input_shape)
    graph = model_graph(model, expand_nested=expand_nested)
    options = {
        "show_shapes": show_shapes,
        "show_dtype": show_dtype,
        "show_layer_names": show_layer_names,
    }
    if chosen == "graphviz":
        data = _render_graphviz(graph, file_format, rankdir=rankdir, dpi=int(dpi), **options)
    else:
        data = _render_builtin(graph, file_format, rankdir=rankdir, dpi=int(dpi), **options)
    if inline:
        from IPython.display import Image

        return Image(data=data, format="png")
    from kerasx._atomic import atomic_write_bytes

    atomic_write_bytes(target, data)
    return target


# ---------------------------------------------------------------------------------------------
# Graphviz engine


def _dot_graph(graph: Any, *, rankdir: str, dpi: int, **options: bool) -> Any:
    import html

    import pydot

    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=str(dpi))
    dot.set_node_defaults(shape="plaintext", fontname="Helvetica", fontsize="11")
    dot.set_edge_defaults(color=ARROW_COLOR, arrowsize="0.7")
    for index, node in enumerate(graph.nodes):
        lines = [html.escape(line) for line in _labels(node, **options)]
        if options["show_layer_names"]:
            lines[0] = f"<b>{lines[0]}</b>"
        rows = "".join(f"<tr><td>{line}</td></tr>" for line in lines)
        label = (
            f'<<table border="1" cellborder="0" cellpadding="3" bgcolor="{BOX_FACE}" '
            f'color="{BOX_EDGE}" style="rounded">{rows}</table>>'
        )
        dot.add_node(pydot.Node(f"n{index}", label=label))
    index_of = {node.id: i for i, node in enumerate(graph.nodes)}
    for source, target in graph.edges:
        dot.add_edge(pydot.Edge(f"n{index_of[source]}", f"n{index_of[target]}"))
    return dot


def _render_graphviz(graph: Any, file_format: str, **kwargs: Any) -> bytes:
    dot = _dot_graph(graph, **kwargs)
    try:
        return bytes(dot.create(prog="dot", format=file_format))
    except Exception as error:  # pydot raises bare Exceptions and OSErrors
        raise MissingDependencyError(
            f"Graphviz's `dot` failed to draw the model. Received: dot={shutil.which('dot')!r}, "
            f"format={file_format!r}. Reinstall Graphviz or use engine='builtin'. "
            f"Graphviz said: {error}"
        ) from error


# ---------------------------------------------------------------------------------------------
# Built-in engine


def _box_size(lines: list[str]) -> tuple[float, float]:
    longest = max(len(line) for line in lines)
    width = max(MIN_BOX_WIDTH, longest * CHAR_WIDTH * FONT_SIZE + 2 * PADDING)
    height = len(lines) * LINE_HEIGHT * FONT_SIZE + 2 * PADDING
    return width, height


def diagram_layout(graph: Any, *, rankdir: str = "TB", **options: bool) -> tuple[Any, dict]:
    """The built-in engine's layout of `graph` and the text lines of each box.

    Args:
        graph: a `ModelGraph`.
        rankdir: flow direction. Defaults to `"TB"`.
        **options: `show_shapes`, `show_dtype`, `show_layer_names`.

    Returns:
        `(layout, lines)`: the `Layout` (boxes and arrows in points) and `{node_id: [lines]}`.
    """
    from kerasx.viz._layout import layout_graph

    options = {"show_shapes": True, "show_dtype": False, "show_layer_names": True, **options}
    lines = {node.id: _labels(node, **options) for node in graph.nodes}
    sizes = {node_id: _box_size(text) for node_id, text in lines.items()}
    layout = layout_graph([n.id for n in graph.nodes], sizes, graph.edges, rankdir=rankdir)
    return layout, lines


ARROW_LENGTH = 7.0
ARROW_HALF_WIDTH = 3.0


def _arrow_head(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A triangle whose tip is the last point, pointing along the last segment."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    bx, by = x1 - ux * ARROW_LENGTH, y1 - uy * ARROW_LENGTH
    return [
        (x1, y1),
        (bx - uy * ARROW_HALF_WIDTH, by + ux * ARROW_HALF_WIDTH),
        (bx + uy * ARROW_HALF_WIDTH, by - ux * ARROW_HALF_WIDTH),
    ]


def _render_builtin(
    graph: Any, file_format: str, *, rankdir: str, dpi: int, **options: bool
) -> bytes:
    import io

    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    layout, lines = diagram_layout(graph, rankdir=rankdir, **options)
    width, height = max(layout.width, 1.0), max(layout.height, 1.0)
    dpi = min(dpi, int(MAX_PIXELS * 72 / max(width, height))) or 1
    figure = Figure(figsize=(width / 72, height / 72), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_axis_off()
    for index, node in enumerate(graph.nodes):
        box = layout.boxes[node.id]
        # add_artist, not add_patch: the limits are fixed above, and add_patch would update
        # the data limits for every box.
        axes.add_artist(
            FancyBboxPatch(
                (box.x0, box.y0),
                box.x1 - box.x0,
                box.y1 - box.y0,
                boxstyle="round,pad=0,rounding_size=4",
                facecolor=BOX_FACE,
                edgecolor=BOX_EDGE,
                linewidth=1.0,
                gid=f"kerasx-box-{index}",
            )
        )
        # One text artist per box (not one per line): text drawing dominates the render time.
        axes.text(
            (box.x0 + box.x1) / 2,
            (box.y0 + box.y1) / 2,
            "\n".join(lines[node.id]),
            ha="center",
            va="center",
            multialignment="center",
            family="DejaVu Sans Mono",
            fontsize=FONT_SIZE,
            linespacing=LINE_HEIGHT,
            color="#10202f",
        )
    segments = [edge.points for edge in layout.edges]
    heads = [_arrow_head(edge.points) for edge in layout.edges]
    axes.add_collection(
        LineCollection(segments, colors=ARROW_COLOR, linewidths=1.0, gid="kerasx-edges")
    )
    axes.add_collection(
        PolyCollection(heads, facecolors=ARROW_COLOR, edgecolors="none", gid="kerasx-heads")
    )
    buffer = io.BytesIO()
    metadata = {"Date": None} if file_format == "svg" else None
    figure.savefig(buffer, format=file_format, dpi=dpi, metadata=metadata)
    return buffer.getvalue()
