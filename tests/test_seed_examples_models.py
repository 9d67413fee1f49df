"""The article's model-building examples, rebuilt through kerasx's facades and builders.

One test per example of the article (section 2, model types, and section 3.6, layers). Each
builds the article's model by hand with `kerasx.layers` / `kerasx.models` (which are Keras's
own classes) and with the kerasx builder that replaces it, and checks they agree.
"""

from __future__ import annotations

import numpy as np

from kerasx import layers, models


def test_sequential_dense_100_64_10():
    # The article: Sequential(); add(Dense(64, relu, input_dim=100)); add(Dense(10, softmax))
    model = models.Sequential()
    model.add(layers.Input((100,)))
    model.add(layers.Dense(units=64, activation="relu"))
    model.add(layers.Dense(units=10, activation="softmax"))
    built = models.mlp((100,), hidden=(64,), outputs=10)
    assert built.count_params() == model.count_params() == 7114
    assert [layer.units for layer in built.layers[1:]] == [64, 10]
    assert models.compile(built).loss.name == "sparse_categorical_crossentropy"
    x = np.zeros((3, 100), "float32")
    assert built.predict(x, verbose=0).shape == model.predict(x, verbose=0).shape == (3, 10)


def test_two_input_model_merged_by_concatenate():
    # The article: two Input(784), a Dense(10) on each, Concatenate, Dense(1).
    x1, x2 = layers.Input(shape=(784,)), layers.Input(shape=(784,))
    merged = layers.Concatenate()([layers.Dense(units=10)(x1), layers.Dense(units=10)(x2)])
    by_hand = models.Model(inputs=[x1, x2], outputs=layers.Dense(units=1)(merged))
    built = models.mlp(
        {"x1": (784,), "x2": (784,)}, hidden=(), outputs=1, branch=(10,), output_activation="linear"
    )
    assert built.count_params() == by_hand.count_params() == 15721
    assert isinstance(built.get_layer("concatenate"), layers.Concatenate)
    models.compile(built)  # a linear output: regression, mean squared error
    assert built.loss.name == "mean_squared_error"
    data = {"x1": np.ones((4, 784), "float32"), "x2": np.zeros((4, 784), "float32")}
    assert built.predict(data, verbose=0).shape == (4, 1)


def test_lstm_create_model_with_variable_length_input():
    # The article's create_model(): Input((None, 1)), LSTM(32, return_sequences=True),
    # LSTM(32), Dense(1, sigmoid); compiled with adam, binary_crossentropy, accuracy.
    def create_model():
        inputs = layers.Input(shape=(None, 1), name="input")
        x = layers.LSTM(32, return_sequences=True)(inputs)
        x = layers.LSTM(32)(x)
        output = layers.Dense(1, activation="sigmoid", name="output")(x)
        return models.Model(inputs=inputs, outputs=output)

    built = models.rnn((None, 1), units=(32, 32), outputs=1)
    assert built.count_params() == create_model().count_params()
    models.compile(built, optimizer="adam")
    assert built.loss.name == "binary_crossentropy"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 1)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")
    history = built.fit(x, y, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert built.predict(np.zeros((2, 11, 1)), verbose=0).shape == (2, 1)  # other length


def test_layer_list_input_conv_pool_dense_concatenate_dropout():
    # Section 3.6: Input, Conv2D(32, (3, 3), same, relu), MaxPooling2D((2, 2)), Dense(10,
    # softmax), Concatenate, Dropout(0.5), as one two-branch convnet.
    def branch(name):
        inputs = layers.Input(shape=(8, 8, 1), name=name)
        conv2d = layers.Conv2D(32, (3, 3), strides=(1, 1), padding="same", activation="relu")
        pooling = layers.MaxPooling2D(pool_size=(2, 2))(conv2d(inputs))
        return inputs, layers.Flatten()(pooling)

    (a, fa), (b, fb) = branch("a"), branch("b")
    concatenated = layers.Concatenate()([fa, fb])
    dropout = layers.Dropout(rate=0.5)(layers.Dense(units=16, activation="relu")(concatenated))
    by_hand = models.Model([a, b], layers.Dense(units=10, activation="softmax")(dropout))
    built = models.cnn({"a": (8, 8, 1), "b": (8, 8, 1)}, filters=(32,), dense=(16,), dropout=0.5)
    assert built.count_params() == by_hand.count_params()
    kinds = {type(layer).__name__ for layer in built.layers}
    assert {"InputLayer", "Conv2D", "MaxPooling2D", "Concatenate", "Dense", "Dropout"} <= kinds
    data = {"a": np.zeros((2, 8, 8, 1)), "b": np.ones((2, 8, 8, 1))}
    assert built.predict(data, verbose=0).shape == (2, 10)
