"""Pin the public names of every kerasx module, so nothing leaks and nothing disappears
unnoticed. Changing a list here is an API change: it needs a CHANGELOG line (and, for a removal
or rename, a deprecation alias, see DESIGN.md)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "kerasx": [
        "DataGenerator", "History", "LRFinderResult", "__version__", "callbacks", "data",
        "datasets", "errors", "fit", "io", "layers", "load", "lr_find", "models",
        "plot_history", "plot_model", "runtime", "save", "seed_everything", "summary",
        "testing", "training", "viz",
    ],
    "kerasx.errors": [
        "ConfigurationError", "CorruptFileError", "DataError", "DeviceError", "ExportError",
        "KerasxError", "MissingDependencyError", "MissingFileError", "SerializationError",
        "TrainingError", "UnsafeModelError",
    ],
    "kerasx.io": [
        "ExportReport", "convert", "export", "from_json", "inspect", "load", "load_history",
        "load_weights", "save", "save_history", "save_weights", "to_json",
    ],
    "kerasx.viz": [
        "ModelSummary", "plot_history", "plot_model", "plot_weights", "summary",
        "summary_table", "weight_stats",
    ],
    "kerasx.data": ["DataGenerator"],
    "kerasx.datasets": ["DIGITS_TEST_SIZE", "DIGITS_TRAIN_SIZE", "load_digits"],
    "kerasx.training": [
        "History", "LRFinderResult", "fit", "last_seed", "lr_find", "seed_everything",
    ],
    "kerasx.runtime": [
        "MIXED_POLICIES", "STRATEGIES", "describe", "devices", "enable_mixed_precision",
        "global_batch_size", "mixed_precision_policy", "policy_for", "split_cpu", "strategy",
    ],
    "kerasx.testing": [
        "REQUIRE_GPU_OPTION", "gpu_available", "keras_isolation", "make_tiny_model",
        "pytest_addoption", "pytest_collection_modifyitems", "pytest_configure",
        "pytest_runtest_setup", "tiny_model",
    ],
    "kerasx.cli": [
        "COMMANDS", "EXIT_DEVICE_MISSING", "EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main",
    ],
}

# Facades: kerasx's own additions; everything else is the Keras module's, by identity.
FACADE_OWN = {
    "kerasx.layers": ["conv_block", "dense_block", "residual_block"],
    "kerasx.models": [
        "Input", "cnn", "compile", "load_model", "mlp", "model_from_json", "rnn", "save_model",
    ],
    "kerasx.callbacks": [
        "Checkpoint", "HistoryLogger", "LivePlot", "ProgressBar", "TensorBoardLogger",
        "WeightMonitor", "defaults",
    ],
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_module_all_is_pinned(name):
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PUBLIC[name])


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_listed_name_resolves(name):
    module = importlib.import_module(name)
    missing = [attr for attr in module.__all__ if not hasattr(module, attr)]
    assert missing == []


@pytest.mark.parametrize("name", sorted(FACADE_OWN))
def test_facade_own_names_are_pinned_and_resolve(name):
    module = importlib.import_module(name)
    assert sorted(module.OWN_NAMES) == sorted(FACADE_OWN[name])
    for attr in module.OWN_NAMES:
        assert getattr(module, attr) is not None


def test_public_names_are_documented():
    undocumented = []
    for name in [*PUBLIC, *FACADE_OWN]:
        module = importlib.import_module(name)
        names = PUBLIC.get(name) or FACADE_OWN[name]
        for attr in names:
            value = getattr(module, attr)
            if (callable(value) or isinstance(value, type)) and not (value.__doc__ or "").strip():
                undocumented.append(f"{name}.{attr}")
    assert undocumented == []
