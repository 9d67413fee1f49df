"""`kerasx doctor`: each check's rule on real environments, files and programs, and the command.

The pure checks take an `env` mapping, so they are tested here with real folders and real
programs but without touching `os.environ`; the command runs in fresh subprocesses.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from kerasx.cli._doctor_checks import (
    FAIL,
    OK,
    WARN,
    check_determinism,
    check_graphviz,
    check_keras_backend,
    check_keras_home,
    check_keras_mixing,
    check_legacy_keras,
    check_package,
    check_python,
    check_tensorboard,
    keras_home,
    requested_keras_backend,
)

from helpers import run_cli, run_python, slow_tests_selected

# The slow runs each import TensorFlow in a fresh process; they start together, in the
# background, while the fast tests of this module run.
KERAS_SETTINGS = ("KERAS_BACKEND", "KERAS_HOME", "TF_USE_LEGACY_KERAS")
RUNS = {
    "json": (("doctor", "--json"), {}),
    "jax": (("doctor",), {"KERAS_BACKEND": "jax"}),
}


@pytest.fixture(scope="module", autouse=True)
def cli_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future]]:
    """`kerasx doctor` runs shared by this module's slow tests, started in parallel."""
    if not slow_tests_selected(request):
        yield {}
        return
    # A fresh Keras home, and none of the machine's Keras settings: the user's own
    # `~/.keras/keras.json` or KERAS_BACKEND must not decide these tests.
    base = {k: v for k, v in os.environ.items() if k not in KERAS_SETTINGS}
    base["KERAS_HOME"] = str(tmp_path_factory.mktemp("keras_home"))
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        futures = {}
        for name, (args, extra_env) in RUNS.items():
            futures[name] = pool.submit(run_cli, *args, env={**base, **extra_env})
        yield futures


def _result(cli_runs: dict[str, Future], name: str) -> subprocess.CompletedProcess:
    return cli_runs[name].result()


EXPECTED_CHECKS = [
    "python",
    "tensorflow",
    "keras",
    "keras_backend",
    "tf_keras",
    "keras_mixing",
    "fast_paths",
    "devices",
    "cuda_build",
    "mixed_precision",
    "xla",
    "h5py",
    "pydot",
    "tensorboard",
    "graphviz",
    "determinism",
    "keras_home",
    "tested_range",
]


def test_python_below_3_11_fails_with_a_fix():
    check = check_python((3, 10, 4))
    assert check.status == FAIL
    assert "3.10.4" in check.detail
    assert "3.11" in check.fix
    assert check_python().status == OK


