"""`output_layers`: the layer or operation computing each output, read from public attributes.

Keras records it in the private `KerasTensor._keras_history`; kerasx reads `model.layers`,
`model.output_names` and `model.operations` instead. The tests compare the two on the kinds
of models `kerasx.models.compile` meets, so a Keras that changes either shows here.
"""

from __future__ import annotations

import re

import keras
import pytest

from kerasx import models
from kerasx.errors import ConfigurationError
from kerasx.models._defaults import check_mixed_precision
from kerasx.models._tasks import output_info, output_layers, output_names


def _functional() -> keras.Model:
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
    size = keras.layers.Dense(1, name="size")(hidden)
    return keras.Model(inputs, [kind, size])


def _sequential() -> keras.Model:
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1, "sigmoid", name="p")]
    )


def _op_output() -> keras.Model:
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.ops.softmax(keras.layers.Dense(3)(inputs)))


def _nested() -> keras.Model:
    inner = _sequential()
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(2, name="shared")
    return keras.Model(inputs, {"p": inner(inputs), "a": shared(inputs), "b": shared(inputs)})


@pytest.mark.parametrize("make", [_functional, _sequential, _op_output, _nested])
def test_output_layers_are_the_operations_keras_records(make) -> None:
    model = make()
    recorded = [tensor._keras_history.operation for tensor in model.outputs]
    assert output_layers(model) == recorded
    assert output_names(model) == [op.name for op in recorded]


def test_a_softmax_op_output_is_a_multiclass_output() -> None:
    model = _op_output()
    assert output_info(model)[0].task == "multiclass"
    models.compile(model)


def test_a_float16_output_of_a_mixed_model_is_refused() -> None:
    keras.config.set_dtype_policy("mixed_float16")  # the isolation fixture restores float32
    model = _op_output()
    name = re.escape(output_layers(model)[0].name)  # the op, named by Keras's counter
    with pytest.raises(ConfigurationError, match=rf"output layer '{name}' computing in 'float16'"):
        check_mixed_precision(model, "auto", force=False)
