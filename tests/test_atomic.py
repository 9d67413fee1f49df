"""Atomic writes: the target is the old or the new version, never a mix; no leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from kerasx._atomic import atomic_path, atomic_write_bytes, atomic_write_text


def test_write_replaces_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "data.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_temporary_name_keeps_the_suffix_and_folder(tmp_path):
    target = tmp_path / "sub" / "model.weights.h5"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent
        assert temporary.name.endswith("model.weights.h5")
        assert temporary != target
        temporary.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_nothing_written_is_an_error_and_keeps_the_previous_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("keep")
    with pytest.raises(FileNotFoundError, match="Nothing was written"), atomic_path(target):
        pass
    assert target.read_text() == "keep"


def test_directories_are_swapped_whole(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_killed_writer_leaves_old_file_and_next_write_cleans_up(tmp_path):
    target = tmp_path / "blob.bin"
    atomic_write_bytes(target, b"A" * 1000)
    code = (
        "import sys, time\n"
        "from kerasx._atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as t:\n"
        "    f = open(t, 'wb'); f.write(b'B' * 10); f.flush()\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "writing"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    leftovers = [p for p in tmp_path.iterdir() if p.name != "blob.bin"]
    assert len(leftovers) == 1 and leftovers[0].name.endswith("blob.bin")
    assert target.read_bytes() == b"A" * 1000
    time.sleep(0.01)
    atomic_write_bytes(target, b"C")
    assert [p.name for p in tmp_path.iterdir()] == ["blob.bin"]
    assert target.read_bytes() == b"C"


def test_a_large_old_version_is_released_by_a_background_thread(tmp_path):
    import threading

    target = tmp_path / "big.bin"
    old = os.urandom(1 << 20) * 9  # above the 8 MiB threshold
    target.write_bytes(old)
    reader = open(target, "rb")  # noqa: SIM115 - someone still reading the old version
    fds_before = len(os.listdir("/proc/self/fd"))
    threads_before = set(threading.enumerate())
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert reader.read() == old  # the old version lives on for its readers
    reader.close()
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=10)
    # The descriptor kerasx held on the old version across the replace has been closed.
    assert len(os.listdir("/proc/self/fd")) == fds_before - 1
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_a_directory_that_cannot_take_the_targets_place_puts_the_old_one_back(
    tmp_path, monkeypatch
):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real_replace = os.replace
    calls = []

    def replace_failing_the_second_time(source, destination):
        calls.append((source, destination))
        if len(calls) == 2:  # the new directory into the target's place
            raise OSError("disk full")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace_failing_the_second_time)
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "new.txt").write_text("new")
    monkeypatch.undo()

    assert len(calls) == 3  # aside, the failed swap, back
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert (target / "old.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    return process.pid


def test_a_killed_writers_old_directory_is_put_back_not_removed(tmp_path):
    from kerasx._atomic import _remove_stale_temporaries

    target = tmp_path / "export"
    aside = tmp_path / f".kerasx-tmp-{_dead_pid()}-old.0123abcd-export"
    aside.mkdir()
    (aside / "old.txt").write_text("old")

    _remove_stale_temporaries(target)  # the target is missing: the writer died mid-swap

    assert (target / "old.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_a_killed_writers_old_directory_is_removed_once_a_new_version_is_in_place(tmp_path):
    target = tmp_path / "export"
    aside = tmp_path / f".kerasx-tmp-{_dead_pid()}-old.0123abcd-export"
    aside.mkdir()
    (aside / "old.txt").write_text("old")
    other = tmp_path / f".kerasx-tmp-{_dead_pid()}-0123abcd-v2-export"  # target "v2-export"
    other.write_text("not ours")

    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "new.txt").write_text("new")

    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["export", other.name])