def test_keras_backend_from_the_environment_variable(tmp_path):
    env = {"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "jax"}
    assert requested_keras_backend(env) == ("jax", "KERAS_BACKEND")
    check = check_keras_backend(env)
    assert check.status == FAIL
    assert "backend='jax'" in check.detail
    assert "KERAS_BACKEND=tensorflow" in check.fix


def test_keras_backend_from_keras_json(tmp_path):
    config = tmp_path / "keras.json"
    config.write_text(json.dumps({"backend": "torch", "floatx": "float32"}))
    check = check_keras_backend({"KERAS_HOME": str(tmp_path)})
    assert check.status == FAIL
    assert str(config) in check.detail
    assert str(config) in check.fix


def test_keras_backend_defaults_to_tensorflow(tmp_path):
    env = {"KERAS_HOME": str(tmp_path / "new")}
    assert requested_keras_backend(env) == ("tensorflow", "default")
    assert check_keras_backend(env).status == OK
    (tmp_path / "keras.json").write_text("{not json")
    assert requested_keras_backend({"KERAS_HOME": str(tmp_path)}) == ("tensorflow", "default")


@pytest.mark.parametrize("value", ["1", "true", "True"])
def test_legacy_keras_without_tf_keras_fails(value):
    check = check_legacy_keras({"TF_USE_LEGACY_KERAS": value}, tf_keras_installed=False)
    assert check.status == FAIL
    assert "cannot be imported" in check.detail
    assert "Unset TF_USE_LEGACY_KERAS" in check.fix


def test_legacy_keras_with_tf_keras_warns_about_mixing():
    check = check_legacy_keras({"TF_USE_LEGACY_KERAS": "1"}, tf_keras_installed=True)
    assert check.status == WARN
    assert "do not mix" in check.detail


def test_keras_3_tf_keras_is_ok_and_named():
    import tensorflow as tf

    check = check_legacy_keras({"TF_USE_LEGACY_KERAS": "0"}, tf_keras_module=tf.keras)
    assert check.status == OK
    assert "Keras 3." in check.detail
    assert "TF_USE_LEGACY_KERAS='0'" in check.detail


def test_tf_keras_that_cannot_load_fails():
    check = check_legacy_keras({}, tf_keras_error="ImportError: Keras cannot be imported.")
    assert check.status == FAIL
    assert "Keras cannot be imported" in check.detail


def test_keras_and_tf_keras_loaded_together_warns():
    both = check_keras_mixing({"keras": object(), "tf_keras": object()})
    assert both.status == WARN
    assert "Import only one" in both.fix
    assert check_keras_mixing({"keras": object()}).status == OK
    assert check_keras_mixing({}).detail == "loaded: neither"


def test_keras_home_writable_folder_is_ok(tmp_path):
    check = check_keras_home({"KERAS_HOME": str(tmp_path)})
    assert check.status == OK
    assert "writable" in check.detail
    assert list(tmp_path.iterdir()) == []  # the probe file was removed


def test_keras_home_not_yet_created_is_judged_by_its_parent(tmp_path):
    home = tmp_path / "a" / "b"
    check = check_keras_home({"KERAS_HOME": str(home)})
    assert check.status == OK
    assert "does not exist yet" in check.detail
    assert not home.exists()  # the doctor creates nothing


def test_keras_home_under_a_file_is_not_writable(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    check = check_keras_home({"KERAS_HOME": str(blocker / "keras")})
    assert check.status == WARN
    assert "not writable" in check.detail
    assert "KERAS_HOME" in check.fix


def test_keras_home_default_is_under_home(tmp_path):
    assert keras_home({}).name == ".keras"
    assert keras_home({"KERAS_HOME": str(tmp_path)}) == tmp_path


def _script(path, body):
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_graphviz_version_is_read_from_dot(tmp_path):
    dot = _script(
        tmp_path / "dot",
        "import sys; sys.stderr.write('dot - graphviz version 9.9.9 (0)\\n')",
    )
    check = check_graphviz(dot)
    assert check.status == OK
    assert "graphviz version 9.9.9" in check.detail


def test_graphviz_broken_or_missing_warns(tmp_path):
    broken = _script(tmp_path / "dot", "import sys; sys.stderr.write('boom'); sys.exit(4)")
    check = check_graphviz(broken)
    assert check.status == WARN
    assert "exited 4" in check.detail
    assert "apt-get install graphviz" in check.fix
    missing = check_graphviz(str(tmp_path / "absent" / "dot"))
    assert missing.status == WARN
    assert "did not run" in missing.detail


def test_determinism_reports_flags():
    check = check_determinism({"TF_DETERMINISTIC_OPS": "1"}, op_determinism=True)
    assert check.status == OK
    assert "TF_DETERMINISTIC_OPS='1'" in check.detail
    assert "op determinism enabled" in check.detail


def test_package_check_fails_for_a_required_package_and_warns_for_an_optional_one():
    installed = check_package("h5py", required=True, purpose="saving", fix="pip install h5py")
    assert installed.status == OK
    assert installed.detail.startswith("h5py ")
    absent = "kerasx_no_such_package"
    required = check_package(absent, required=True, purpose="saving", fix="install it")
    assert (required.status, required.fix) == (FAIL, "install it")
    assert required.detail == f"{absent} is not installed (saving)"
    assert check_package(absent, required=False, purpose="plots", fix="").status == WARN


def test_tensorboard_check_reports_the_version_or_how_to_install_the_extra():
    from importlib.metadata import version

    here = check_tensorboard()  # the dev extra installs it
    assert here.status == OK
    assert here.detail.startswith(f"tensorboard {version('tensorboard')}")
    missing = check_tensorboard("2.21.0", importable=False)
    assert missing.status == WARN
    assert "kerasx.fit writes no TensorBoard logs" in missing.detail
    assert 'pip install "kerasx[tensorboard]"' in missing.fix
    assert "tensorboard=False" in missing.fix


def test_tensorboard_check_warns_when_the_package_cannot_be_imported():
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "from kerasx.cli._doctor_checks import check_tensorboard\n"
        "check = check_tensorboard(); print(check.status, '|', check.fix)"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    status, fix = result.stdout.strip().split(" | ")
    assert status == WARN
    assert 'pip install "kerasx[tensorboard]"' in fix


def test_version_tuple_reads_the_leading_numbers():
    from kerasx._compat import version_tuple

    assert version_tuple("2.21.0") == (2, 21, 0)
    assert version_tuple("2.21.0rc1") == (2, 21, 0)
    assert version_tuple("3.15.1.dev2024") == (3, 15, 1)
    assert version_tuple("2.x") == (2,)


@pytest.mark.slow
def test_doctor_json_on_this_machine(cli_runs):
    result = _result(cli_runs, "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [check["name"] for check in report["checks"]] == EXPECTED_CHECKS
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in {"ok", "warn"}, check
    facts = report["facts"]
    assert facts["tensorflow"].startswith("2.")
    assert facts["keras"].startswith("3.")
    assert facts["keras_backend"] == "tensorflow"
    assert facts["runtime"]["tensorflow"] == facts["tensorflow"]
    assert isinstance(facts["gpus"], list)
    assert "is_cuda_build" in facts["build"]
    from kerasx._compat import fast_paths

    assert set(facts["fast_paths"]) == set(fast_paths())


@pytest.mark.slow
def test_doctor_fails_on_another_keras_backend(cli_runs):
    result = _result(cli_runs, "jax")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  keras_backend" in result.stdout
    assert "fix: Unset KERAS_BACKEND" in result.stdout
    assert "kerasx is not usable here" in result.stderr
    assert "keras_backend: kerasx needs the TensorFlow backend" in result.stderr


def test_tested_range_is_ok_inside_and_warns_outside():
    from kerasx._compat import TESTED_KERAS, TESTED_TENSORFLOW
    from kerasx.cli._doctor_checks import check_tested_range

    inside = check_tested_range(TESTED_TENSORFLOW[0], TESTED_KERAS[0])
    assert inside.status == OK and TESTED_KERAS[1] in inside.detail
    newer = check_tested_range(TESTED_TENSORFLOW[1], "99.0.0")
    assert newer.status == WARN
    assert newer.detail.startswith("Keras 99.0.0 outside the range")
    assert f"keras=={TESTED_KERAS[1]}" in newer.fix
    older = check_tested_range("2.1.0", "3.0.0")
    assert older.status == WARN and "TensorFlow 2.1.0 and Keras 3.0.0" in older.detail
    assert check_tested_range(None, None).status == OK  # their own checks fail instead
    short = TESTED_KERAS[0].rsplit(".", 1)[0]  # "3.12" is 3.12.0
    assert check_tested_range(TESTED_TENSORFLOW[0], short).status == OK


def test_fast_paths_check_warns_only_for_missing_internals():
    from kerasx.cli._doctor import _check_fast_paths

    on = {"zip": {"active": True, "reason": ""}}
    assert _check_fast_paths(on).status == OK
    missing = {"zip": {"active": False, "reason": "this Keras lacks the internals it needs"}}
    result = _check_fast_paths(missing)
    assert result.status == WARN and "zip (this Keras lacks" in result.detail
    disabled = {"zip": {"active": False, "reason": "KERASX_DISABLE_FAST_PATHS is set"}}
    assert _check_fast_paths(disabled).status == OK
