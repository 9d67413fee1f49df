"""`kerasx smoke`: exit codes, the JSON report, the time bound, and its argument checks.

The command runs in fresh subprocesses, as a CI runner calls it. This machine has no GPU, so
the GPU branch is exercised as "requested but missing" (exit 3); on a GPU runner the same
tests check that the GPU checks pass instead.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from kerasx.cli import EXIT_DEVICE_MISSING
from kerasx.cli._smoke import SmokeCheck, SmokeReport, run_smoke
from kerasx.errors import ConfigurationError
from kerasx.testing import gpu_available

from helpers import run_cli, slow_tests_selected

CPU_CHECKS = ["build", "train", "predict", "save_load"]

# The slow runs each import TensorFlow in a fresh process; they start together, in the
# background, while the fast tests of this module run.
RUNS = {
    "all": ("smoke", "--device", "all", "--json"),
    "gpu": ("smoke", "--device", "gpu", "--json"),
}


@pytest.fixture(scope="module", autouse=True)
def cli_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Future]]:
    """`kerasx` runs shared by this module's slow tests, started in parallel when selected."""
    if not slow_tests_selected(request):
        yield {}
        return
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        yield {name: pool.submit(run_cli, *args) for name, args in RUNS.items()}


def _result(cli_runs: dict[str, Future], name: str) -> subprocess.CompletedProcess:
    return cli_runs[name].result()


def test_exit_codes_of_a_report():
    passed = SmokeCheck("/CPU:0", "train", "pass", 0.1, "loss 1.0 -> 0.9 after 8 steps")
    failed = SmokeCheck("/CPU:0", "save_load", "fail", 0.1, "differ")
    missing = SmokeCheck("gpu", "devices", "fail", 0.0, "TensorFlow sees no GPU")
    assert SmokeReport("cpu", checks=[passed]).exit_code == 0
    assert SmokeReport("cpu", checks=[passed, failed]).exit_code == 1
    assert SmokeReport("gpu", checks=[missing], gpu_missing=True).exit_code == EXIT_DEVICE_MISSING
    assert SmokeReport("all", checks=[passed], gpu_missing=True).exit_code == 0
    assert SmokeReport("cpu", checks=[passed], timed_out=True).exit_code == 1


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigurationError, match=r"device must be one of.*Received: device='tpu'"):
        run_smoke("tpu")
    with pytest.raises(ConfigurationError, match=r"timeout must be a positive.*timeout=0"):
        run_smoke("cpu", timeout=0)


def test_non_positive_timeout_is_bad_usage():
    result = run_cli("smoke", "--timeout", "-1")
    assert result.returncode == 2
    assert "--timeout must be a positive number of seconds" in result.stderr


def test_timeout_bounds_the_whole_run():
    # 0.2 s is less than importing TensorFlow takes, so the bound must cut the run short.
    result = run_cli("smoke", "--json", "--timeout", "0.2", timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["timed_out"] is True
    assert report["exit_code"] == 1
    last = report["checks"][-1]
    assert last["name"] == "timeout"
    assert last["status"] == "fail"
    assert "did not finish within 0.2 s; still running: import" in last["detail"]
    assert "did not finish within 0.2 s" in result.stderr


@pytest.mark.slow
def test_smoke_all_runs_the_cpu_checks_and_reports_the_gpu(cli_runs):
    result = _result(cli_runs, "all")
    report = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(report, indent=2) + result.stderr
    assert report["ok"] is True
    assert report["requested"] == "all"
    assert report["devices"][0] == "/CPU:0"
    by_device: dict[str, dict[str, dict]] = {}
    for check in report["checks"]:
        assert set(check) == {"device", "name", "status", "seconds", "detail"}
        assert check["seconds"] >= 0
        by_device.setdefault(check["device"], {})[check["name"]] = check
    cpu = by_device["/CPU:0"]
    assert list(cpu) == CPU_CHECKS
    assert all(check["status"] == "pass" for check in cpu.values())
    assert "weights on CPU:0" in cpu["build"]["detail"]
    before, after = (float(x) for x in cpu["train"]["detail"].split()[1:4:2])
    assert after < before
    if gpu_available():
        assert report["gpu_missing"] is False
        assert by_device["/GPU:0"]["mixed_precision"]["status"] == "pass"
    else:
        assert report["gpu_missing"] is True
        assert by_device["gpu"]["devices"]["status"] == "skip"
        assert report["devices"] == ["/CPU:0"]


@pytest.mark.slow
def test_smoke_gpu_without_a_gpu_exits_3_with_a_message(cli_runs):
    result = _result(cli_runs, "gpu")
    report = json.loads(result.stdout)
    if gpu_available():
        assert result.returncode == 0, result.stdout + result.stderr
        assert all(check["status"] == "pass" for check in report["checks"])
        return
    assert result.returncode == EXIT_DEVICE_MISSING == 3
    assert report["gpu_missing"] is True
    assert report["exit_code"] == 3
    assert report["devices"] == []
    assert [check["name"] for check in report["checks"]] == ["import", "devices"]
    assert "--device gpu was requested but TensorFlow sees no GPU" in result.stderr
    assert "kerasx doctor" in result.stderr
