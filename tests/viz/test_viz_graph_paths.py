"""The two readers of a model's graph agree: Keras's live graph and the public configuration.

`kerasx.viz` reads connections, shapes and dtypes from Keras's private layer graph (the fast
path `live_model_graph`) and, on a Keras without it or with `KERASX_DISABLE_FAST_PATHS=1`,
from `model.get_config()` and the layers' public `input` / `output`. Diagrams and summaries
must not change with the path taken.
"""

from __future__ import annotations

import pytest

import kerasx._compat
from kerasx._compat.graph import LIVE_MODEL_GRAPH
from kerasx.viz._graph import model_graph
from kerasx.viz._summary import summary_table


def _shared_layer_and_op():
    import keras

    x = keras.Input((4,), name="x")
    shared = keras.layers.Dense(4, name="shared")
    y = shared(shared(x))
    return keras.Model(x, keras.layers.Add(name="add")([y, keras.ops.multiply(y, 2.0)]))


def _nested_two_in_two_out():
    import keras

    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    inner = keras.Model(
        [a, b],
        [keras.layers.Dense(2, name="da")(a), keras.layers.Dense(3, name="db")(b)],
        name="inner",
    )
    p, q = keras.Input((6,), name="p"), keras.Input((6,), name="q")
    left, right = inner([p, q])
    merged = keras.layers.Concatenate(name="cat")([left, right])
    return keras.Model({"p": p, "q": q}, keras.layers.Dense(1, name="head")(merged))


def _sequential_without_input():
    import keras

    model = keras.Sequential([keras.layers.Dense(4, name="d1"), keras.layers.Dense(2, name="d2")])
    model.build((None, 3))
    return model


def _describe(model, expand_nested):
    graph = model_graph(model, expand_nested=expand_nested)
    names = {node.id: node.name for node in graph.nodes}
    nodes = [(n.name, n.class_name, n.output_shape, n.dtype, n.params) for n in graph.nodes]
    edges = sorted((names[a], names[b]) for a, b in graph.edges)
    rows = [
        (r["name"], r["output_shape"]) for r in summary_table(model, expand_nested=expand_nested)
    ]
    return nodes, edges, rows


@pytest.mark.parametrize(
    "make", [_shared_layer_and_op, _nested_two_in_two_out, _sequential_without_input]
)
@pytest.mark.parametrize("expand_nested", [False, True])
def test_live_graph_and_public_configuration_agree(make, expand_nested, monkeypatch):
    model = make()
    live = _describe(model, expand_nested)
    monkeypatch.setenv(kerasx._compat.DISABLE_FAST_PATHS_ENV, "1")
    public = _describe(model, expand_nested)
    assert public == live
    assert live[1], "the model has connections"


def test_without_the_internals_kerasx_warns_once_and_draws_the_same(monkeypatch):
    model = _shared_layer_and_op()
    expected = _describe(model, False)
    monkeypatch.delenv(kerasx._compat.DISABLE_FAST_PATHS_ENV, raising=False)
    monkeypatch.setitem(kerasx._compat._PROBED, LIVE_MODEL_GRAPH, False)
    monkeypatch.setattr(kerasx._compat, "_WARNED", set())
    with pytest.warns(RuntimeWarning, match=r"fast path 'live_model_graph' is off"):
        assert _describe(model, False) == expected
