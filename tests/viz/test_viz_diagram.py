"""kerasx.viz.plot_model: Graphviz and the built-in renderer, real files looked at by the tests."""

from __future__ import annotations

import os
import shutil
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from kerasx.errors import ConfigurationError, MissingDependencyError
from kerasx.viz import plot_model
from kerasx.viz._diagram import BOX_FACE, diagram_layout
from kerasx.viz._graph import model_graph

REQUIRE_GRAPHVIZ = os.environ.get("KERASX_REQUIRE_GRAPHVIZ") == "1"


def two_input_model():
    """The article's model: two inputs, a Dense on each, Concatenate, a Dense head."""
    import keras

    x1 = keras.Input(shape=(784,), name="x1")
    x2 = keras.Input(shape=(784,), name="x2")
    y1 = keras.layers.Dense(units=10, name="y1")(x1)
    y2 = keras.layers.Dense(units=10, name="y2")(x2)
    merged = keras.layers.Concatenate(name="merged")([y1, y2])
    y = keras.layers.Dense(units=1, name="y")(merged)
    return keras.Model(inputs=[x1, x2], outputs=y, name="two_inputs")


def residual_two_heads():
    """A skip connection across two layers and two outputs: long arrows must avoid boxes."""
    import keras

    inputs = keras.Input((16,), name="features")
    h = keras.layers.Dense(16, name="d1")(inputs)
    h2 = keras.layers.Dense(16, name="d2")(h)
    h3 = keras.layers.Dense(16, name="d3")(h2)
    added = keras.layers.Add(name="add")([h, h3])
    head_a = keras.layers.Dense(3, name="head_a")(added)
    head_b = keras.layers.Dense(1, name="head_b")(added)
    return keras.Model(inputs, [head_a, head_b], name="residual")


def count_boxes(png: Path) -> int:
    """Connected regions of the box fill colour in a rendered PNG (4-neighbourhood)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    target = np.array([int(BOX_FACE[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    mask = np.abs(pixels - target).max(axis=-1) < 0.03
    seen = np.zeros_like(mask)
    regions = 0
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        seen[y, x] = True
        queue, size = deque([(y, x)]), 0
        while queue:
            cy, cx = queue.popleft()
            size += 1
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                inside = 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]
                if inside and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        regions += size > 100
    return regions


def assert_image(path: Path, min_bytes: int = 2_000) -> np.ndarray:
    import matplotlib.image

    assert path.is_file() and path.stat().st_size > min_bytes
    pixels = matplotlib.image.imread(path)
    assert 50 < pixels.shape[0] < 20_000 and 50 < pixels.shape[1] < 20_000
    assert pixels[..., :3].std() > 0.05, "the diagram is blank"
    return pixels


def assert_layout_readable(model, rankdir: str = "TB") -> None:
    graph = model_graph(model)
    layout, _ = diagram_layout(graph, rankdir=rankdir)
    boxes = list(layout.boxes.values())
    assert len(boxes) == len(graph.nodes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), f"boxes overlap: {a} {b}"
    assert len(layout.edges) == len(graph.edges)
    for edge in layout.edges:
        # Every arrow starts on its source box and ends on its target box ...
        source, target = layout.boxes[edge.source], layout.boxes[edge.target]
        assert _on_border(edge.points[0], source) and _on_border(edge.points[-1], target)
        # ... and crosses no other box on its way.
        others = [b for key, b in layout.boxes.items() if key not in (edge.source, edge.target)]
        for (x0, y0), (x1, y1) in zip(edge.points, edge.points[1:]):
            for t in np.linspace(0, 1, 25):
                x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                for box in others:
                    assert not (box.x0 < x < box.x1 and box.y0 < y < box.y1), "arrow hits a box"


def _on_border(point, box, tolerance=1e-6) -> bool:
    x, y = point
    inside = box.x0 - tolerance <= x <= box.x1 + tolerance
    inside &= box.y0 - tolerance <= y <= box.y1 + tolerance
    on_edge = min(abs(x - box.x0), abs(x - box.x1), abs(y - box.y0), abs(y - box.y1))
    return inside and on_edge < tolerance


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """Graphviz's `dot` really absent: PATH holds only an empty folder."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


def test_builtin_png_one_box_per_layer_one_arrow_per_connection(tmp_path):
    model = two_input_model()
    graph = model_graph(model)
    assert [n.name for n in graph.nodes] == ["x1", "x2", "y1", "y2", "merged", "y"]
    assert len(graph.edges) == 5
    out = plot_model(model, tmp_path / "two.png", engine="builtin", dpi=96)
    assert out == tmp_path / "two.png"
    assert_image(out)
    assert count_boxes(out) == len(model.layers) == 6
    assert_layout_readable(model)


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_builtin_layout_skip_connection_and_two_heads(rankdir, tmp_path):
    model = residual_two_heads()
    assert_layout_readable(model, rankdir)
    layout, _ = diagram_layout(model_graph(model), rankdir=rankdir)
    if rankdir == "LR":
        assert layout.width > layout.height
    else:
        assert layout.height > layout.width
    out = plot_model(model, tmp_path / f"res_{rankdir}.png", rankdir=rankdir, engine="builtin")
    assert count_boxes(out) == 7


