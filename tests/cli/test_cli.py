"""The `kerasx` command line: help, version, usage errors."""

from __future__ import annotations

from kerasx import cli

from helpers import run_cli


def test_help_lists_every_command():
    result = run_cli("--help", timeout=60)
    assert result.returncode == 0
    for name in cli.COMMANDS:
        assert name in result.stdout


def test_every_command_has_its_own_help():
    parser = cli.build_parser()
    for name in cli.COMMANDS:
        sub = parser._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
        assert sub.description, name
        assert sub.format_help().startswith(f"usage: kerasx {name}")


def test_version():
    from kerasx import __version__

    result = run_cli("--version", timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"kerasx {__version__}"


def test_unknown_command_exits_2_with_the_choices():
    result = run_cli("trian", timeout=60)
    assert result.returncode == cli.EXIT_USAGE == 2
    assert "invalid choice: 'trian'" in result.stderr
    assert "demo" in result.stderr


def test_bad_option_exits_2_and_names_it():
    result = run_cli("demo", "--epochz", "3", timeout=60)
    assert result.returncode == 2
    assert "unrecognized arguments: --epochz" in result.stderr


def test_missing_command_exits_2():
    result = run_cli(timeout=60)
    assert result.returncode == 2
    assert "required: COMMAND" in result.stderr


def test_kerasx_error_is_reported_cleanly_with_exit_1(tmp_path):
    result = run_cli("demo", "--epochs", "0", "--out", str(tmp_path), timeout=120)
    assert result.returncode == cli.EXIT_FAILURE == 1
    assert "kerasx demo: error: --epochs must be at least 1. Received: epochs=0" in result.stderr
    assert "Traceback" not in result.stderr
