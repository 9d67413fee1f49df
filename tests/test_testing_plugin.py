"""The `kerasx.testing` pytest plugin, run on small test suites with pytest's `pytester`.

The plugin is opt-in: a suite that does not ask for it is untouched (its own `gpu` marker and
Keras's layer-name counters included); a suite that asks (`pytest_plugins` in its conftest, or
`-p kerasx.testing`) gets the marker, the option and the fixtures. Where the outcome depends on
the machine (a GPU or not), both branches assert what the plugin must do there.
"""

from __future__ import annotations

# Imported here, before any in-process pytester run: pytester restores `sys.modules` after each
# inner run, and NumPy and TensorFlow cannot be imported a second time in one process.
import keras  # noqa: F401
import pytest
import tensorflow  # noqa: F401

from kerasx.testing import REQUIRE_GPU_OPTION, gpu_available

pytest_plugins = ["pytester"]

OPT_IN = 'pytest_plugins = ["kerasx.testing"]\n'

ISOLATED = OPT_IN + """
import pytest

@pytest.fixture(autouse=True)
def _isolated(keras_isolation):
    yield
"""

GPU_SUITE = """
import pytest

@pytest.mark.gpu
def test_needs_gpu():
    import tensorflow as tf
    assert tf.config.list_physical_devices("GPU")

def test_plain():
    assert True
"""


def test_a_suite_that_did_not_opt_in_is_untouched(pytester):
    # The project's own `gpu` marker means something else, and its tests rely on Keras's
    # layer-name counter running on from one test to the next.
    pytester.makeini("[pytest]\nmarkers =\n    gpu: our own meaning: runs everywhere\n")
    pytester.makepyfile(
        """
        import keras
        import pytest

        def test_first_layer():
            assert keras.layers.Dense(2).name == "dense"

        def test_second_layer_counts_on():
            assert keras.layers.Dense(2).name == "dense_1"

        @pytest.mark.gpu
        def test_own_gpu_marker_runs():
            assert True
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    assert REQUIRE_GPU_OPTION not in help_text


@pytest.mark.parametrize("how", ["conftest", "-p"])
def test_opting_in_registers_the_marker_and_the_option(pytester, how):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    if how == "conftest":
        pytester.makeconftest(OPT_IN)
        result = pytester.runpytest("--markers")
    else:
        result = pytester.runpytest("-p", "kerasx.testing", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gpu: needs a GPU*--kerasx-require-gpu*"])


def test_gpu_tests_are_skipped_without_a_gpu(pytester):
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(GPU_SUITE)
    result = pytester.runpytest("-rs")
    if gpu_available():
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["*SKIPPED*needs a GPU; TensorFlow sees none*"])


def test_gpu_tests_fail_under_require_gpu(pytester):
    pytester.makeconftest(OPT_IN)
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
    pytester.makeconftest(ISOLATED)
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
    pytester.makeconftest(ISOLATED)
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


def test_isolation_applies_only_where_it_is_requested(pytester):
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(
        """
        import keras

        def test_builds_a_layer():
            assert keras.layers.Dense(2).name == "dense"

        def test_counter_runs_on_without_the_fixture():
            assert keras.layers.Dense(2).name == "dense_1"

        def test_isolated(keras_isolation):
            keras.config.set_dtype_policy("mixed_float16")
            assert keras.layers.Dense(2).name == "dense_2"

        def test_after_the_isolated_one():
            assert keras.config.dtype_policy().name == "float32"
            assert keras.layers.Dense(2).name == "dense"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_suites_without_keras_do_not_import_tensorflow(pytester):
    pytester.makeconftest(ISOLATED)
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
