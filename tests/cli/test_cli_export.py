"""`kerasx export MODEL OUT`: safe load, export, check, report, exit codes."""

from __future__ import annotations

import importlib
import json
import os
from typing import NoReturn

import keras
import pytest

import kerasx
from kerasx import cli
from kerasx.cli._export import format_for

from helpers import run_cli

REQUIRE_EXPORT = os.environ.get("KERASX_REQUIRE_EXPORT") == "1"


def _unavailable(what: str, install: str) -> NoReturn:
    """Skip (or, under KERASX_REQUIRE_EXPORT=1, fail) a test that needs `what`."""
    if REQUIRE_EXPORT:
        pytest.fail(f"KERASX_REQUIRE_EXPORT=1 but {what}. Install it: {install}", pytrace=False)
    pytest.skip(f"{what} ({install}; CI installs it and sets KERASX_REQUIRE_EXPORT=1)")


def require_onnx() -> None:
    for module in ("tf2onnx", "onnx", "onnxruntime"):
        try:
            importlib.import_module(module)
        except ImportError:
            _unavailable(f"{module} is not installed", 'pip install -e ".[export]"')


@pytest.fixture
def model_file(tmp_path):
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    return kerasx.save(model, tmp_path / "model.keras")


def test_format_comes_from_the_option_or_the_suffix():
    assert format_for("out/model.onnx", None) == "onnx"
    assert format_for("out/model.TFLITE", None) == "litert"
    assert format_for("out/served", None) == "saved_model"
    assert format_for("out/model.onnx", "litert") == "litert"  # the library refuses the pair


def test_export_saved_model_prints_the_report(model_file, tmp_path, capsys):
    out = tmp_path / "served"
    assert cli.main(["export", str(model_file), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "format        saved_model" in printed and f"path          {out}" in printed
    assert "runtime       tensorflow" in printed and "max abs diff  " in printed
    assert (out / "saved_model.pb").exists()


@pytest.mark.slow
def test_export_onnx_as_json_from_a_real_process(model_file, tmp_path):
    require_onnx()
    out = tmp_path / "model.onnx"
    done = run_cli("export", str(model_file), str(out), "--atol", "1e-4", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "onnx" and report["path"] == str(out)
    assert report["runtime"] == "onnxruntime" and report["verified"] is True
    assert report["atol"] == 1e-4 and report["max_abs_diff"] <= 1e-4
    assert report["size_bytes"] == out.stat().st_size


@pytest.mark.slow
def test_no_verify_and_batch_size(model_file, tmp_path):
    out = tmp_path / "served"
    done = run_cli("export", str(model_file), str(out), "--no-verify", "--batch-size", "3")
    assert done.returncode == 0, done.stderr
    assert "verified      no (verify=False)" in done.stdout


def test_unsafe_model_is_refused_without_trusted(tmp_path, capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    path = kerasx.save(model, tmp_path / "lambda.keras")
    out = tmp_path / "served"
    assert cli.main(["export", str(path), str(out)]) == cli.EXIT_FAILURE
    assert "kerasx export: error: Refusing to load" in capsys.readouterr().err
    assert not out.exists()


def test_failed_export_exits_1_and_writes_nothing(tmp_path, capsys):
    require_onnx()
    model = keras.Sequential(
        [keras.Input((3,), dtype="int64"), keras.layers.Hashing(num_bins=4, name="hashing")]
    )
    path = kerasx.save(model, tmp_path / "hashing.keras")
    out = tmp_path / "model.onnx"
    assert cli.main(["export", str(path), str(out)]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("kerasx export: error: Cannot export to ONNX: layer 'hashing'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hashing.keras"]


def test_bad_usage_exits_2(model_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["export", str(model_file), str(tmp_path / "out"), "--format", "pb"])
    assert info.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'pb'" in capsys.readouterr().err


def test_missing_model_file_exits_1(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "none.keras"), str(tmp_path / "s")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
