"""Atomic file writes: a temporary file in the target's folder, fsync, then `os.replace`.

If the process dies at any moment, the file at the target path is either the previous complete
version or the new complete version, never a mix. Temporary files left by a killed writer are
removed by the next successful write to the same target.

Temporary names end with the target's own name (`.kerasx-tmp-<pid>-<token>-model.keras`), so
code that dispatches on the suffix (Keras does) sees the right one. A directory being replaced
is first renamed aside, to `.kerasx-tmp-<pid>-old.<token>-<name>`: if the new one cannot take
its place, it is renamed back; if the writer was killed in between, the next clean-up for that
target renames it back while the target is missing, and removes it only once a newer version
is in place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "fsync_path"]

_PREFIX = ".kerasx-tmp-"
_ASIDE = "old."
"""Starts the token of a previous directory renamed aside (plain tokens are hexadecimal)."""
_RELEASE_IN_BACKGROUND = 8 << 20
"""Old versions at least this large (bytes) are freed by a background thread."""


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file, or every file below a directory, and the directory entries, to disk."""
    path = Path(path)
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for name in files:
                _fsync_file(Path(root) / name)
            _fsync_dir(Path(root))
    else:
        _fsync_file(path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def _temporary_name(target: Path, token: str) -> Path:
    return target.parent / f"{_PREFIX}{os.getpid()}-{token}-{target.name}"


def _remove_stale_temporaries(target: Path) -> None:
    """Remove temporaries for `target` whose writing process no longer runs.

    A previous directory renamed aside by such a process is the user's last version: while
    `target` is missing it is renamed back to `target`, never removed.
    """
    pattern = f"{_PREFIX}*-{target.name}"
    for candidate in target.parent.glob(pattern):
        parts = candidate.name[len(_PREFIX) :].split("-", 2)
        if len(parts) != 3 or parts[2] != target.name:  # another target's, or not ours
            continue
        pid_text, token, _name = parts
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        if token.startswith(_ASIDE) and not os.path.lexists(target):
            with contextlib.suppress(OSError):
                os.replace(candidate, target)
            continue
        _remove(candidate)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write instead of `target`; on success it replaces `target`.

    The temporary path is in the same folder as `target` (so `os.replace` is atomic) and ends
    with `target`'s name. If the body raises, the temporary is removed and `target` is left as it
    was. The written file (or directory) is fsynced before the replace, and the folder after it.

    Args:
        target: the final path.

    Yields:
        The temporary path to write to. The body must create it.
    """
    target = Path(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(target, secrets.token_hex(4))
    try:
        yield temporary
        if not temporary.exists():
            raise FileNotFoundError(f"Nothing was written to the temporary file {temporary}.")
        fsync_path(temporary)
        if temporary.is_dir() and target.is_dir():
            _replace_directory(temporary, target)
        else:
            _replace_file(temporary, target)
        _fsync_dir(folder)
    except BaseException:
        _remove(temporary)
        raise
    _remove_stale_temporaries(target)


def _replace_file(new: Path, target: Path) -> None:
    """`os.replace(new, target)`; a large old version is freed off the caller's thread.

    Replacing drops the old file's last link, and the kernel frees its pages and blocks inside
    `os.replace` (about 90 ms for a 120 MB model here). Holding the old file open across the
    replace moves that work to the moment the descriptor is closed, which a daemon thread does.
    """
    old = None
    with contextlib.suppress(OSError):
        old = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
        info = os.fstat(old)
        if not stat.S_ISREG(info.st_mode) or info.st_size < _RELEASE_IN_BACKGROUND:
            os.close(old)
            old = None
    try:
        os.replace(new, target)
    finally:
        if old is not None:
            threading.Thread(target=os.close, args=(old,), daemon=True).start()


def _replace_directory(new: Path, target: Path) -> None:
    """Swap a directory in: the old one is renamed aside first, then removed.

    If the new one cannot be renamed into place, the old one is renamed back (best effort)
    and the error is raised.
    """
    aside = _temporary_name(target, _ASIDE + secrets.token_hex(4))
    os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(aside, target)
        raise
    _remove(aside)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as temporary, open(temporary, "wb") as f:
        f.write(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `target` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))
