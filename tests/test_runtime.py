"""kerasx.runtime: devices, describe, mixed-precision policy, strategies, split_cpu."""

from __future__ import annotations

import json

import keras
import pytest
import tensorflow as tf

from kerasx import runtime
from kerasx.errors import ConfigurationError, DeviceError

from helpers import ROOT, run_python


@pytest.mark.parametrize(
    ("gpus", "policy"),
    [
        ([], "float32"),
        ([{"compute_capability": (6, 1)}], "float32"),
        ([{"compute_capability": (7, 0)}], "mixed_float16"),
        ([{"compute_capability": (7, 5)}, {"compute_capability": (8, 6)}], "mixed_float16"),
        ([{"compute_capability": (8, 0)}], "mixed_bfloat16"),
        ([{"compute_capability": (9, 0)}, {"compute_capability": (8, 9)}], "mixed_bfloat16"),
        ([{"compute_capability": None}], "float32"),
    ],
)
def test_policy_for_is_decided_by_the_slowest_gpu(gpus, policy):
    assert runtime.policy_for({"gpus": gpus}) == policy


def test_auto_policy_on_this_machine_matches_its_description():
    description = runtime.describe()
    assert runtime.mixed_precision_policy("auto") == runtime.policy_for(description)
    if not description["gpus"]:
        assert runtime.mixed_precision_policy("auto") == "float32"  # never mixed on CPU


def test_mixed_precision_policy_validates():
    assert runtime.mixed_precision_policy("mixed_float16") == "mixed_float16"
    with pytest.raises(ConfigurationError, match=r"Received: policy='half'"):
        runtime.mixed_precision_policy("half")


def test_enable_mixed_precision_sets_the_global_policy():
    assert runtime.enable_mixed_precision("mixed_bfloat16") == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert runtime.enable_mixed_precision() == runtime.mixed_precision_policy("auto")


def test_describe_is_json_and_matches_tensorflow():
    description = runtime.describe()
    json.dumps(description)
    assert description["tensorflow"] == tf.__version__
    assert description["keras"] == keras.__version__
    assert {"built_with_cuda", "cuda_version", "cudnn_version", "xla", "mixed_precision"} <= set(
        description
    )
    assert description["mixed_precision"]["current"] == "float32"
    assert any(d["type"] == "CPU" for d in description["devices"])
    assert len(description["gpus"]) == len(tf.config.list_physical_devices("GPU"))


def test_devices_lists_cpus():
    found = runtime.devices()
    assert found[0]["type"] == "CPU" and found[0]["index"] == 0
    assert found[0]["name"] == tf.config.list_physical_devices("CPU")[0].name


def test_strategy_choices():
    one = runtime.strategy("one")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert runtime.strategy(one) is one
    if not tf.config.list_physical_devices("GPU"):
        assert isinstance(runtime.strategy("auto"), tf.distribute.OneDeviceStrategy)
    assert runtime.global_batch_size(32, one) == 32
    with pytest.raises(ConfigurationError, match=r"strategy must be one of"):
        runtime.strategy("tpu-pod")
    with pytest.raises(ConfigurationError, match=r"per_replica must be a positive integer"):
        runtime.global_batch_size(0)


def test_bad_tf_config_is_explained(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigurationError, match=r"TF_CONFIG environment variable must be JSON"):
        runtime.strategy("auto")


def test_split_cpu_validates_its_argument():
    with pytest.raises(ConfigurationError, match=r"positive integer. Received: n=0"):
        runtime.split_cpu(0)


def test_split_cpu_in_a_fresh_process_and_too_late():
    code = (
        "from kerasx import runtime\n"
        "print(len(runtime.split_cpu(2)), len(runtime.split_cpu(2)))\n"
        "try:\n"
        "    runtime.split_cpu(3)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, isinstance(e.__cause__, RuntimeError), e)\n"
    )
    result = run_python(code, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = result.stdout.strip().splitlines()[-2:]
    assert first == "2 2"
    assert second.startswith("DeviceError True split_cpu must be called before")
    assert DeviceError.__name__ in second


def test_importing_runtime_does_not_import_tensorflow():
    code = "import sys, kerasx.runtime; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = run_python(code, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]


def test_model_strategy_answers_what_keras_keeps_private():
    # Keras keeps the strategy a model was created under in `_distribute_strategy`;
    # `model_strategy` reads public attributes only, outside and inside a strategy's scope.
    def sequential():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    plain = sequential()
    with one.scope():
        owned = sequential()
        unbuilt = keras.Sequential([keras.layers.Dense(1)])
    for model in (plain, owned, unbuilt):
        assert runtime.model_strategy(model) is model._distribute_strategy
    with one.scope():
        assert runtime.model_strategy(plain) is None
        assert runtime.model_strategy(owned) is one
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        assert runtime.model_strategy(owned) is one
