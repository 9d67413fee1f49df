"""Every example of the article, run through kerasx on Keras 3: one test per example.

The workflow examples (save/load, compile, fit, evaluate, resume, debug) come first; the
model-building examples (section 2, model types, and section 3.6, layers) last, each built by
hand with `kerasx.layers` / `kerasx.models` (Keras's own classes) and with the kerasx builder
that replaces it, checked to agree.

Where the article's call fails on raw Keras 3, the test first shows that failure, so the
README's migration table stays true: if a future Keras fixes it, the test says so.
"""

from __future__ import annotations

import numpy as np
import pytest

import kerasx
from kerasx import callbacks, layers, models
from kerasx.data import DataGenerator


def _data(n: int = 96, features: int = 100, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    labels = (np.abs(x[:, :classes]).argmax(axis=1)).astype("int64")
    y = np.eye(classes, dtype="float32")[labels]
    return x, y


def _article_model():
    # Section 2.2's Sequential model, with an explicit Input instead of `input_dim=`.
    model = models.Sequential()
    model.add(layers.Input((100,)))
    model.add(layers.Dense(units=64, activation="relu"))
    model.add(layers.Dense(units=10, activation="softmax"))
    # Section 3.2 compiles it with 'mse', 'sgd' and 'accuracy'.
    model.compile(loss="mse", optimizer="sgd", metrics=["accuracy"])
    return model


def test_3_1_load_model_of_an_h5_compiled_with_mse(tmp_path, monkeypatch):
    import keras

    monkeypatch.chdir(tmp_path)
    x, y = _data()
    model = _article_model()
    model.fit(x, y, epochs=1, verbose=0)
    kerasx.models.save_model(model, "my_model.h5")

    with pytest.raises(Exception, match="mse"):
        keras.models.load_model("my_model.h5")  # what the article's call does on Keras 3

    loaded = kerasx.models.load_model("my_model.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6
    )


def test_3_1_model_from_json_then_load_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, _ = _data()
    model = _article_model()
    kerasx.models.save_model(model, "my_model.h5")
    with open("my_model.json", "w") as f:
        f.write(model.to_json())

    with open("my_model.json") as f:
        rebuilt = kerasx.models.model_from_json(f.read())
    kerasx.io.load_weights(rebuilt, "my_model.h5")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))


def test_3_1_save_weights_to_a_plain_h5_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, _ = _data()
    model = _article_model()
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights("my_model_weights.h5")  # the article's call on Keras 3

    kerasx.io.save_weights(model, "my_model_weights.h5")
    fresh = _article_model()
    assert not np.allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    kerasx.io.load_weights(fresh, "my_model_weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_3_1_model_save_to_a_directory_points_to_export(tmp_path):
    model = _article_model()
    with pytest.raises(kerasx.errors.ConfigurationError, match="export"):
        kerasx.io.save(model, tmp_path / "my_model_dir")


def test_3_2_compile_with_run_eagerly_trains(tmp_path):
    x, y = _data()
    model = _article_model()
    model.compile(loss="mse", optimizer="sgd", metrics=["accuracy"], run_eagerly=True)
    history = kerasx.fit(model, x, y, epochs=1, batch_size=32, progress=False)
    assert model.run_eagerly is True
    assert len(history.history["loss"]) == 1


def test_3_3_fit_with_validation_data_and_plot_the_history():
    x, y = _data()
    x_test, y_test = _data(seed=1)
    model = _article_model()
    history = kerasx.fit(
        model, x, y, epochs=2, validation_data=(x_test, y_test), progress=False
    )
    assert isinstance(history, kerasx.History)
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 2

    figure = kerasx.viz.plot_history(history)
    loss_axes = figure.axes[0]
    assert len(loss_axes.get_lines()) == 2  # train and validation
    np.testing.assert_allclose(loss_axes.get_lines()[0].get_ydata(), history.history["loss"])


def test_3_4_evaluate_and_predict():
    x, y = _data()
    model = _article_model()
    kerasx.fit(model, x, y, epochs=1, progress=False)
    score = model.evaluate(x, y, verbose=0)
    y_pred = model.predict(x, verbose=0)
    assert len(score) == 2 and 0.0 <= score[1] <= 1.0
    assert y_pred.shape == (len(x), 10)
    np.testing.assert_allclose(y_pred.sum(axis=1), 1.0, rtol=1e-5)


def test_3_5_checkpoint_and_early_stopping_callbacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _data()
    model = _article_model()
    # The article's callbacks, through kerasx's identity facade.
    checkpoint = callbacks.ModelCheckpoint("best_model.h5", verbose=0, save_best_only=True)
    earlystop = callbacks.EarlyStopping(patience=5, verbose=0)
    callbacks_list = [checkpoint, earlystop]
    model.fit(x, y, epochs=2, validation_split=0.25, callbacks=callbacks_list, verbose=0)
    # The best model of an 'mse'-compiled run: Keras 3 cannot load it back, kerasx can.
    restored = kerasx.models.load_model("best_model.h5")
    assert restored.count_params() == model.count_params()
    assert restored.compiled and restored.loss == "mse"


def test_3_5_resume_continues_where_it_stopped(tmp_path):
    x, y = _data()
    run_dir = tmp_path / "run"
    first = kerasx.fit(_article_model(), x, y, epochs=1, run_dir=run_dir, progress=False)
    assert first.epoch == [0]

    # A new process would build the model again; the run directory carries the state.
    resumed = _article_model()
    second = kerasx.fit(resumed, x, y, epochs=2, run_dir=run_dir, progress=False)
    assert second.resumed_from_epoch == 1 and second.trained_epochs == 1
    assert second.epoch == [0, 1]
    assert len(second.history["loss"]) == 2
    assert second.history["loss"][0] == pytest.approx(first.history["loss"][0])


def test_3_7_summary_of_the_model():
    model = _article_model()
    text = str(kerasx.viz.summary(model))
    assert "dense" in text
    assert f"{model.count_params():,}" in text


def test_3_7_plot_model_and_vis_utils_replacement(tmp_path):
    model = _article_model()
    path = kerasx.viz.plot_model(
        model, tmp_path / "model.png", show_shapes=True, show_layer_names=True, engine="builtin"
    )
    assert path.stat().st_size > 2_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_2_3_data_generator_loads_batches_from_a_python_generator():
    x, y = _data(n=64)

    def batches():
        for start in range(0, 64, 16):
            yield x[start : start + 16], y[start : start + 16]

    generator = DataGenerator.from_generator(batches, steps=4)
    model = _article_model()
    history = kerasx.fit(model, generator, epochs=2, progress=False)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()


# ---------------------------------------------------------------- building models


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
