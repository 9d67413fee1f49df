"""`kerasx demo`: the project's main job on its embedded data, end to end in a subprocess."""

from __future__ import annotations

import json

import pytest

from helpers import run_cli


@pytest.mark.slow
def test_demo_reaches_95_percent_writes_its_files_and_resumes(tmp_path):
    out = tmp_path / "demo"
    first = run_cli("demo", "--out", str(out), "--json", timeout=600)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["test_accuracy"] >= 0.95
    assert report["epochs_trained"] == 20 and report["resumed_from_epoch"] == 0
    for name in ("model.keras", "history.json", "summary.txt", "history.png", "model.png"):
        assert (out / name).stat().st_size > 500, name
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 20 and len(history["val_accuracy"]) == 20
    assert "digits_cnn" in (out / "summary.txt").read_text()

    # A second run with more epochs resumes after epoch 20 instead of starting over.
    second = run_cli("demo", "--out", str(out), "--epochs", "21", timeout=600)
    assert second.returncode == 0, second.stderr
    assert "resumed after epoch 20, trained 1 more" in second.stdout
    assert "test accuracy" in second.stdout
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 21


def test_demo_report_is_readable():
    from kerasx.cli._demo import DemoReport, format_report

    report = DemoReport(0.98, 0.07, 20, 0, 12.3, {"model": "out/model.keras"})
    text = format_report(report)
    assert "test accuracy  0.9800" in text
    assert "20 trained" in text
    assert "model  out/model.keras" in text
    assert "12.3 s" in text
