"""kerasx.viz.summary and summary_table: totals, subclassed models, text and HTML."""

from __future__ import annotations

import pytest

from kerasx.errors import ConfigurationError
from kerasx.viz import ModelSummary, summary, summary_table


def _models():
    import keras

    x1 = keras.Input((784,), name="x1")
    x2 = keras.Input((784,), name="x2")
    branches = [keras.layers.Dense(10)(x1), keras.layers.Dense(10)(x2)]
    merged = keras.layers.Concatenate(name="merged")(branches)
    functional = keras.Model([x1, x2], keras.layers.Dense(1)(merged), name="two_inputs")
    sequential = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ],
        name="with_bn",
    )
    return functional, sequential


class Subclassed:
    """Made inside a function so Keras is imported lazily."""

    @staticmethod
    def make():
        import keras

        class Net(keras.Model):
            def __init__(self):
                super().__init__(name="net")
                self.hidden = keras.layers.Dense(8, name="hidden")
                self.norm = keras.layers.BatchNormalization(name="norm")
                self.head = keras.layers.Dense(3, name="head")

            def call(self, inputs):
                return self.head(self.norm(self.hidden(inputs)))

        return Net()


def test_totals_equal_count_params_and_rows_describe_layers():
    functional, sequential = _models()
    table = summary_table(functional)
    assert table.totals["total"] == functional.count_params() == 15_721
    assert [row["class"] for row in table] == [
        "InputLayer",
        "InputLayer",
        "Dense",
        "Dense",
        "Concatenate",
        "Dense",
    ]
    assert table[2]["output_shape"] == "(None, 10)" and table[2]["params"] == 7_850
    assert table[4]["output_shape"] == "(None, 20)"
    assert table.totals["bytes"] == 15_721 * 4

    table = summary_table(sequential)
    assert table.totals["total"] == sequential.count_params()
    assert table.totals["non_trainable"] == 16  # BatchNormalization's moving mean and variance
    assert table.totals["trainable"] + table.totals["non_trainable"] == table.totals["total"]
    assert sum(row["params"] for row in table) == table.totals["total"]


def test_summary_text_and_html():
    functional, sequential = _models()
    text = summary(functional)
    assert isinstance(text, str) and isinstance(text, ModelSummary)
    lines = text.splitlines()
    assert lines[0] == 'Model: "two_inputs" (Functional)'
    assert "Total params: 15,721 (61.41 KB)" in text
    assert any(line.startswith("merged") and "(None, 20)" in line for line in lines)
    assert repr(text) == str(text)
    page = text._repr_html_()
    assert page.count("<tr>") == 1 + 6 and "15,721" in page
    bn = summary(sequential)
    assert "partly" in bn  # BatchNormalization: some weights train, some do not
    assert "Trainable" not in summary(sequential, show_trainable=False).splitlines()[2]


def test_expand_nested_lists_inner_layers():
    import keras

    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="i1")], name="inner")
    x = keras.Input((4,))
    outer = keras.Model(x, keras.layers.Dense(1, name="out")(inner(x)), name="outer")
    folded = summary_table(outer)
    expanded = summary_table(outer, expand_nested=True)
    assert "inner/i1" not in [row["name"] for row in folded]
    nested = [row for row in expanded if row["name"] == "inner/i1"]
    assert nested and nested[0]["depth"] == 1
    assert expanded.totals["total"] == outer.count_params() == 19
    assert "  inner/i1 (Dense)" in summary(outer, expand_nested=True)


def test_migration_row_summary_of_a_subclassed_model():
    """Migration guide row (docs/guides/migration.md):
    `model.summary()` of a subclassed model shows 0 / "unbuilt"."""
    model = Subclassed.make()
    keras_lines: list[str] = []
    model.summary(print_fn=lambda line, **_: keras_lines.append(line))
    assert "unbuilt" in "\n".join(keras_lines)

    with pytest.raises(ConfigurationError, match=r"not built yet.*input_shape=\(784,\)"):
        summary(model)
    text = summary(model, input_shape=(5,))
    assert model.count_params() == 8 * 5 + 8 + 4 * 8 + 3 * 8 + 3 == text.totals["total"]
    rows = {row["name"]: row for row in text.table}
    assert rows["hidden"]["output_shape"] == "(None, 8)"  # not "?"
    assert rows["head"]["output_shape"] == "(None, 3)"
    assert "unbuilt" not in text


def test_bad_input_shape_is_a_configuration_error():
    model = Subclassed.make()
    import keras

    sequential = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ConfigurationError, match=r"Could not build model .*input_shape="):
        summary(sequential, input_shape=(2, "x"))
    assert summary(sequential, input_shape=(4,)).totals["total"] == 10
    del model
