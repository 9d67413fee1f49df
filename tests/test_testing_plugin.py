"""The `kerasx.testing` pytest plugin, run on small test suites with pytest's `pytester`.

The plugin reaches the inner pytest runs through its `pytest11` entry point, as it reaches a
user's suite after `pip install kerasx`. Where the outcome depends on the machine (a GPU or
not), both branches assert what the plugin must do there.
"""

from __future__ import annotations

# Imported here, before any in-process pytester run: pytester restores `sys.modules` after each
# inner run, and NumPy and TensorFlow cannot be imported a second time in one process.
import keras  # noqa: F401
import pytest
import tensorflow  # noqa: F401

from kerasx.testing import REQUIRE_GPU_OPTION, gpu_available

pytest_plugins = ["pytester"]

GPU_SUITE = """
import pytest

@pytest.mark.gpu
def test_needs_gpu():
    import tensorflow as tf
    assert tf.config.list_physical_devices("GPU")

def test_plain():
    assert True
"""


def test_plugin_is_registered_through_its_entry_point(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gpu: needs a GPU*--kerasx-require-gpu*"])


def test_gpu_tests_are_skipped_without_a_gpu(pytester):
    pytester.makepyfile(GPU_SUITE)
    result = pytester.runpytest("-rs")
    if gpu_available():
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["*SKIPPED*needs a GPU; TensorFlow sees none*"])


def test_gpu_tests_fail_under_require_gpu(pytester):
    pytester.makepyfile(GPU_SUITE)
    result = pytester.runpytest(REQUIRE_GPU_OPTION)
    if gpu_available():
        result.assert_outcomes(passed=2)
        assert result.ret == pytest.ExitCode.OK
    else:
        result.assert_outcomes(passed=1, errors=1)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(
            [f"*{REQUIRE_GPU_OPTION} was given but TensorFlow sees no GPU*kerasx doctor*"]
        )


def test_tiny_model_trains_and_keras_state_is_isolated_between_tests(pytester):
    pytester.makepyfile(
        """
        import keras
        import numpy as np
        import pytest

        @pytest.fixture(autouse=True)
        def seeded():
            keras.utils.set_random_seed(0)

        def test_tiny_model_trains(tiny_model):
            model, (x, y) = tiny_model
            assert x.shape == (64, 4) and y.shape == (64,)
            assert set(np.unique(y)) <= {0, 1, 2}
            assert model.output_shape == (None, 3)
            before = model.evaluate(x, y, verbose=0)[0]
            history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
            after = model.evaluate(x, y, verbose=0)[0]
            assert len(history.history["loss"]) == 2
            assert after < before

        def test_sets_mixed_precision():
            keras.config.set_dtype_policy("mixed_float16")
            layer = keras.layers.Dense(2)
            assert layer.compute_dtype == "float16"
            assert layer.name == "dense"  # the tiny model's layers did not leak in

        def test_sees_float32_and_a_fresh_session():
            assert keras.config.dtype_policy().name == "float32"
            layer = keras.layers.Dense(2)
            assert layer.compute_dtype == "float32"
            assert layer.name == "dense"  # "dense_1" if the session had not been cleared
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_a_policy_set_before_the_test_is_what_is_restored(pytester):
    pytester.makepyfile(
        """
        import keras

        keras.config.set_dtype_policy("bfloat16")

        def test_changes_it():
            keras.config.set_dtype_policy("mixed_float16")

        def test_sees_the_original():
            assert keras.config.dtype_policy().name == "bfloat16"
            keras.config.set_dtype_policy("float32")
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_suites_without_keras_do_not_import_tensorflow(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_light():
            assert "tensorflow" not in sys.modules
            assert "keras" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