def test_builtin_svg_and_pdf_by_suffix(tmp_path):
    model = two_input_model()
    svg = plot_model(model, tmp_path / "two.svg", engine="builtin").read_text()
    assert svg.count('id="kerasx-box-') == 6
    assert "kerasx-edges" in svg and "merged" in svg
    pdf = plot_model(model, tmp_path / "two.pdf", engine="builtin").read_bytes()
    assert pdf.startswith(b"%PDF")


def test_graphviz_engine(tmp_path):
    if shutil.which("dot") is None:
        if REQUIRE_GRAPHVIZ:
            pytest.fail("KERASX_REQUIRE_GRAPHVIZ=1 but Graphviz's `dot` is not on PATH.")
        pytest.skip("Graphviz `dot` is not installed (CI installs it and requires it)")
    model = two_input_model()
    png = plot_model(model, tmp_path / "two.png", engine="graphviz")
    assert_image(png)
    assert count_boxes(png) == 6
    svg = plot_model(model, tmp_path / "two.svg").read_text()  # auto picks Graphviz here
    assert svg.count('class="node"') == 6
    assert svg.count('class="edge"') == 5
    assert "kerasx-box-" not in svg


def test_without_dot_auto_falls_back_and_graphviz_engine_explains(no_dot, tmp_path):
    model = two_input_model()
    svg = plot_model(model, tmp_path / "auto.svg").read_text()
    assert svg.count('id="kerasx-box-') == 6  # the built-in renderer drew it
    with pytest.raises(MissingDependencyError, match="apt-get install graphviz") as info:
        plot_model(model, tmp_path / "gv.png", engine="graphviz")
    assert "engine='builtin'" in str(info.value)
    assert not (tmp_path / "gv.png").exists()


def test_migration_rows_vis_utils_and_plot_model_without_graphviz(no_dot, tmp_path):
    """Migration guide rows (docs/guides/migration.md):
    `keras.utils.vis_utils.plot_model` and `keras.utils.plot_model`."""
    import keras

    with pytest.raises(ImportError):
        from keras.utils import vis_utils  # noqa: F401  # the article's import, gone in Keras 3
    model = two_input_model()
    # Keras raises ImportError, or only prints a message when IPython is loaded: no image.
    try:
        keras.utils.plot_model(model, to_file=str(tmp_path / "keras.png"))
    except ImportError as error:
        assert "graphviz" in str(error)
    assert not (tmp_path / "keras.png").exists()
    out = plot_model(model, tmp_path / "kerasx.png", show_shapes=True, show_layer_names=True)
    assert count_boxes(out) == 6


def test_sequential_nested_and_subclassed(tmp_path):
    import keras

    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="i1"), keras.layers.Dense(3, name="i2")],
        name="inner",
    )
    x = keras.Input((4,), name="x")
    outer = keras.Model(x, keras.layers.Dense(1, name="out")(inner(x)), name="outer")
    folded = model_graph(outer)
    assert [n.name for n in folded.nodes] == ["x", "inner", "out"]
    assert len(folded.edges) == 2
    expanded = model_graph(outer, expand_nested=True)
    names = [n.name for n in expanded.nodes]
    assert {"inner/i1", "inner/i2", "out"} <= set(names)
    assert len(expanded.edges) == len(expanded.nodes) - 1  # a chain
    out = plot_model(outer, tmp_path / "nested.png", expand_nested=True, engine="builtin")
    assert count_boxes(out) == len(expanded.nodes)

    sequential = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    assert [n.class_name for n in model_graph(sequential).nodes] == ["InputLayer", "Dense", "Dense"]

    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(ConfigurationError, match=r"not built yet.*input_shape="):
        plot_model(Sub(), tmp_path / "sub.png", engine="builtin")
    out = plot_model(Sub(), tmp_path / "sub.png", engine="builtin", input_shape=(5,))
    assert count_boxes(out) == 1


def test_to_file_none_outside_a_notebook_writes_model_png(tmp_path, monkeypatch):
    import keras

    monkeypatch.chdir(tmp_path)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    assert plot_model(model, engine="builtin") == Path("model.png")
    assert_image(tmp_path / "model.png", min_bytes=500)


def test_argument_errors(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ConfigurationError, match=r"\.png, \.svg or \.pdf.*model\.gif"):
        plot_model(model, tmp_path / "model.gif")
    with pytest.raises(ConfigurationError, match=r"engine=.dots."):
        plot_model(model, tmp_path / "m.png", engine="dots")
    with pytest.raises(ConfigurationError, match=r"rankdir=.XY."):
        plot_model(model, tmp_path / "m.png", rankdir="XY")
    with pytest.raises(ConfigurationError, match="dpi=0"):
        plot_model(model, tmp_path / "m.png", dpi=0)
    assert list(tmp_path.iterdir()) == []
