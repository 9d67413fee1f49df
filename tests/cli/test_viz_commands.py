"""`kerasx summary`, `kerasx plot-model`, `kerasx plot-history`: real files, real processes."""

from __future__ import annotations

import json

import pytest

from kerasx import cli

from helpers import run_cli


@pytest.fixture
def saved_model(tmp_path):
    import keras

    x1 = keras.Input((784,), name="x1")
    x2 = keras.Input((784,), name="x2")
    merged = keras.layers.Concatenate(name="merged")(
        [keras.layers.Dense(10, name="y1")(x1), keras.layers.Dense(10, name="y2")(x2)]
    )
    model = keras.Model([x1, x2], keras.layers.Dense(1, name="y")(merged), name="two_inputs")
    path = tmp_path / "two.keras"
    model.save(path)
    return path, model.count_params()


@pytest.mark.slow
def test_summary_command_json(saved_model):
    path, params = saved_model
    result = run_cli("summary", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["totals"]["total"] == params
    assert [row["name"] for row in report["rows"]] == ["x1", "x2", "y1", "y2", "merged", "y"]


@pytest.mark.slow
def test_plot_model_command_builtin(saved_model, tmp_path):
    path, _ = saved_model
    out = tmp_path / "diagram.svg"
    result = run_cli("plot-model", str(path), "-o", str(out), "--engine", "builtin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_text().count('id="kerasx-box-') == 6


@pytest.mark.slow
def test_plot_history_command_from_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.5,0.7\n")
    out = tmp_path / "curves.png"
    result = run_cli("plot-history", str(run_dir), "-o", str(out), "--title", "run")
    assert result.returncode == 0, result.stderr
    import matplotlib.image

    pixels = matplotlib.image.imread(out)
    assert pixels.shape[0] > 100 and pixels[..., :3].std() > 0.02


def test_errors_exit_1_with_a_clean_message(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    assert cli.main(["plot-history", str(missing), "-o", str(tmp_path / "h.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kerasx plot-history: error: History log not found")
    assert cli.main(["plot-history", str(missing), "-o", str(tmp_path / "h.gif")]) == 1
    assert "Received: --output=" in capsys.readouterr().err
    assert cli.main(["summary", str(tmp_path / "nope.keras")]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_plot_model_refuses_unsafe_file_without_trusted(tmp_path, capsys):
    import keras

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    out = tmp_path / "lambda.png"
    assert cli.main(["plot-model", str(path), "-o", str(out), "--engine", "builtin"]) == 1
    assert "trusted" in capsys.readouterr().err
    assert not out.exists()
    arguments = ["plot-model", str(path), "-o", str(out), "--engine", "builtin"]
    assert cli.main([*arguments, "--trusted"]) == 0
    assert out.stat().st_size > 1000
